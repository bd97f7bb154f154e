#!/usr/bin/env bash
# appliance/boot-test.sh IMAGE - manual smoke test of the Carevisor guest appliance.
#
# Boots IMAGE (through a throw-away qcow2 overlay) under QEMU/TCG, waits for the
# READY marker on the serial console, checks the HTTP API (status, disk counter,
# the memory dirtier), powers the VM off with an ACPI power-button press over QMP
# (system_powerdown) while the dirtier runs, boots the same overlay again to check
# that bootCount went up and the disk counter persisted, then reboots it from
# inside (POST /cgi-bin/power) and powers it off again. Then boots it twice more
# with a static network configuration passed through QEMU fw_cfg: a valid one
# (the guest must use it) and an invalid one (the guest must fall back to DHCP).
# Prints the timings. QEMU is always killed on exit.
#
# Usage: appliance/boot-test.sh [IMAGE]   (default: <repo>/build/appliance/carevisor-appliance.qcow2)
# Environment: PORT (host port forwarded to guest port 80; default: a free one),
#   KEEP_LOGS=1 (print the serial logs at the end), QEMU_EXTRA (extra QEMU arguments)
#
# Requires (Debian packages): qemu-system-x86 qemu-utils curl python3
#   (for QMP socat is used when installed, else python3)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGE="${1:-$SCRIPT_DIR/../build/appliance/carevisor-appliance.qcow2}"
[ -f "$IMAGE" ] || { echo "boot-test: image not found: $IMAGE (build it with appliance/build.sh)" >&2; exit 2; }
IMAGE="$(readlink -f "$IMAGE")"

for t in qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils curl:curl; do
    command -v "${t%%:*}" >/dev/null 2>&1 || { echo "boot-test: missing '${t%%:*}' - install the Debian package '${t#*:}'" >&2; exit 2; }
