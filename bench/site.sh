#!/usr/bin/env bash
# Benchmark: orderly site shutdown on a UPS "battery low" (real upsd with dummy-ups) of a three-host lab with 12
# guests (4 HA), then a cold start in mixed order (a host, the manager restarted, the other hosts 10-20 s apart):
# time until every guest answers after the last host started, hosts fenced and guests lost.
# Needs root (network namespaces). Prints Markdown tables for docs/benchmarks.md.
#   bench/site.sh [runs]        (default 2)
source "$(dirname "$0")/lib.sh"
bench_run --root --appliance SiteBench "${1:-2}"
