#!/usr/bin/env bash
# Benchmark: importing an export file (POST /vm-imports until the task is done) against bare tar -xf + sha256sum
# of the same file in the same run. Prints a Markdown table with the ratio for docs/benchmarks.md.
#   bench/import.sh [runs] [data disk MiB]       (default 5 and 1024)
source "$(dirname "$0")/lib.sh"
bench_run --appliance ImportBench "${1:-5}" "${2:-1024}"
