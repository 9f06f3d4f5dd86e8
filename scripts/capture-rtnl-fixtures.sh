#!/usr/bin/env bash
# Regenerates test/fixtures/rtnl/*.txt: the exact rtnetlink messages iproute2 sends (and the
# kernel's answers) for the commands our encoders mirror, captured with strace. Everything runs
# inside two throwaway namespaces (HOST and CT, random names) that are deleted on exit, even on
# failure: the root namespace is never touched. Needs root, iproute2 and strace.
#
#   bash scripts/capture-rtnl-fixtures.sh            # rewrites test/fixtures/rtnl/
#   bash scripts/capture-rtnl-fixtures.sh 'vxlan-*' show-fdb-vxlan
#                                                    # rewrites only the captures matching a pattern
#                                                    # (every command still runs: later ones need earlier ones)
#
# Each file starts with '#' lines: the command (namespace names replaced by HOST and CT), the
# ifindexes in HOST after it ran, the iproute2 and kernel versions. Then strace's output: every
# sendmsg/sendto/recvmsg with a hex dump of its bytes (`-e write=all -e read=all`). strace's
# `-e raw=sendmsg` would print the pointers only, so the dumps are what the tests read.
set -euo pipefail

cd "$(dirname "$0")/.."
out=test/fixtures/rtnl
mkdir -p "$out"
only=("$@")
wanted() {
  [ ${#only[@]} -eq 0 ] && return 0
  local p
  for p in "${only[@]}"; do
    # shellcheck disable=SC2053
    [[ $1 == $p ]] && return 0
  done
  return 1
}
written=0

rnd() { head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
HOST="nk-$(rnd)"
CT="nk-$(rnd)"
cleanup() {
  ip netns del "$HOST" 2>/dev/null || true
  ip netns del "$CT" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$HOST"
ip netns add "$CT"

# capture NAME [--fail] -- ip|bridge ARGS...   (HOST and CT in ARGS stand for the namespaces)
capture() {
  local name=$1; shift
  local mayfail=0
  if [ "$1" = "--fail" ]; then mayfail=1; shift; fi
  [ "$1" = "--" ] && shift
  local args=() shown=()
  for a in "$@"; do
    case "$a" in
      HOST) args+=("$HOST") ;;
      CT) args+=("$CT") ;;
      *) args+=("$a") ;;
    esac
    shown+=("$a")
  done
  local dest="$out/$name.txt"
  if wanted "$name"; then written=$((written + 1)); else dest=/dev/null; fi
  local tmp
  tmp=$(mktemp)
  local rc=0
  strace -f -o "$tmp" -e trace=sendmsg,sendto,recvmsg -e write=all -e read=all -s 64 -xx "${args[@]}" >/dev/null 2>&1 || rc=$?
  if [ $rc -ne 0 ] && [ $mayfail -eq 0 ]; then
    echo "capture $name: '${shown[*]}' failed ($rc)" >&2
    exit 1
  fi
  {
    echo "# netns-kit golden capture: $name"
    echo "# command: ${shown[*]}"
    echo "# exit status: $rc"
    echo "# ifindex in HOST after it: $(ip -n "$HOST" -o link show | awk -F': ' '{sub(/@.*/, "", $2); printf "%s=%s ", $2, $1}')"
    echo "# $(ip -V | head -1); kernel $(uname -r)"
    echo "# made by scripts/capture-rtnl-fixtures.sh (strace -f -e trace=sendmsg,sendto,recvmsg -e write=all -e read=all -s 64 -xx)"
    # strace's pids and the random namespace names change from run to run: normalise them.
    sed -E -e 's/^[0-9]+ +//' -e "s/$HOST/HOST/g" -e "s/$CT/CT/g" "$tmp"
  } > "$dest"
  rm -f "$tmp"
}

# Links.
capture veth-create-peer-netns -- ip -n HOST link add veth0 type veth peer name eth0 netns CT
capture veth-create-full -- ip -n HOST link add veth1 mtu 1400 address 02:00:00:00:01:01 type veth peer name eth1 mtu 1400 address 02:00:00:00:01:02 netns CT
# This kernel may lack CONFIG_BRIDGE_VLAN_FILTERING (EOPNOTSUPP): the request is what counts here.
capture bridge-create-stp-vlan --fail -- ip -n HOST link add brv type bridge stp_state 1 vlan_filtering 1
capture bridge-create-stp -- ip -n HOST link add br0 type bridge stp_state 1
capture bridge-create-plain -- ip -n HOST link add br1 type bridge
capture link-set-master-mtu-up -- ip -n HOST link set dev veth0 master br0 mtu 1400 up
capture link-set-nomaster -- ip -n HOST link set dev veth0 nomaster
capture link-set-down -- ip -n HOST link set dev veth0 down
capture link-set-mac -- ip -n HOST link set dev veth1 address 02:00:00:00:01:03
capture link-set-alias -- ip -n HOST link set dev veth1 alias netns-kit:net0:ep0
capture link-rename -- ip -n HOST link set dev veth1 name veth1x
capture link-set-netns -- ip -n HOST link set dev veth1x netns CT
ip -n "$HOST" link set dev veth0 master br0
capture bridge-port-flags -- ip -n HOST link set dev veth0 type bridge_slave hairpin on isolated on

# Addresses and routes.
ip -n "$HOST" link set dev br0 up
capture addr-add-v4 -- ip -n HOST addr add 10.0.0.1/24 brd + dev br0
capture addr-add-v6-nodad -- ip -n HOST addr add fd00::1/64 dev br0 nodad
capture route-add-default-v4 -- ip -n HOST route add default via 10.0.0.254 dev br0
capture route-add-prefix-metric-table-src -- ip -n HOST route add 10.1.0.0/16 via 10.0.0.254 dev br0 metric 100 table 100 src 10.0.0.1
capture route-add-table-1000 -- ip -n HOST route add 10.2.0.0/24 dev br0 table 1000
capture route-replace-metric -- ip -n HOST route replace 10.3.0.0/24 via 10.0.0.254 metric 50
capture route-add-default-v6 -- ip -n HOST -6 route add default via fd00::fe dev br0 metric 1024

# What the kernel answers: inputs for the decoder tests.
capture show-link-bridge -- ip -n HOST -d link show br0
capture show-link-port -- ip -n HOST -d link show veth0
capture show-addr -- ip -n HOST addr show dev br0
capture show-route-v4 -- ip -n HOST route show table all
capture show-route-v6 -- ip -n HOST -6 route show
capture error-extack-mtu --fail -- ip -n HOST link set dev br0 mtu 100000
capture error-eexist --fail -- ip -n HOST link add br1 type bridge

# Macvlan and vxlan links, bridge FDB and neighbour entries. The macvlans get a fresh veth as
# their parent: a bridge port cannot carry macvlans (its rx handler is taken). The vxlan options
# are given in the order our encoder writes them, so that the bytes can match.
ip -n "$HOST" link add veth2 type veth peer name eth2 netns "$CT"
capture macvlan-create-bridge -- ip -n HOST link add link veth2 name mv0 type macvlan mode bridge
capture macvlan-create-vepa -- ip -n HOST link add link veth2 name mv2 type macvlan mode vepa
capture macvlan-create-netns-full -- ip -n HOST link add link veth2 name mv1 netns CT address 02:00:00:00:02:01 mtu 1400 up type macvlan mode private
capture vxlan-create-overlay -- ip -n HOST link add vx0 type vxlan dev br0 ttl 64 id 42 local 10.0.0.1 nolearning dstport 4789
capture vxlan-create-remote -- ip -n HOST link add vx3 type vxlan id 43 remote 10.0.0.2 dstport 4789
capture vxlan-create-group -- ip -n HOST link add vx1 type vxlan dev br0 tos 0x10 ageing 120 proxy l2miss l3miss noudpcsum id 100 group 239.1.1.1 learning dstport 4790
capture vxlan-create-v6 -- ip -n HOST link add vx2 type vxlan id 7 local fd00::1 remote fd00::2 nolearning dstport 4789
capture fdb-add-vxlan-default -- bridge -n HOST fdb add 00:00:00:00:00:00 dev vx0 dst 10.0.0.2 self permanent
capture fdb-append-vxlan-default -- bridge -n HOST fdb append 00:00:00:00:00:00 dev vx0 dst 10.0.0.3 self permanent
capture fdb-replace-vxlan-vni-port -- bridge -n HOST fdb replace 02:00:00:00:03:01 dev vx0 dst 10.0.0.2 vni 42 port 4789 self permanent
capture fdb-add-vxlan-v6 -- bridge -n HOST fdb add 02:00:00:00:03:03 dev vx2 dst fd00::3 self permanent
capture fdb-add-master-static -- bridge -n HOST fdb add 02:00:00:00:04:01 dev veth0 master static
capture neigh-replace-v4 -- ip -n HOST neigh replace 10.0.0.2 lladdr 02:00:00:00:03:01 dev br0 nud permanent
capture neigh-add-v6-router -- ip -n HOST neigh add fd00::2 lladdr 02:00:00:00:03:02 dev br0 nud permanent router
capture show-link-macvlan -- ip -n HOST -d link show mv0
capture show-link-vxlan -- ip -n HOST -d link show vx0
capture show-link-vxlan-group -- ip -n HOST -d link show vx1
capture show-link-vxlan-v6 -- ip -n HOST -d link show vx2
capture show-link-vxlan-remote -- ip -n HOST -d link show vx3
capture show-fdb-vxlan -- bridge -n HOST fdb show dev vx0
capture show-fdb-port -- bridge -n HOST fdb show dev veth0
capture show-neigh -- ip -n HOST neigh show dev br0
capture fdb-del-vxlan-dst -- bridge -n HOST fdb del 00:00:00:00:00:00 dev vx0 dst 10.0.0.3
capture fdb-del-master -- bridge -n HOST fdb del 02:00:00:00:04:01 dev veth0 master
capture neigh-del-v4 -- ip -n HOST neigh del 10.0.0.2 dev br0

# Deletions last.
capture route-del -- ip -n HOST route del 10.3.0.0/24 via 10.0.0.254 metric 50
capture addr-del-v4 -- ip -n HOST addr del 10.0.0.1/24 dev br0
capture link-del -- ip -n HOST link del veth0

# Link groups, after the deletions (the ifindexes the earlier captures name stay as they were).
capture link-create-group -- ip -n HOST link add vg0 group 7 type veth peer name vg1
capture link-set-group -- ip -n HOST link set dev vg1 group 7
capture link-del-group -- ip -n HOST link del group 7

echo "wrote $written captures to $out ($(ls "$out"/*.txt | wc -l) in all)"