done
if command -v socat >/dev/null 2>&1; then QMP_CLIENT=socat
elif command -v python3 >/dev/null 2>&1; then QMP_CLIENT=python3
else echo "boot-test: need socat or python3 to talk QMP" >&2; exit 2; fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/carevisor-boot-test.XXXXXX")"
QEMU_PID=""
stop_qemu() {
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do qemu_alive || break; sleep 0.1; done
        kill -9 "$QEMU_PID" 2>/dev/null || true
        wait "$QEMU_PID" 2>/dev/null || true
    fi
    QEMU_PID=""
}
cleanup() {
    local rc=$?
    stop_qemu
    if [ "${KEEP_LOGS:-0}" = 1 ] || [ "$rc" != 0 ]; then
        for f in "$TMP"/serial*.log; do
            [ -f "$f" ] || continue
            echo "----- $(basename "$f") (last 40 lines)"
            tail -n 40 "$f" | tr -d '\033' | cat -v
        done
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "boot-test: FAIL: $*" >&2; exit 1; }
ok() { echo "boot-test: ok: $*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
qemu_alive() { # a reaped or zombie QEMU counts as gone
    [ -n "$QEMU_PID" ] && [ -r "/proc/$QEMU_PID/stat" ] && [ "$(cut -d' ' -f3 "/proc/$QEMU_PID/stat" 2>/dev/null)" != Z ]
}

if [ -z "${PORT:-}" ]; then
    if command -v python3 >/dev/null 2>&1; then
        PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    else
        PORT=$((20000 + RANDOM % 20000))
    fi
fi
UUID="$(tr 'a-f' 'A-F' < /proc/sys/kernel/random/uuid)"   # upper case on purpose: guest must lowercase it
UUID_LC="$(echo "$UUID" | tr 'A-F' 'a-f')"
MAC=52:54:00:12:34:56
OVERLAY="$TMP/overlay.qcow2"
QMP_SOCK="$TMP/qmp.sock"
qemu-img create -q -f qcow2 -F qcow2 -b "$IMAGE" "$OVERLAY"
echo "boot-test: image $IMAGE"
echo "boot-test: overlay $OVERLAY, http://127.0.0.1:$PORT/, QMP client: $QMP_CLIENT"

BOOT_START=""
start_qemu() { # SERIAL-LOG [FW_CFG-NET-STRING [GUEST-ADDRESS]]
    # FW_CFG-NET-STRING: passed as -fw_cfg name=opt/org.carevisor/net,string=...;
    # GUEST-ADDRESS: where user networking forwards the host port (default: 10.0.2.15)
    local fwcfg=()
    [ -n "${2:-}" ] && fwcfg=(-fw_cfg "name=opt/org.carevisor/net,string=$2")
    rm -f "$QMP_SOCK"
    BOOT_START="$(now)"
    # shellcheck disable=SC2086
    qemu-system-x86_64 -accel tcg -machine pc -m 256 -smp 1 -nographic -nodefaults \
        -serial "file:$1" \
        -drive "file=$OVERLAY,if=virtio,format=qcow2" \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-${3:-}:80" \
        -device "virtio-net-pci,netdev=n0,mac=$MAC" \
        -smbios "type=1,uuid=$UUID" \
        -qmp "unix:$QMP_SOCK,server=on,wait=off" \
        "${fwcfg[@]}" ${QEMU_EXTRA:-} < /dev/null > "$TMP/qemu.out" 2>&1 &
    QEMU_PID=$!
}

wait_ready() { # SERIAL-LOG [COUNT=1] -> sets READY_TIME and BOOT_ID (of the COUNT-th marker)
    local log="$1" count="${2:-1}" deadline=$((SECONDS + 60)) n
    while :; do
        n=$(grep -a -c 'CAREVISOR-GUEST-READY boot_id=' "$log" 2>/dev/null || true)
        [ "${n:-0}" -ge "$count" ] && break
        qemu_alive || { cat "$TMP/qemu.out" >&2; fail "QEMU exited before the READY marker"; }
        [ $SECONDS -lt $deadline ] || fail "no READY marker within 60 s"
        sleep 0.02
    done
    READY_TIME="$(elapsed "$BOOT_START")"
    # the serial tty turns "\n" into "\r\n"; the marker line ends with "<id> " before it
    BOOT_ID="$(tr -d '\r' < "$log" | grep -a -o 'CAREVISOR-GUEST-READY boot_id=[0-9a-f-]* $' | sed -n "${count}p" | sed 's/.*boot_id=//; s/ $//')"
    [ -n "$BOOT_ID" ] || fail "READY marker without boot id (or without the trailing space)"
}

qmp() { # COMMAND-NAME -> sends it after qmp_capabilities
    if [ "$QMP_CLIENT" = socat ]; then
        { printf '{"execute":"qmp_capabilities"}\n'; sleep 0.2; printf '{"execute":"%s"}\n' "$1"; sleep 0.3; } \
            | socat - "UNIX-CONNECT:$QMP_SOCK" > "$TMP/qmp.out"
    else
        python3 - "$QMP_SOCK" "$1" > "$TMP/qmp.out" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def reply():
    while True:
        msg = json.loads(f.readline())
        if "return" in msg or "error" in msg:
            return msg
json.loads(f.readline())  # greeting
for cmd in ("qmp_capabilities", sys.argv[2]):
    f.write((json.dumps({"execute": cmd}) + "\n").encode()); f.flush()
    r = reply()
    print(json.dumps(r))
    if "error" in r:
        sys.exit(1)
EOF
    fi
    grep -q '"return"' "$TMP/qmp.out" || fail "QMP $1 failed: $(cat "$TMP/qmp.out")"
}

wait_exit() { # SECONDS -> sets EXIT_TIME
    local t0 limit="$1"
    t0="$(now)"
    while qemu_alive; do
        awk -v a="$t0" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }' && fail "QEMU still running ${limit} s after the power-off request"
        sleep 0.05
    done
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=""
    EXIT_TIME="$(elapsed "$t0")"
}

