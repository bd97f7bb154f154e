#!/usr/bin/env bash
# Benchmark: the API over HTTPS against the same manager serving plain HTTP on loopback in the same run: a kept-alive
# authenticated GET and a request on a new connection (full TLS handshake). Prints a Markdown table.
#   bench/api-tls.sh [requests per case]        (default 500)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
./carevisor deps >/dev/null
export JAVA_HOME=$(./carevisor java-home)
mvn -q -B package -DskipTests -pl bench -am
exec "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "bench/target/classes:bench/target/lib/*" \
  org.carevisor.bench.ApiTlsBench "${1:-500}"
