#!/bin/sh
# Runs a benchmark command with a state directory of its own: a tmpfs on /run/netns-kit in a
# private mount namespace (mounts propagate in, never out). The user path creates its networks
# with the default store, and that store must not be the machine's: whatever the run leaves
# there (a crash included) vanishes with the run. The namespaces under /run/netns stay visible
# to the tools the run starts (they are its children); if the run is killed, their bind mounts go
# with its mount namespace, so the kernel frees them.
set -eu
exec unshare --mount --propagation slave -- sh -c '
  mkdir -p /run/netns-kit
  mount -t tmpfs -o mode=0700,size=512m nkbench-state /run/netns-kit
  exec "$@"' sh "$@"
