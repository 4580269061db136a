#!/usr/bin/env bash
# Run every famfs-ts benchmark against baselines measured in the same run and
# print a table per benchmark, then a summary. Needs `make build` first
# (`make bench` does both); `bash bench/run.sh fuse cp` runs only those
# (bench/fuse.mjs, bench/cp.mjs). Scratch files live in a fresh directory on
# /dev/shm (override with BENCH_DIR) and are removed on exit. The FUSE part
# (bench/fuse.mjs) needs root and /dev/fuse, and is skipped without them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

for f in packages/famfs-core/dist/index.js packages/famfs-cli/dist/bin/famfs.js native/build/Release/famfs_native.node; do
  [ -e "$f" ] || { echo "bench: $f missing: run 'make build' first" >&2; exit 1; }
done

# Every famfs process here acts as this host (never /opt/famfs/system_uuid).
export FAMFS_SYSTEM_UUID=${FAMFS_SYSTEM_UUID:-5b0e1c7a-3f2d-4e8b-9c61-7a2d4f8e0b13}

# bench/fuse.mjs drives the mounts with fio (and dd), and compiles libfuse's
# passthrough_ll example from Debian's libfuse3-dev (with gcc and pkg-config)
# as the peer it measures against; it needs root anyway.
need=()
command -v fio >/dev/null 2>&1 || need+=(fio)
[ -e /usr/share/doc/libfuse3-dev/examples/passthrough_ll.c ] || need+=(libfuse3-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  echo "bench: ${need[*]} missing: installing with apt-get" >&2
  apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null
fi

BASE=${BENCH_DIR:-/dev/shm}
# The largest moment: a 1 GiB source, a 1 GiB copy, 1.25 GiB of warm-up, an image.
need_kb=$((4 * 1024 * 1024))
avail_kb=$(df -Pk "$BASE" | awk 'NR==2 {print $4}')
if [ "$avail_kb" -lt "$need_kb" ]; then
  echo "bench: $BASE has $((avail_kb / 1024)) MiB free; need 4096 MiB" >&2
  exit 1
fi
WORK=$(mktemp -d "$BASE/famfs-bench.XXXXXX")
# bench/fuse.mjs turns the fuse module's enable_uring on around its io_uring
# mounts and puts it back; this is the backstop should it be killed meanwhile.
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_BEFORE=$(cat "$URING_PARAM" 2>/dev/null || true)
# famfs mount daemons keep their state, sockets and logs here, not in /run/famfs.
export FAMFS_RUN_DIR="$WORK/famfs-run"
cleanup() {
  # a mount an interrupted bench/fuse.mjs left behind (famfs or passthrough_ll):
  # unmount it before removing anything
  local m
  for m in $(awk -v w="$WORK/" 'index($2, w) == 1 {print $2}' /proc/self/mounts); do
    node packages/famfs-cli/dist/bin/famfs.js umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  rm -rf --one-file-system "$WORK"
  if [ -n "$URING_BEFORE" ] && [ "$(cat "$URING_PARAM")" != "$URING_BEFORE" ]; then
    echo "$URING_BEFORE" > "$URING_PARAM" || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export BENCH_RESULTS="$WORK/results.jsonl"

echo "# famfs-ts benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), node $(node --version), $(nproc) cores, scratch $BASE)"
load() { cut -d' ' -f1 /proc/loadavg; }
echo "load average (1 min) at start: $(load) — anything else running skews the numbers"
start=$(date +%s)
# `bash bench/run.sh fuse` runs only the named benchmarks (bench/NAME.mjs).
for b in ${*:-create replay random-fill cp fuse startup}; do
  node "bench/$b.mjs" "$WORK"
done
node bench/summary.mjs "$BENCH_RESULTS"
echo
echo "bench: done in $(( $(date +%s) - start )) s; load average (1 min) at end: $(load)"
