#!/usr/bin/env bash
# Fault campaign: a three-host lab with 6 guests (3 HA) takes random faults (agent, QEMU and watchdog killed or
# frozen, a host's network cut, a host's power lost, the manager killed, also during an HA recovery, the whole site
# power-cycled, the shared storage run full or unreachable) while an operator snapshots, migrates, stops and starts and invariants
# are checked all the time.
# Needs root (network namespaces). Prints Markdown tables for docs/benchmarks.md; exit code 1 on any violation.
#   bench/chaos.sh [minutes] [seed] [fault kinds]   (default 60 min, seed from the clock, every kind)
# A failing run prints its seed: run again with it to replay the same faults, targets and holds.
source "$(dirname "$0")/lib.sh"
bench_run --root --appliance ChaosBench "${1:-60}" "${2:-}" "${3:-}"
