#!/usr/bin/env bash
# The main job on an emulated device: create an 8 GiB sparse image file,
# make a famfs file system on it, check it, put files in it, and (as root,
# with /dev/fuse) mount it and read them back through the mount.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=$PWD/.demo
img=$demo/famfs.img
mnt=$demo/mnt
mkdir -p "$demo"
# An emulated host identity, so the demo does not depend on /opt/famfs;
# daemon state stays in the demo directory.
export FAMFS_SYSTEM_UUID=${FAMFS_SYSTEM_UUID:-$(cat /proc/sys/kernel/random/uuid)}
export FAMFS_RUN_DIR=$demo/run
if grep -q " $mnt fuse.famfs " /proc/mounts 2>/dev/null; then ./bin/famfs umount "$mnt"; fi
rm -f "$img"

run() { echo; echo "\$ $*"; "$@"; }
run ./bin/mkfs.famfs --create-size 8g "$img"
run ./bin/famfs fsck -v "$img"
run ./bin/famfs -D "$img" mkdir -p data/sets
run ./bin/famfs -D "$img" creat -s 64m -r -S 42 data/sets/random
run ./bin/famfs -D "$img" creat -s 64m -N 4 -B 4 -C 2m data/interleaved
run ./bin/famfs -D "$img" cp README.md data/
run ./bin/famfs -D "$img" verify -S 42 -f data/sets/random
run ./bin/famfs -D "$img" ls -lR
run ./bin/famfs -D "$img" getmap data/interleaved
run ./bin/famfs fsck "$img"

if [ "$(id -u)" -eq 0 ] && [ -c /dev/fuse ]; then
  mkdir -p "$mnt"
  run ./bin/famfs mount "$img" "$mnt"
  run ls -l "$mnt" "$mnt/data"
  run df -h "$mnt"
  echo
  echo "sha256 through the mount and offline:"
  sha256sum "$mnt/data/sets/random"
  ./bin/famfs -D "$img" cat data/sets/random | sha256sum
  run ./bin/famfs umount "$mnt"
else
  echo
  echo "demo: not root or no /dev/fuse: skipping the mount part"
fi
echo
echo "demo: famfs on $img (an emulated 8 GiB device): made, filled, checked clean, mounted"
