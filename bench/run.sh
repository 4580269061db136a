#!/usr/bin/env bash
# Run every famfs-ts benchmark against baselines measured in the same run and
# print a table per benchmark, then a summary. Needs `make build` first
# (`make bench` does both). Scratch files live in a fresh directory on
# /dev/shm (override with BENCH_DIR) and are removed on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

for f in packages/famfs-core/dist/index.js packages/famfs-cli/dist/bin/famfs.js native/build/Release/famfs_native.node; do
  [ -e "$f" ] || { echo "bench: $f missing: run 'make build' first" >&2; exit 1; }
done

# Every famfs process here acts as this host (never /opt/famfs/system_uuid).
export FAMFS_SYSTEM_UUID=${FAMFS_SYSTEM_UUID:-5b0e1c7a-3f2d-4e8b-9c61-7a2d4f8e0b13}

BASE=${BENCH_DIR:-/dev/shm}
# The largest moment: a 1 GiB source, a 1 GiB copy, 1.25 GiB of warm-up, an image.
need_kb=$((4 * 1024 * 1024))
avail_kb=$(df -Pk "$BASE" | awk 'NR==2 {print $4}')
if [ "$avail_kb" -lt "$need_kb" ]; then
  echo "bench: $BASE has $((avail_kb / 1024)) MiB free; need 4096 MiB" >&2
  exit 1
fi
WORK=$(mktemp -d "$BASE/famfs-bench.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
export BENCH_RESULTS="$WORK/results.jsonl"

echo "# famfs-ts benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), node $(node --version), $(nproc) cores, scratch $BASE)"
load() { cut -d' ' -f1 /proc/loadavg; }
echo "load average (1 min) at start: $(load) — anything else running skews the numbers"
start=$(date +%s)
node bench/create.mjs "$WORK"
node bench/replay.mjs "$WORK"
node bench/cp.mjs "$WORK"
node bench/summary.mjs "$BENCH_RESULTS"
echo
echo "bench: done in $(( $(date +%s) - start )) s; load average (1 min) at end: $(load)"
