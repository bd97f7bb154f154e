#!/usr/bin/env bash
# Benchmark: linked-clone deploy to guest ready vs bare overlay boot, full clone of 2 GiB vs qemu-img convert and cp,
# and the guest pause of memory snapshots of a 512 MiB guest. Prints Markdown tables for docs/benchmarks.md.
#   bench/templates.sh [runs]        (default 10)
source "$(dirname "$0")/lib.sh"
bench_run --appliance TemplateBench "${1:-10}"
