// Benchmark 5: FUSE reads through the native request queues, against the
// JS-only path and direct tmpfs reads, same run, same file:
//   tmpfs   the 1 GiB file's bytes in a tmpfs file (REF), read directly
//   js      the famfs mount served as today: the event loop reads /dev/fuse
//   clone   the native queues on cloned /dev/fuse channels
//   uring   the native queues on FUSE-over-io_uring (enable_uring turned on
//           for the run and restored after)
// The three mounts run bench/queues-server.mjs (the real Session and
// FamfsFuseFs; only the transport differs) on one famfs image with a 1 GiB
// random file (`creat -r`). Rows:
//   a. dd, 1 MiB O_DIRECT, one reader, the whole file
//   b. fio, 4 psync jobs, 1 MiB O_DIRECT sequential, a quarter each
//   c. fio, 4 psync jobs, 4 KiB O_DIRECT random, a quarter each (IOPS)
//   d. fio, 1 psync job, 4 KiB O_DIRECT random: p50 / p99 completion latency
// Every round measures every path; the table shows, per path and row, the
// median and range over the rounds, and the ratio to tmpfs measured in the
// same round (median and range). Also the server's CPU and how busy the
// machine was (this 2-core VM is shared: run it several times).
//   BENCH_QUEUES_ROUNDS (3), BENCH_QUEUES_FIO_SECONDS (5), BENCH_QUEUES_MODES (tmpfs,js,clone,uring)
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setUringParameter, uringParameter } from '../native/dist/index.js';
import { FAMFS, GiB, MKFS, ROOT, fmt, log, record, run, table, workDir } from './lib.mjs';

const work = workDir();
const ROUNDS = Number(process.env.BENCH_QUEUES_ROUNDS ?? 3);
const FIO_SECONDS = Number(process.env.BENCH_QUEUES_FIO_SECONDS ?? 5);
const SIZE = GiB;
const JOBS = 4;
const SERVER = path.join(ROOT, 'bench', 'queues-server.mjs');
const TARGETS = { dd: 0.55, seq4: 0.5, rand4: 0.2 };
const PASSTHROUGH_HP = { dd: '≈3.9 GiB/s', seq4: '≈7.2 GiB/s', rand4: '≈293k IOPS', lat: '' };

function skip(why) {
  log(`queues: skipped (${why})`);
  record({ benchmark: 'FUSE request queues', ours: 'skipped', baseline: '—', ratio: '—', target: why, met: '—' });
  process.exit(0);
}
if (process.getuid?.() !== 0 || !fs.existsSync('/dev/fuse')) skip('needs root and /dev/fuse');
for (const tool of ['fio', 'dd']) {
  if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) skip(`needs ${tool} (scripts/setup.sh installs fio)`);
}
let modes = (process.env.BENCH_QUEUES_MODES ?? 'tmpfs,js,clone,uring').split(',');
const uringBefore = uringParameter();
if (modes.includes('uring') && uringBefore === undefined) {
  log('queues: this kernel has no fuse enable_uring parameter: no io_uring row');
  modes = modes.filter((m) => m !== 'uring');
}

// ---------------------------------------------------------------- cleanup

const img = path.join(work, 'queues.img');
const ref = path.join(work, 'queues-ref.bin');
const mnt = path.join(work, 'queues-mnt');
let server;
function stopServer() {
  if (!server) return Promise.resolve();
  const s = server;
  server = undefined;
  return new Promise((resolve) => {
    const timer = setTimeout(() => s.kill('SIGKILL'), 10_000);
    s.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    s.kill('SIGTERM');
  });
}
function cleanupSync() {
  if (server) server.kill('SIGKILL');
  spawnSync('umount', ['-l', mnt], { stdio: 'ignore' });
  if (uringBefore !== undefined && uringParameter() !== uringBefore) setUringParameter(uringBefore);
  for (const f of [img, ref]) fs.rmSync(f, { force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanupSync();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- measuring

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
function cpuOf(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}
function machineCpu() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = f[3] + f[4];
  return { busy: f.reduce((a, x) => a + x, 0) - idle, total: f.reduce((a, x) => a + x, 0) };
}
const CORES = fs.readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).length;

/** Run fn; also the server's CPU (share of one core) and the whole machine's busy share. */
function withCpu(pid, fn) {
  const c0 = pid ? cpuOf(pid) : 0;
  const m0 = machineCpu();
  const t0 = performance.now();
  const result = fn();
  const sec = (performance.now() - t0) / 1000;
  const c1 = pid ? cpuOf(pid) : 0;
  const m1 = machineCpu();
  return { result, server: pid ? (c1 - c0) / sec : undefined, machine: (m1.busy - m0.busy) / (m1.total - m0.total) };
}

function dd(file) {
  const r = run('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M', 'iflag=direct']);
  const m = /^(\d+) bytes .* copied, ([\d.e+-]+) s/m.exec(r.stderr);
  if (!m || Number(m[1]) !== SIZE) throw new Error(`dd ${file}: '${r.stderr.trim()}'`);
  return Number(m[1]) / Number(m[2]);
}

