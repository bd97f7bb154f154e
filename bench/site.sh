#!/usr/bin/env bash
# Benchmark: orderly site shutdown on a UPS "battery low" (real upsd with dummy-ups) of a three-host lab with 12
# guests (4 HA), then a cold start in mixed order (a host, the manager restarted, the other hosts 10-20 s apart):
# time until every guest answers after the last host started, hosts fenced and guests lost.
# Needs root (network namespaces). Prints Markdown tables for docs/benchmarks.md.
#   bench/site.sh [runs]        (default 2)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ "$(id -u)" = 0 ] || { echo "bench/site.sh needs root (network namespaces)" >&2; exit 1; }
./carevisor deps >/dev/null
./carevisor appliance >/dev/null
export JAVA_HOME=$(./carevisor java-home)
mvn -q -B package -DskipTests -pl bench -am
exec "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "bench/target/classes:bench/target/lib/*" \
  -Dcarevisor.appliance="$ROOT/build/appliance/carevisor-appliance.qcow2" \
  org.carevisor.bench.SiteBench "${1:-2}"
