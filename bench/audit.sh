#!/usr/bin/env bash
# Benchmark: audit trail append rate with hash chaining on H2 (alone and under a VM-operation workload)
# and the time to verify a chain of one million records. Prints a Markdown table for docs/benchmarks.md.
#   bench/audit.sh [seconds per case] [records to verify]     (default 10 and 1000000)
source "$(dirname "$0")/lib.sh"
bench_run AuditBench "${1:-10}" "${2:-1000000}"
