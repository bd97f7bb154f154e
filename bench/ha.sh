#!/usr/bin/env bash
# Benchmark: power loss of a lab host running 4 HA guests until every guest answers again on another host
# (p50/p95 over repeated runs), split into detection, fencing and restart; with and without a fence agent.
# Needs root (a three-host lab in network namespaces). Prints Markdown tables for docs/benchmarks.md.
#   bench/ha.sh [runs per case]        (default 5)
source "$(dirname "$0")/lib.sh"
bench_run --root --appliance HaBench "${1:-5}"
