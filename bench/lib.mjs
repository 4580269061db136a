// Shared helpers for the famfs-ts benchmarks: timing, tables, results, CLI runs.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FAMFS = path.join(ROOT, 'bin', 'famfs');
export const MKFS = path.join(ROOT, 'bin', 'mkfs.famfs');
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

// Every famfs process the benchmarks start must act as this host: without it
// the CLI would fall back to (and create) /opt/famfs/system_uuid.
if (!process.env.FAMFS_SYSTEM_UUID) {
  process.stderr.write('bench: FAMFS_SYSTEM_UUID is not set (bench/run.sh sets it)\n');
  process.exit(2);
}

export function systemUuid() {
  return process.env.FAMFS_SYSTEM_UUID;
}

/** The scratch directory given as argv[2] (bench/run.sh makes and removes it). */
export function workDir() {
  const d = process.argv[2];
  if (!d || !fs.existsSync(d)) throw new Error('usage: node bench/<name>.mjs <scratch dir>');
  return d;
}

export const now = () => performance.now();

/** Time fn once: milliseconds. */
export function timeIt(fn) {
  const t0 = now();
  const r = fn();
  return { ms: now() - t0, result: r };
}

/**
 * Run `fn` `reps` times (each with its own untimed `setup`), return the best
 * and the median milliseconds.
 */
export function bestOf(reps, fn, setup = () => undefined, teardown = () => undefined) {
  const all = [];
  for (let i = 0; i < reps; i++) {
    const ctx = setup(i);
    const t0 = now();
    fn(ctx, i);
    all.push(now() - t0);
    teardown(ctx, i);
  }
  const sorted = [...all].sort((a, b) => a - b);
  return { best: sorted[0], median: sorted[Math.floor(sorted.length / 2)], all };
}

/** Run a command; throws unless its exit status is in `ok`. */
export function run(cmd, args, { ok = [0], quiet = true } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: process.env, maxBuffer: 64 * MiB });
  if (r.error) throw r.error;
  if (!ok.includes(r.status)) {
    throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  }
  if (!quiet) process.stdout.write(r.stdout);
  return r;
}

/** Wall time of one command run, milliseconds. */
export function timeRun(cmd, args, opts) {
  const t0 = now();
  const r = run(cmd, args, opts);
  return { ms: now() - t0, r };
}

/**
 * Warm the page allocator: write `bytes` of zeros to a scratch tmpfs file and
 * delete it. This VM returns freed guest memory to its host (virtio-balloon
 * free page reporting, ~2 s after a free); memory touched for the first time
 * afterwards costs a host page fault per page, which made a 1 GiB copy swing
 * between 0.4 s and 2 s. Calling this right before each timed copy (baseline
 * and famfs alike) hands both just-freed, host-backed pages.
 */
export function warmMemory(dir, bytes) {
  const f = path.join(dir, 'warm.tmp');
  const z = Buffer.alloc(64 * MiB);
  const fd = fs.openSync(f, 'w');
  try {
    for (let off = 0; off < bytes; off += z.length) fs.writeSync(fd, z, 0, Math.min(z.length, bytes - off));
  } finally {
    fs.closeSync(fd);
    fs.rmSync(f, { force: true });
  }
}

/** mkfs.famfs a new sparse image of `size` (e.g. '32g') with log length `logLen` (e.g. '8m'). */
export function mkImage(img, size, logLen = '8m') {
  fs.rmSync(img, { force: true });
  run(MKFS, ['--create-size', size, '-l', logLen, img]);
}

export const fmt = {
  ms: (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`),
  rate: (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0)),
  x: (r) => `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`,
  mbs: (bytes, ms) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`,
  n: (n) => n.toLocaleString('en-US'),
};

/** Print a markdown table. */
export function table(title, header, rows) {
  const all = [header, ...rows].map((r) => r.map(String));
  const w = header.map((_, i) => Math.max(3, ...all.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  const out = [`\n### ${title}\n`, line(all[0]), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...all.slice(1).map(line)];
  console.log(out.join('\n'));
}

/** One row of the final summary (bench/summary.mjs prints them all). */
export function record(row) {
  const f = process.env.BENCH_RESULTS;
  if (f) fs.appendFileSync(f, `${JSON.stringify(row)}\n`);
}

export function log(msg) {
  process.stderr.write(`bench: ${msg}\n`);
}
