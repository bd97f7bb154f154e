#!/usr/bin/env bash
# Benchmark: linked-clone deploy to guest ready vs bare overlay boot, full clone of 2 GiB vs qemu-img convert and cp,
# and the guest pause of memory snapshots of a 512 MiB guest. Prints Markdown tables for docs/benchmarks.md.
#   bench/templates.sh [runs]        (default 10)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
./carevisor deps >/dev/null
./carevisor appliance >/dev/null
export JAVA_HOME=$(./carevisor java-home)
mvn -q -B package -DskipTests -pl bench -am
exec "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "bench/target/classes:bench/target/lib/*" \
  -Dcarevisor.appliance="$ROOT/build/appliance/carevisor-appliance.qcow2" \
  org.carevisor.bench.TemplateBench "${1:-10}"