http() { # METHOD PATH -> body on stdout; fails on non-2xx
    local extra=()
    [ "$1" = POST ] && extra=(-H 'Content-Length: 0')
    curl -sS -f -m 10 -X "$1" "${extra[@]}" "http://127.0.0.1:$PORT$2" 2> "$TMP/curl.err" \
        || fail "$1 $2 failed: $(cat "$TMP/curl.err")"
}
json_num() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p"; }
json_str() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
json_bool() { sed -n "s/.*\"$1\":\\(true\\|false\\).*/\\1/p"; }
http_code() { # METHOD PATH -> HTTP status code
    curl -s -o /dev/null -w '%{http_code}' -m 10 -X "$1" -H 'Content-Length: 0' "http://127.0.0.1:$PORT$2"
}
expect() { # WHAT GOT WANT
    [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
    ok "$1 = $3"
}

# ------------------------------------------------------------------ boot 1
start_qemu "$TMP/serial1.log"
wait_ready "$TMP/serial1.log"
T_READY1="$READY_TIME"; BOOT_ID1="$BOOT_ID"
ok "boot 1: READY after ${T_READY1} s (boot_id=$BOOT_ID1)"

t0="$(now)"
STATUS="$(http GET /cgi-bin/status)"
T_HTTP="$(elapsed "$t0")"
echo "boot-test: status: $STATUS (${T_HTTP} s)"
expect "status.bootId" "$(json_str bootId <<< "$STATUS")" "$BOOT_ID1"
expect "status.uuid" "$(json_str uuid <<< "$STATUS")" "$UUID_LC"
expect "status.mac" "$(json_str mac <<< "$STATUS")" "$MAC"
expect "status.ip" "$(json_str ip <<< "$STATUS")" "10.0.2.15"
expect "status.netMode" "$(json_str netMode <<< "$STATUS")" dhcp
expect "status.bootCount" "$(json_num bootCount <<< "$STATUS")" 1
expect "status.diskCounter" "$(json_num diskCounter <<< "$STATUS")" 0
C1="$(json_num counter <<< "$STATUS")"
sleep 1
C2="$(http GET /cgi-bin/status | json_num counter)"
[ "$C2" -ge $((C1 + 5)) ] || fail "in-memory counter did not advance (~10/s): $C1 -> $C2 in 1 s"
ok "in-memory counter advances: $C1 -> $C2 in ~1 s"
curl -sS -f -m 10 -o /dev/null -D "$TMP/headers" "http://127.0.0.1:$PORT/cgi-bin/status" || fail "status headers"
grep -qi '^Content-Type: application/json' "$TMP/headers" || fail "status is not application/json"
ok "status Content-Type is application/json"
http GET / | grep -q 'Carevisor guest appliance' || fail "GET / does not name the service"
ok "GET / names the service"

expect "GET disk-counter" "$(http GET /cgi-bin/disk-counter)" '{"diskCounter":0}'
t0="$(now)"
expect "POST disk-counter" "$(http POST /cgi-bin/disk-counter)" '{"diskCounter":1}'
T_POST="$(elapsed "$t0")"
expect "POST disk-counter?set=41" "$(http POST '/cgi-bin/disk-counter?set=41')" '{"diskCounter":41}'
expect "POST disk-counter" "$(http POST /cgi-bin/disk-counter)" '{"diskCounter":42}'
code="$(curl -s -o /dev/null -w '%{http_code}' -m 10 -X POST -H 'Content-Length: 0' "http://127.0.0.1:$PORT/cgi-bin/disk-counter?set=abc")"
expect "POST disk-counter?set=abc status" "$code" 400

# memory dirtier (live-migration load)
expect "GET dirty" "$(http GET /cgi-bin/dirty)" '{"mib":0,"running":false,"passes":0}'
DIRTY="$(http POST '/cgi-bin/dirty?mib=32')"
expect "POST dirty?mib=32: mib" "$(json_num mib <<< "$DIRTY")" 32
expect "POST dirty?mib=32: running" "$(json_bool running <<< "$DIRTY")" true
t0="$(now)"; deadline=$((SECONDS + 30))
while P1="$(http GET /cgi-bin/dirty | json_num passes)"; [ "${P1:-0}" -lt 2 ]; do
    [ $SECONDS -lt $deadline ] || fail "dirtier: fewer than 2 passes over 32 MiB within 30 s"
    sleep 0.2
done
T_DIRTY_FIRST="$(elapsed "$t0")"
C1="$(http GET /cgi-bin/status | json_num counter)"
sleep 1
DIRTY="$(http GET /cgi-bin/dirty)"
P2="$(json_num passes <<< "$DIRTY")"
C2="$(http GET /cgi-bin/status | json_num counter)"
[ "$P2" -gt "$P1" ] || fail "dirtier passes do not grow: $P1 -> $P2"
expect "dirty running" "$(json_bool running <<< "$DIRTY")" true
ok "dirtier (32 MiB): 2 passes after ${T_DIRTY_FIRST} s, then $P1 -> $P2 passes in ~1 s"
[ "$C2" -ge $((C1 + 5)) ] || fail "in-memory counter stalls while the dirtier runs: $C1 -> $C2 in 1 s"
ok "in-memory counter advances while dirtying: $C1 -> $C2 in ~1 s"
expect "POST dirty?mib=abc status" "$(http_code POST '/cgi-bin/dirty?mib=abc')" 400
expect "POST dirty?mib=1025 status" "$(http_code POST '/cgi-bin/dirty?mib=1025')" 400
expect "POST dirty (no mib) status" "$(http_code POST /cgi-bin/dirty)" 400
expect "PUT dirty status" "$(http_code PUT /cgi-bin/dirty)" 405
DIRTY="$(http POST '/cgi-bin/dirty?mib=8')"
expect "POST dirty?mib=8 (restart): mib" "$(json_num mib <<< "$DIRTY")" 8
expect "POST dirty?mib=8 (restart): running" "$(json_bool running <<< "$DIRTY")" true
DIRTY="$(http DELETE /cgi-bin/dirty)"
expect "DELETE dirty: mib" "$(json_num mib <<< "$DIRTY")" 0
expect "DELETE dirty: running" "$(json_bool running <<< "$DIRTY")" false
P3="$(json_num passes <<< "$DIRTY")"; sleep 0.5
expect "dirty passes stay put once stopped" "$(http GET /cgi-bin/dirty | json_num passes)" "$P3"
http POST '/cgi-bin/dirty?mib=16' > /dev/null
DIRTY="$(http POST '/cgi-bin/dirty?mib=0')"
expect "POST dirty?mib=0: running" "$(json_bool running <<< "$DIRTY")" false
# leave one running: the power-off path must stop it
DIRTY="$(http POST '/cgi-bin/dirty?mib=32')"
expect "POST dirty?mib=32 again: running" "$(json_bool running <<< "$DIRTY")" true

qmp system_powerdown
wait_exit 30
T_OFF1="$EXIT_TIME"
grep -a -q "CAREVISOR-GUEST-SHUTDOWN action=poweroff boot_id=$BOOT_ID1" "$TMP/serial1.log" || fail "no shutdown marker on the console"
ok "ACPI power button (QMP system_powerdown) with the dirtier running: QEMU exited after ${T_OFF1} s"

# ------------------------------------------------------------------ boot 2 (same overlay)
start_qemu "$TMP/serial2.log"
wait_ready "$TMP/serial2.log"
T_READY2="$READY_TIME"; BOOT_ID2="$BOOT_ID"
ok "boot 2: READY after ${T_READY2} s (boot_id=$BOOT_ID2)"
[ "$BOOT_ID2" != "$BOOT_ID1" ] || fail "boot id did not change across boots"
STATUS="$(http GET /cgi-bin/status)"
echo "boot-test: status: $STATUS"
expect "status.bootId" "$(json_str bootId <<< "$STATUS")" "$BOOT_ID2"
expect "status.bootCount after reboot" "$(json_num bootCount <<< "$STATUS")" 2
expect "status.diskCounter persisted" "$(json_num diskCounter <<< "$STATUS")" 42

# ------------------------------------------------------------------ guest-initiated reboot
expect "POST power?action=reboot" "$(http POST '/cgi-bin/power?action=reboot')" '{"action":"reboot"}'
t0="$(now)"; BOOT_START="$t0"
wait_ready "$TMP/serial2.log" 2
T_REBOOT="$READY_TIME"; BOOT_ID3="$BOOT_ID"
ok "guest reboot: READY again after ${T_REBOOT} s (boot_id=$BOOT_ID3)"
STATUS="$(http GET /cgi-bin/status)"
expect "status.bootCount after guest reboot" "$(json_num bootCount <<< "$STATUS")" 3
expect "status.diskCounter persisted" "$(json_num diskCounter <<< "$STATUS")" 42

qmp system_powerdown
wait_exit 30
T_OFF2="$EXIT_TIME"
ok "second ACPI power-off: QEMU exited after ${T_OFF2} s"

# ------------------------------------------------------------------ static address via fw_cfg
# user networking forwards to any guest address in 10.0.2.0/24 when it is named
# in hostfwd; "dns=" is a key the guest does not know (yet) and must ignore
start_qemu "$TMP/serial3.log" "ip=10.0.2.50/24 gw=10.0.2.2 dns=10.0.2.3" 10.0.2.50
wait_ready "$TMP/serial3.log"
T_READY_FWCFG="$READY_TIME"
ok "fw_cfg boot: READY after ${T_READY_FWCFG} s (boot_id=$BOOT_ID)"
STATUS="$(http GET /cgi-bin/status)"
echo "boot-test: status: $STATUS"
expect "status.ip (fw_cfg)" "$(json_str ip <<< "$STATUS")" "10.0.2.50"
expect "status.netMode (fw_cfg)" "$(json_str netMode <<< "$STATUS")" fwcfg
expect "status.bootCount" "$(json_num bootCount <<< "$STATUS")" 4
qmp system_powerdown
wait_exit 30
ok "fw_cfg boot: ACPI power-off after ${EXIT_TIME} s"

# ------------------------------------------------------------------ invalid fw_cfg content -> DHCP
start_qemu "$TMP/serial4.log" "gw=10.0.2.2 ip=10.0.2.300/24"
wait_ready "$TMP/serial4.log"
T_READY_BADCFG="$READY_TIME"
ok "invalid fw_cfg boot: READY after ${T_READY_BADCFG} s (boot_id=$BOOT_ID)"
STATUS="$(http GET /cgi-bin/status)"
echo "boot-test: status: $STATUS"
expect "status.ip (invalid fw_cfg)" "$(json_str ip <<< "$STATUS")" "10.0.2.15"
expect "status.netMode (invalid fw_cfg)" "$(json_str netMode <<< "$STATUS")" dhcp
grep -a -q 'carevisor: ignoring fw_cfg network config (bad ip=10.0.2.300/24' "$TMP/serial4.log" \
    || fail "no log line about the invalid fw_cfg network config on the console"
ok "invalid fw_cfg network config is logged and ignored"
qmp system_powerdown
wait_exit 30

echo "boot-test: PASS"
echo "boot-test: timings: boot1-ready=${T_READY1}s boot2-ready=${T_READY2}s guest-reboot-to-ready=${T_REBOOT}s" \
     "fwcfg-boot-ready=${T_READY_FWCFG}s invalid-fwcfg-boot-ready=${T_READY_BADCFG}s" \
     "first-status=${T_HTTP}s disk-counter-post=${T_POST}s dirty-2-passes=${T_DIRTY_FIRST}s" \
     "powerdown1-with-dirtier=${T_OFF1}s powerdown2=${T_OFF2}s"
