#!/usr/bin/env bash
# Regenerates test/fixtures/diag/*.txt: the sock_diag (NETLINK_SOCK_DIAG, inet_diag) requests `ss`
# sends for the listings our encoder mirrors, and the kernel's answers, captured with strace.
# Everything runs inside one throwaway namespace (HOST, a random name) that is deleted on exit,
# even on failure: the root namespace is never touched. Needs root, iproute2 (ss), socat, strace.
#
#   bash scripts/capture-diag-fixtures.sh        (inside /work/tools/sandbox on a shared machine)
#
# The file format is scripts/capture-rtnl-fixtures.sh's: '#' lines (the command, the listeners
# that were open, the versions), then strace's sendmsg/recvmsg with hex dumps of their bytes.
set -euo pipefail

cd "$(dirname "$0")/.."
out=test/fixtures/diag
mkdir -p "$out"

rnd() { head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
HOST="nk-$(rnd)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$HOST" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$HOST"
ip -n "$HOST" link set lo up

# The sockets the replies describe.
listen() {
  ip netns exec "$HOST" socat "$@" >/dev/null 2>&1 &
  pids+=($!)
}
listen TCP4-LISTEN:8080,bind=127.0.0.1,reuseaddr,fork EXEC:cat
listen TCP6-LISTEN:8081,ipv6only=0,reuseaddr,fork EXEC:cat
listen TCP6-LISTEN:8082,bind=[::1],ipv6only=1,reuseaddr,fork EXEC:cat
listen -u UDP4-RECV:5353 OPEN:/dev/null
listen -u UDP6-RECV:5354,ipv6only=1 OPEN:/dev/null
for _ in $(seq 50); do
  n=$(ip netns exec "$HOST" ss -Htuln | wc -l)
  [ "$n" -ge 5 ] && break
  sleep 0.1
done
listeners=$(ip netns exec "$HOST" ss -Htuln | awk '{print $1, $5}' | sort | tr '\n' ';')

# capture NAME -- ss ARGS...   (run inside HOST)
capture() {
  local name=$1; shift
  [ "$1" = "--" ] && shift
  local tmp rc=0
  tmp=$(mktemp)
  ip netns exec "$HOST" strace -f -o "$tmp" -e trace=sendmsg,sendto,recvmsg -e write=all -e read=all -s 64 -xx "$@" >/dev/null 2>&1 || rc=$?
  {
    echo "# netns-kit golden capture: $name"
    echo "# command: $*"
    echo "# exit status: $rc"
    echo "# listeners in HOST: $listeners"
    echo "# $(ss -V | head -1); kernel $(uname -r)"
    echo "# made by scripts/capture-diag-fixtures.sh (strace -f -e trace=sendmsg,sendto,recvmsg -e write=all -e read=all -s 64 -xx)"
    sed -E -e 's/^[0-9]+ +//' -e "s/$HOST/HOST/g" "$tmp"
  } > "$out/$name.txt"
  rm -f "$tmp"
}

capture tcp-listen -- ss -Htln
capture tcp-listen-sport -- ss -Htln 'sport = :8080'
capture tcp-listen-sport-range -- ss -Htln 'sport >= :8000 and sport <= :8100'
capture udp-unconn -- ss -Hlun
capture udp-unconn-sport -- ss -Hlun 'sport = :5353'
capture sctp-listen -- ss -HSln

echo "wrote $(ls "$out"/*.txt | wc -l) captures to $out"