function fio(file, rw, bs, jobs) {
  const part = SIZE / jobs;
  const r = run('fio', [
    `--name=${rw}`, `--filename=${file}`, `--rw=${rw}`, `--bs=${bs}`, '--direct=1', `--numjobs=${jobs}`,
    '--ioengine=psync', '--time_based', `--runtime=${FIO_SECONDS}`, '--group_reporting', `--size=${part}`,
    `--offset_increment=${part}`, '--norandommap', '--randrepeat=0', '--invalidate=0', '--allow_file_create=0',
    '--output-format=json',
  ]);
  const j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
  const rd = j.jobs[0].read;
  if (j.jobs[0].error !== 0 || rd.io_bytes === 0) throw new Error(`fio ${file}: error ${j.jobs[0].error}`);
  const pct = rd.clat_ns.percentile ?? {};
  return { bps: rd.bw_bytes, iops: rd.iops, p50: (pct['50.000000'] ?? 0) / 1000, p99: (pct['99.000000'] ?? 0) / 1000 };
}

/** All four rows on `file`; `pid` is the server's (none for tmpfs). */
function rows(file, pid) {
  const a = withCpu(pid, () => dd(file));
  const b = withCpu(pid, () => fio(file, 'read', '1m', JOBS));
  const c = withCpu(pid, () => fio(file, 'randread', '4k', JOBS));
  const d = withCpu(pid, () => fio(file, 'randread', '4k', 1));
  return {
    dd: { v: a.result, cpu: a },
    seq4: { v: b.result.bps, cpu: b },
    rand4: { v: c.result.iops, cpu: c },
    lat: { v: d.result.p50, p99: d.result.p99, iops: d.result.iops, cpu: d },
  };
}

async function startServer(mode) {
  fs.mkdirSync(mnt, { recursive: true });
  const child = spawn(process.execPath, [SERVER, mode, img, mnt], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  server = child;
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => (err += d));
  const channel = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^ready (\S+)$/m.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`server ${mode} exited ${code}: ${err}`)));
  });
  return { pid: child.pid, channel, stderr: () => err };
}

// ---------------------------------------------------------------- setup

const t00 = performance.now();
if (modes.includes('uring')) setUringParameter(true);
const results = Object.fromEntries(modes.map((m) => [m, []]));
const notes = {};
try {
  fs.rmSync(img, { force: true });
  run(MKFS, ['--create-size', '4g', img]);
  run(FAMFS, ['-D', img, 'creat', '-s', '1g', '-r', '-S', '3', 'big']);
  const out = fs.openSync(ref, 'w');
  try {
    const r = spawnSync(FAMFS, ['-D', img, 'cat', 'big'], { stdio: ['ignore', out, 'pipe'], env: process.env });
    if (r.status !== 0) throw new Error(`famfs cat big: exit ${r.status}: ${r.stderr}`);
  } finally {
    fs.closeSync(out);
  }
  log(`queues: 1 GiB famfs file and its tmpfs copy made in ${fmt.ms(performance.now() - t00)}`);
  const load0 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

  for (let round = 0; round < ROUNDS; round++) {
    // rotate the order so no path always runs first or last
    const order = modes.map((_, i) => modes[(i + round) % modes.length]);
    for (const mode of order) {
      if (mode === 'tmpfs') {
        results.tmpfs.push(rows(ref, undefined));
        continue;
      }
      const s = await startServer(mode);
      const big = path.join(mnt, 'big');
      try {
        run('cmp', [big, ref]); // the mount serves exactly REF's bytes (and warms the server's mapping)
        results[mode].push({ ...rows(big, s.pid), channel: s.channel });
      } finally {
        await stopServer();
      }
      if (mode !== 'js') {
        const last = s.stderr().trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
        if (last) notes[mode] = JSON.parse(last);
      }
    }
    log(`queues: round ${round + 1}/${ROUNDS} done (${fmt.ms(performance.now() - t00)})`);
  }
  const load1 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  notes.load = { start: load0, end: load1 };
} finally {
  await stopServer();
  cleanupSync();
}

