#!/usr/bin/env bash
# Benchmark: API create+start until the guest service answers (sequential and 4 at once) against bare QEMU
# in the same run, and the idle memory of manager and agent. Prints a Markdown table for docs/benchmarks.md.
#   bench/vm-start.sh [runs]        (default 10)
source "$(dirname "$0")/lib.sh"
bench_run --appliance VmStartBench "${1:-10}"
