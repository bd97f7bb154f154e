#!/usr/bin/env bash
# Benchmark: live migration of a 512 MiB guest (idle, and rewriting memory) through Carevisor against the
# same migration with bare QEMU commands in the same run, and the time to evacuate a host running 8 VMs.
# Needs root (a three-host lab in network namespaces). Prints Markdown tables for docs/benchmarks.md.
#   bench/migration.sh [runs] [dirty-MiB]        (default 5 and 32)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ "$(id -u)" = 0 ] || { echo "bench/migration.sh needs root (network namespaces)" >&2; exit 1; }
./carevisor deps >/dev/null
./carevisor appliance >/dev/null
export JAVA_HOME=$(./carevisor java-home)
mvn -q -B package -DskipTests -pl bench -am
exec "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "bench/target/classes:bench/target/lib/*" \
  -Dcarevisor.appliance="$ROOT/build/appliance/carevisor-appliance.qcow2" \
  org.carevisor.bench.MigrationBench "${1:-5}" "${2:-32}"