// ---------------------------------------------------------------- tables

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gib = (x) => `${(x / GiB).toFixed(2)} GiB/s`;
const iops = (x) => `${fmt.rate(x)} IOPS`;
const us = (x) => `${x.toFixed(1)} µs`;
const pct = (x) => `${(x * 100).toFixed(0)}%`;
const span = (xs, f) => (xs.length > 1 ? `${f(Math.min(...xs))} – ${f(Math.max(...xs))}` : '');
const rx = (r) => (r < 0.1 ? `${r.toFixed(3)}×` : `${r.toFixed(2)}×`);
/** verdicts compare unrounded ratios: show enough digits that 0.198 is not printed as the 0.20 it missed */
const rx3 = (r) => `${r.toFixed(3)}×`;
const LABEL = { tmpfs: 'direct tmpfs (baseline)', js: 'famfs-ts JS-only (event loop on /dev/fuse)', clone: '**native queues, cloned /dev/fuse**', uring: '**native queues, FUSE-over-io_uring**' };

const summary = [];
for (const [row, title, show, higherBetter] of [
  ['dd', 'a. 1 MiB O_DIRECT sequential, one dd reader (1 GiB)', gib, true],
  ['seq4', `b. 1 MiB O_DIRECT sequential, ${JOBS} fio psync jobs (${FIO_SECONDS} s)`, gib, true],
  ['rand4', `c. 4 KiB O_DIRECT random, ${JOBS} fio psync jobs (${FIO_SECONDS} s)`, iops, true],
  ['lat', `d. 4 KiB O_DIRECT random, 1 fio psync job (${FIO_SECONDS} s): completion latency p50 / p99`, us, false],
]) {
  const tmpfs = results.tmpfs?.map((r) => r[row].v) ?? [];
  const out = [];
  for (const mode of modes) {
    const vals = results[mode].map((r) => r[row].v);
    if (vals.length === 0) continue;
    const ratios = mode === 'tmpfs' || tmpfs.length === 0 ? [] : results[mode].map((r, i) => (higherBetter ? r[row].v / tmpfs[i] : tmpfs[i] / r[row].v));
    const cpu = results[mode].map((r) => r[row].cpu);
    const server = cpu[0].server === undefined ? '' : `${pct(med(cpu.map((c) => c.server)))} of a core`;
    const machine = `${pct(med(cpu.map((c) => c.machine)))} of ${CORES} cores`;
    const main = row === 'lat'
      ? `${us(med(vals))} / ${us(med(results[mode].map((r) => r.lat.p99)))} (${fmt.rate(med(results[mode].map((r) => r.lat.iops)))} IOPS)`
      : show(med(vals));
    const ratio = ratios.length ? `${rx(med(ratios))} (${span(ratios, rx)})` : mode === 'tmpfs' ? '1.00×' : '';
    out.push([LABEL[mode], main, span(vals, show), ratio, server, machine]);
    if (mode !== 'tmpfs' && ratios.length && row in TARGETS) {
      const target = TARGETS[row];
      const m = med(ratios);
      summary.push([LABEL[mode].replace(/\*\*/g, ''), row, rx3(m), `≥ ${rx(target)}`, m >= target ? 'met' : 'NOT met', span(ratios, rx3)]);
      record({ benchmark: `FUSE queues ${mode} ${row}`, ours: main, baseline: show(med(tmpfs)), ratio: rx3(m), target: `≥ ${rx(target)}`, met: m >= target ? 'yes' : 'no' });
    }
  }
  if (PASSTHROUGH_HP[row]) out.push(["libfuse passthrough_hp over io_uring (issue's figure, not this run)", PASSTHROUGH_HP[row], '', '', '', '']);
  table(title, ['path', row === 'lat' ? 'median p50 / p99' : 'median', `range over ${ROUNDS} rounds`, row === 'lat' ? 'tmpfs p50 ÷ ours (range)' : 'ours ÷ tmpfs, same round (range)', 'server CPU', 'machine busy'], out);
}
table('Targets (median over rounds of the ratio to tmpfs in the same round)', ['path', 'row', 'ratio', 'target', 'verdict', 'range'], summary);
console.log(`\nchannels: ${modes.filter((m) => m !== 'tmpfs').map((m) => `${m} → ${[...new Set(results[m].map((r) => r.channel))].join('/')}`).join(', ')}`);
console.log(`load average at start ${notes.load?.start}, at end ${notes.load?.end} (${CORES} cores); the machine-busy column includes everything else running`);
for (const m of ['clone', 'uring']) {
  const n = notes[m];
  if (!n) continue;
  const q = n.stats.map((s) => `${s.kind}${s.queue}: ${fmt.n(s.nativeReads)} native, ${fmt.n(s.toJs)} to JS`).join('; ');
  console.log(`${m} queues (last round): ${q}`);
}
