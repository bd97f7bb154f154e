#!/usr/bin/env bash
# Benchmark: importing an export file (POST /vm-imports until the task is done) against bare tar -xf + sha256sum
# of the same file in the same run. Prints a Markdown table with the ratio for docs/benchmarks.md.
#   bench/import.sh [runs] [data disk MiB]       (default 5 and 1024)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
./carevisor deps >/dev/null
./carevisor appliance >/dev/null
export JAVA_HOME=$(./carevisor java-home)
mvn -q -B package -DskipTests -pl bench -am
exec "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "bench/target/classes:bench/target/lib/*" \
  -Dcarevisor.appliance="$ROOT/build/appliance/carevisor-appliance.qcow2" \
  org.carevisor.bench.ImportBench "${1:-5}" "${2:-1024}"
