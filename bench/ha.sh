#!/usr/bin/env bash
# Benchmark: power loss of a lab host running 4 HA guests until every guest answers again on another host
# (p50/p95 over repeated runs), split into detection, fencing and restart; with and without a fence agent.
# Needs root (a three-host lab in network namespaces). Prints Markdown tables for docs/benchmarks.md.
#   bench/ha.sh [runs per case]        (default 5)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ "$(id -u)" = 0 ] || { echo "bench/ha.sh needs root (network namespaces)" >&2; exit 1; }
./carevisor deps >/dev/null
./carevisor appliance >/dev/null
export JAVA_HOME=$(./carevisor java-home)
mvn -q -B package -DskipTests -pl bench -am
exec "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "bench/target/classes:bench/target/lib/*" \
  -Dcarevisor.appliance="$ROOT/build/appliance/carevisor-appliance.qcow2" \
  org.carevisor.bench.HaBench "${1:-5}"
