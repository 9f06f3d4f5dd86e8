#!/bin/sh
# Runs a benchmark command with a state directory and a namespace directory of its own: tmpfs
# mounts on /run/netns-kit and /run/netns in a private mount namespace (mounts propagate in, never
# out). The user path creates its networks with the default store, and that store must not be the
# machine's; the namespaces the run names must not be the machine's either. The tools the run
# starts are its children and see both; whatever the run leaves there (a crash included) vanishes
# with the run: the files with the tmpfs, the namespaces with their bind mounts, which the kernel
# then frees. (Before /run/netns was private, a killed run left an empty file of each of its
# namespaces in the machine's /run/netns.) /etc is an overlay whose writes land in a tmpfs: the
# user path writes its containers' files to /etc/netns/NAME/, and the machine's /etc must not get
# them, nor an /etc/netns it did not have (before, each run created the machine's /etc/netns and
# left it there, empty).
#
# The two mount points are made here, in the machine's /run, when missing (a mkdir is not a mount: it
# does not stay private), and removed again when the run ends, whatever its end.
set -eu
made=''
for d in /run/netns-kit /run/netns; do
  if [ ! -e "$d" ]; then
    mkdir -p "$d"
    made="$made $d"
  fi
done
cleanup() {
  for d in $made; do rmdir "$d" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
rc=0
unshare --mount --propagation slave -- sh -c '
  mount -t tmpfs -o mode=0700,size=64m nkbench-etc /run/netns-kit
  mkdir /run/netns-kit/upper /run/netns-kit/work
  mount -t overlay -o lowerdir=/etc,upperdir=/run/netns-kit/upper,workdir=/run/netns-kit/work nkbench-etc /etc
  mount -t tmpfs -o mode=0700,size=512m nkbench-state /run/netns-kit
  mount -t tmpfs -o mode=0755,size=64m nkbench-netns /run/netns
  exec "$@"' sh "$@" || rc=$?
exit $rc
