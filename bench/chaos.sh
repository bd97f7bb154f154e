#!/usr/bin/env bash
# Fault campaign: a three-host lab with 6 guests (3 HA) takes random faults (agent, QEMU and watchdog killed or
# frozen, a host's network cut, a host's power lost, the manager killed, also during an HA recovery, the whole site
# power-cycled) while an operator snapshots, migrates, stops and starts and invariants are checked all the time.
# Needs root (network namespaces). Prints Markdown tables for docs/benchmarks.md; exit code 1 on any violation.
#   bench/chaos.sh [minutes] [seed] [fault kinds]   (default 60 min, seed from the clock, every kind)
# A failing run prints its seed: run again with it to replay the same faults, targets and holds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ "$(id -u)" = 0 ] || { echo "bench/chaos.sh needs root (network namespaces)" >&2; exit 1; }
./carevisor deps >/dev/null
./carevisor appliance >/dev/null
export JAVA_HOME=$(./carevisor java-home)
mvn -q -B package -DskipTests -pl bench -am
exec "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "bench/target/classes:bench/target/lib/*" \
  -Dcarevisor.appliance="$ROOT/build/appliance/carevisor-appliance.qcow2" \
  org.carevisor.bench.ChaosBench "${1:-60}" "${2:-}" "${3:-}"
