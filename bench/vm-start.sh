#!/usr/bin/env bash
# Benchmark: API create+start until the guest service answers (sequential and 4 at once) against bare QEMU
# in the same run, and the idle memory of manager and agent. Prints a Markdown table for docs/benchmarks.md.
#   bench/vm-start.sh [runs]        (default 10)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
./carevisor deps >/dev/null
./carevisor appliance >/dev/null
export JAVA_HOME=$(./carevisor java-home)
mvn -q -B package -DskipTests -pl bench -am
exec "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "bench/target/classes:bench/target/lib/*" \
  -Dcarevisor.appliance="$ROOT/build/appliance/carevisor-appliance.qcow2" \
  org.carevisor.bench.VmStartBench "${1:-10}"
