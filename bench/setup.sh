#!/bin/sh
# Installs the tools the benchmark compares netns-kit with (Debian packages), when missing.
# Nothing here touches any network namespace; a failed install only leaves that tool's row empty.
set -u
need=""
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/portmap ] || need="$need containernetworking-plugins"
command -v netavark >/dev/null 2>&1 || [ -x /usr/lib/podman/netavark ] || [ -x /usr/libexec/podman/netavark ] || need="$need netavark"
/usr/bin/python3 -c 'import pyroute2' >/dev/null 2>&1 || need="$need python3-pyroute2"
command -v iperf3 >/dev/null 2>&1 || need="$need iperf3"
command -v socat >/dev/null 2>&1 || need="$need socat"
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ]; then echo "bench/setup.sh: not root, cannot install:$need" >&2; # The C floor (bench/floor.c): the physical limit of the same work. Built here, never by npm install.
here=$(dirname "$0")
if command -v cc >/dev/null 2>&1; then
  if [ ! -x "$here/build/floor" ] || [ "$here/floor.c" -nt "$here/build/floor" ]; then
    mkdir -p "$here/build"
    cc -O2 -Wall -Wextra -o "$here/build/floor" "$here/floor.c" >&2 || echo "bench/setup.sh: cc bench/floor.c failed (the C floor rows will say so)" >&2
  fi
else
  echo "bench/setup.sh: no cc: the C floor rows will be skipped" >&2
fi
exit 0; fi
  echo "bench/setup.sh: installing$need" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends $need >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends $need >&2; } || echo "bench/setup.sh: install failed:$need (those rows will say so)" >&2
fi
# The C floor (bench/floor.c): the physical limit of the same work. Built here, never by npm install.
here=$(dirname "$0")
if command -v cc >/dev/null 2>&1; then
  if [ ! -x "$here/build/floor" ] || [ "$here/floor.c" -nt "$here/build/floor" ]; then
    mkdir -p "$here/build"
    cc -O2 -Wall -Wextra -o "$here/build/floor" "$here/floor.c" >&2 || echo "bench/setup.sh: cc bench/floor.c failed (the C floor rows will say so)" >&2
  fi
else
  echo "bench/setup.sh: no cc: the C floor rows will be skipped" >&2
fi
exit 0
