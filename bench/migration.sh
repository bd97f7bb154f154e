#!/usr/bin/env bash
# Benchmark: live migration of a 512 MiB guest (idle, and rewriting memory) through Carevisor against the
# same migration with bare QEMU commands in the same run, and the time to evacuate a host running 8 VMs.
# Needs root (a three-host lab in network namespaces). Prints Markdown tables for docs/benchmarks.md.
#   bench/migration.sh [runs] [dirty-MiB]        (default 5 and 32)
source "$(dirname "$0")/lib.sh"
bench_run --root --appliance MigrationBench "${1:-5}" "${2:-32}"
