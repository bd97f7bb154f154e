#!/usr/bin/env bash
# Network of a local multi-host lab: one network namespace per simulated host, all on one bridge.
#
#   scripts/lab-net.sh up INDEX HOSTS     create the lab network number INDEX (1-250) with HOSTS hosts
#   scripts/lab-net.sh down INDEX         remove it (namespaces, veths, bridge)
#   scripts/lab-net.sh free-index FROM TO print the first index in FROM..TO whose network does not exist
#   scripts/lab-net.sh prune FROM TO      remove lab networks in FROM..TO whose namespaces run no process
#
# Layout of lab INDEX (needs root: ip netns, veth, bridges):
#   root namespace:    bridge cvl<INDEX>br with 10.77.<INDEX>.1/24 (the manager listens here for agents;
#                      guests are reached from here at their own addresses)
#   host i (1..HOSTS): namespace cvl<INDEX>h<i>; inside it a bridge "cvlab0" with 10.77.<INDEX>.<10+i>/24
#                      (the agent's address) joined to the root bridge by a veth pair; VM tap devices join
#                      cvlab0, so guests of every host share one layer-2 network, as on real hosts with a
#                      VM network. Guest addresses: 10.77.<INDEX>.100-199.
# Prints "host <i> <namespace> <address>" lines after up.
set -euo pipefail

die() { printf 'lab-net.sh: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "a lab network needs root (network namespaces, bridges); run as root"
command -v ip >/dev/null || die "the 'ip' command is missing: apt-get install iproute2"

VM_BRIDGE=cvlab0

names() { # index
  BR="cvl$1br"; NS_PREFIX="cvl$1h"; VETH_PREFIX="cvl$1v"; SUBNET="10.77.$1"
}

check_index() {
  [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 250 ] || die "INDEX must be 1-250, not '$1'"
}

down() {
  check_index "$1"; names "$1"
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NS_PREFIX}[0-9]*$" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns delete "$ns" 2>/dev/null || true
  done
  local v
  for v in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^${VETH_PREFIX}[0-9]*$" || true); do
    ip link delete "$v" 2>/dev/null || true
  done
  ip link delete "$BR" 2>/dev/null || true
}

up() {
  check_index "$1"; names "$1"
  local hosts=$2
  [[ "$hosts" =~ ^[0-9]+$ ]] && [ "$hosts" -ge 1 ] && [ "$hosts" -le 50 ] || die "HOSTS must be 1-50, not '$hosts'"
  down "$1"
  # Bridges get fixed MAC addresses: a bridge without one takes the lowest MAC of its ports, so it would
  # change when a VM's tap device joins, and the other hosts' ARP caches would point nowhere.
  local hex; hex=$(printf '%02x' "$1")
  ip link add "$BR" address "02:77:$hex:00:00:fe" type bridge
  ip addr add "$SUBNET.1/24" dev "$BR"
  ip link set "$BR" up
  local i ns addr
  for i in $(seq 1 "$hosts"); do
    ns="$NS_PREFIX$i"; addr="$SUBNET.$((10 + i))"
    ip netns add "$ns"
    ip link add "$VETH_PREFIX$i" type veth peer name uplink netns "$ns"
    ip link set "$VETH_PREFIX$i" master "$BR"
    ip link set "$VETH_PREFIX$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link add "$VM_BRIDGE" address "02:77:$hex:00:00:$(printf '%02x' "$i")" type bridge
    ip -n "$ns" link set uplink master "$VM_BRIDGE"
    ip -n "$ns" link set uplink up
    ip -n "$ns" addr add "$addr/24" dev "$VM_BRIDGE"
    ip -n "$ns" link set "$VM_BRIDGE" up
    echo "host $i $ns $addr"
  done
}

free_index() {
  local i
  for i in $(seq "$1" "$2"); do
    names "$i"
    if ! ip link show "$BR" >/dev/null 2>&1; then echo "$i"; return 0; fi
  done
  die "every lab network $1-$2 is in use; remove stale ones with: scripts/lab-net.sh prune $1 $2"
}

prune() {
  local i ns busy
  for i in $(seq "$1" "$2"); do
    names "$i"
    ip link show "$BR" >/dev/null 2>&1 || continue
    busy=0
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NS_PREFIX}[0-9]*$" || true); do
      [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && busy=1
    done
    if [ $busy -eq 0 ]; then down "$i"; echo "removed stale lab network $i"; fi
  done
}

case ${1:-} in
  up) [ $# -eq 3 ] || die "usage: lab-net.sh up INDEX HOSTS"; up "$2" "$3" ;;
  down) [ $# -eq 2 ] || die "usage: lab-net.sh down INDEX"; down "$2" ;;
  free-index) [ $# -eq 3 ] || die "usage: lab-net.sh free-index FROM TO"; free_index "$2" "$3" ;;
  prune) [ $# -eq 3 ] || die "usage: lab-net.sh prune FROM TO"; prune "$2" "$3" ;;
  *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
