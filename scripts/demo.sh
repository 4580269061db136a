#!/usr/bin/env bash
# The main job on an emulated device: create an 8 GiB sparse image file,
# make a famfs file system on it, check it, and show the result.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=.demo
img=$demo/famfs.img
mkdir -p "$demo"
rm -f "$img"
# An emulated host identity, so the demo does not depend on /opt/famfs.
export FAMFS_SYSTEM_UUID=${FAMFS_SYSTEM_UUID:-$(cat /proc/sys/kernel/random/uuid)}

run() { echo; echo "\$ $*"; "$@"; }
run ./bin/mkfs.famfs --create-size 8g "$img"
run ./bin/famfs fsck -v "$img"
run ./bin/famfs fsck --json "$img"
echo
echo "demo: famfs file system on $img (emulated 8 GiB device) made and checked clean"
