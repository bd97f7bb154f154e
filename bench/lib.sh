# Shared by bench/*.sh (sourced, not run): installs what is missing, builds the benchmark module and runs one
# benchmark class on the JDK ./carevisor finds.
#   bench_run [--root] [--appliance] CLASS [ARG...]
#     --root       refuse to run without root (the benchmark uses network namespaces)
#     --appliance  build the guest appliance image if needed and pass it to the benchmark
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bench_run() {
  local root=0 appliance=0
  while [ $# -gt 0 ]; do
    case $1 in
      --root) root=1 ;;
      --appliance) appliance=1 ;;
      *) break ;;
    esac
    shift
  done
  local class=$1
  shift
  cd "$ROOT"
  if [ "$root" = 1 ] && [ "$(id -u)" != 0 ]; then
    echo "bench: $class needs root (network namespaces); run it with sudo" >&2
    exit 1
  fi
  ./carevisor deps >/dev/null
  local props=()
  if [ "$appliance" = 1 ]; then
    ./carevisor appliance >/dev/null
    props=(-Dcarevisor.appliance="$ROOT/build/appliance/carevisor-appliance.qcow2")
  fi
  JAVA_HOME=$(./carevisor java-home)
  export JAVA_HOME
  mvn -q -B package -DskipTests -pl bench -am
  exec "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "bench/target/classes:bench/target/lib/*" "${props[@]}" \
    "org.carevisor.bench.$class" "$@"
}
