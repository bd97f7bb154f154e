#!/usr/bin/env bash
# Benchmark: the API over HTTPS against the same manager serving plain HTTP on loopback in the same run: a kept-alive
# authenticated GET and a request on a new connection (full TLS handshake). Prints a Markdown table.
#   bench/api-tls.sh [requests per case]        (default 500)
source "$(dirname "$0")/lib.sh"
bench_run ApiTlsBench "${1:-500}"
