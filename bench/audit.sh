#!/usr/bin/env bash
# Benchmark: audit trail append rate with hash chaining on H2 (alone and under a VM-operation workload)
# and the time to verify a chain of one million records. Prints a Markdown table for docs/benchmarks.md.
#   bench/audit.sh [seconds per case] [records to verify]     (default 10 and 1000000)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
./carevisor deps >/dev/null
export JAVA_HOME=$(./carevisor java-home)
mvn -q -B package -DskipTests -pl bench -am
exec "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "bench/target/classes:bench/target/lib/*" \
  org.carevisor.bench.AuditBench "${1:-10}" "${2:-1000000}"
