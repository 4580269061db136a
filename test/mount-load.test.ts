/**
 * The FUSE daemon under a read load: 8 reader processes (python3,
 * test/mount-load-reader.py) read random ranges — random offsets, 1 byte to
 * 1 MiB, some past EOF, through O_DIRECT, buffered pread with the page cache
 * dropped now and then, and mmap — of several files for LOAD_SECONDS, and
 * compare every byte with a local copy. The files are made on the mounted
 * master with `famfs creat -r -S seed`; the local copies are generated here
 * from the seeds with the core's RandomStream (the upstream-compatible
 * stream), not read back through the mount. The daemon's VmRSS, sampled after
 * warm-up and at the end, must stay flat.
 *
 * The whole run, on each channel the daemon serves requests on: native
 * queues on cloned /dev/fuse channels (the default), native queues on
 * FUSE-over-io_uring (`uring=on`; the test turns the fuse module's
 * enable_uring on under test/uring-lock.ts and puts it back; skipped on
 * kernels without it), and the JS
 * event loop alone (`queues=0`). On the native channels, famfs status must
 * show the reads answered by the queues.
 *
 * LOAD_SECONDS is 60 (as CI runs it); FAMFS_LOAD_SECONDS overrides it for a
 * shorter run while developing.
 *
 * Needs root, /dev/fuse and python3; without them it says why and skips, or
 * fails when FAMFS_TEST_NO_SKIP is set (CI).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RandomStream } from '@famfs/core';
import { uringParameter } from '@famfs/native';
import { holdEnableUring } from './uring-lock.js';
import { MiB, REPO, type Requirement, type RunResult, lines, needsRoot, onPathReq, requireBuiltCli, runBin, tmpDirs } from './helpers.js';
import { cleanupMounts, daemonOf, devFuseReq, isMounted, pidGone, q, sh, vmRss } from './mount-helpers.js';

const MASTER = '6a3b4c2d-0000-4000-8000-0000000000ad';
const READERS = 8;
const LOAD_SECONDS = loadSeconds();
/** Readers start, the daemon's heap settles; then the first RSS sample. */
const WARMUP_SECONDS = Math.min(5, LOAD_SECONDS / 4);
/** How much the daemon's RSS may grow between the samples. */
const RSS_SLACK = 64 * MiB;
const READER = path.join(REPO, 'test/mount-load-reader.py');

function loadSeconds(): number {
  const v = process.env.FAMFS_LOAD_SECONDS;
  if (v === undefined || v === '') return 60;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`FAMFS_LOAD_SECONDS must be a positive number of seconds, not '${v}'`);
  return n;
}

interface LoadFile {
  name: string;
  size: number;
  seed: number;
  interleave?: boolean;
}

const FILES: LoadFile[] = [
  { name: 'a', size: 64 * MiB, seed: 101 },
  { name: 'sub/b', size: 20 * MiB + 4321, seed: 102 },
  { name: 'ilv', size: 48 * MiB + 999, seed: 103, interleave: true },
  { name: 'sub/deeper/small', size: 5000, seed: 104 },
  { name: 'c', size: 3 * MiB + 1, seed: 105 },
];

const tmp = tmpDirs('famfs-mount-load-');

function ok(r: RunResult, what: string): RunResult {
  expect(r.status, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

interface Channel {
  name: 'js' | 'clone' | 'uring';
  options: string;
}
const CHANNELS: Channel[] = [
  { name: 'clone', options: 'queues=2,uring=off' },
  { name: 'uring', options: 'uring=on' },
  { name: 'js', options: 'queues=0' },
];
const uringReq: Requirement = { what: 'the fuse module parameter enable_uring (FUSE-over-io_uring)', met: () => uringParameter() !== undefined };

interface QueueStatus {
  nativeReads: number;
  toJs: number;
}

for (const ch of CHANNELS) {
  const reqs = [devFuseReq, onPathReq('python3'), ...(ch.name === 'uring' ? [uringReq] : [])];
  describe.runIf(needsRoot(`famfs mount under a read load (${ch.name})`, reqs))(`famfs mount under a read load: ${ch.name} channel (-o ${ch.options})`, () => {
    let dir: string;
    let runDir: string;
    let mnt: string;
    let local: string;
    const readers: ChildProcess[] = [];
    const env = (): Record<string, string> => ({ FAMFS_SYSTEM_UUID: MASTER, FAMFS_RUN_DIR: runDir });

    // enable_uring is machine-wide: held (and put back) under the tests' lock
    let releaseUring: (() => void) | undefined;
    beforeAll(async () => {
      requireBuiltCli();
      if (ch.name === 'uring') releaseUring = await holdEnableUring();
      dir = tmp.make();
      runDir = path.join(dir, 'run');
      mnt = path.join(dir, 'mnt');
      local = path.join(dir, 'local');
      fs.mkdirSync(mnt);
      const img = path.join(dir, 'famfs.img');
      ok(runBin('mkfs.famfs', ['--create-size', '8g', img], { FAMFS_SYSTEM_UUID: MASTER }), 'mkfs.famfs');
      ok(runBin('famfs', ['mount', '-o', ch.options, img, mnt], env()), 'famfs mount');
      expect(isMounted(mnt)).toBe(true);
      const st = JSON.parse(ok(runBin('famfs', ['status', '--json', mnt], env()), 'famfs status').stdout) as { channel: string };
      expect(st.channel).toBe(ch.name);

      // the files, made on the mounted master; the expected bytes, from the seeds
      ok(runBin('famfs', ['mkdir', '-p', path.join(mnt, 'sub/deeper')], env()), 'famfs mkdir -p');
      for (const f of FILES) {
        const ilv = f.interleave ? ['-N', '4', '-B', '4', '-C', '2m'] : [];
        ok(runBin('famfs', ['creat', '-s', String(f.size), '-r', '-S', String(f.seed), ...ilv, path.join(mnt, f.name)], env()), `famfs creat ${f.name}`);
        const buf = new Uint8Array(f.size);
        new RandomStream(f.seed).fill(buf);
        fs.mkdirSync(path.dirname(path.join(local, f.name)), { recursive: true });
        fs.writeFileSync(path.join(local, f.name), buf);
      }
    }, 12 * 60_000);

    afterAll(async () => {
      for (const r of readers) if (r.exitCode === null && r.signalCode === null) r.kill('SIGKILL');
      try {
        if (dir === undefined) return;
        const forced = await cleanupMounts(dir, runDir, { FAMFS_SYSTEM_UUID: MASTER });
        if (forced.length > 0) console.warn(`mount-load.test cleanup had to force: ${forced.join('; ')}`);
      } finally {
        releaseUring?.();
      }
    });

    it('the files read back whole, and famfs verify agrees with the seeds', () => {
      const sums = ok(sh(`cd ${q(mnt)} && sha256sum ${FILES.map((f) => q(f.name)).join(' ')}`), 'sha256sum').stdout;
      expect(lines(sums)).toEqual(
        FILES.map((f) => `${createHash('sha256').update(fs.readFileSync(path.join(local, f.name))).digest('hex')}  ${f.name}`),
      );
      for (const f of FILES) ok(runBin('famfs', ['verify', '-S', String(f.seed), '-f', path.join(mnt, f.name)], env()), `verify ${f.name}`);
    });

    it(`${READERS} readers for ${LOAD_SECONDS} s: every byte right, the daemon's RSS flat`, async () => {
      const { state } = daemonOf(runDir, mnt);
      const pairs = FILES.flatMap((f) => [path.join(mnt, f.name), path.join(local, f.name)]);
      const results = Array.from({ length: READERS }, (_, i) => {
        const child = spawn('python3', [READER, String(LOAD_SECONDS), String(1000 + i), ...pairs], { stdio: ['ignore', 'pipe', 'pipe'] });
        readers.push(child);
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        return new Promise<{ i: number; code: number | null; out: string; err: string }>((resolve) => {
          child.on('close', (code) => resolve({ i, code, out, err }));
        });
      });

      await new Promise((r) => setTimeout(r, WARMUP_SECONDS * 1000));
      const rssStart = vmRss(state.pid);
      let rssMax = rssStart;
      const sampler = setInterval(() => {
        try {
          rssMax = Math.max(rssMax, vmRss(state.pid));
        } catch {
          // the daemon is gone: the checks below say so
        }
      }, 1000);
      let done: Awaited<(typeof results)[number]>[];
      try {
        done = await Promise.all(results);
      } finally {
        clearInterval(sampler);
      }
      expect(pidGone(state.pid), 'the daemon died under load').toBe(false);
      const rssEnd = vmRss(state.pid);
      rssMax = Math.max(rssMax, rssEnd);
      console.log(`famfs daemon VmRSS: start (after ${WARMUP_SECONDS} s warm-up) ${mib(rssStart)}, end ${mib(rssEnd)}, max ${mib(rssMax)}`);

      let reads = 0;
      let bytes = 0;
      let direct = 0;
      for (const d of done) {
        expect(d.code, `reader ${d.i} failed: ${d.err}`).toBe(0);
        const s = JSON.parse(d.out) as { reads: number; direct: number; buffered: number; mmap: number; bytes: number; pastEof: number };
        expect(s.reads).toBeGreaterThan(0);
        expect(s.direct).toBeGreaterThan(0);
        expect(s.buffered).toBeGreaterThan(0);
        expect(s.mmap).toBeGreaterThan(0);
        reads += s.reads;
        bytes += s.bytes;
        direct += s.direct;
      }
      console.log(`${READERS} readers, ${LOAD_SECONDS} s: ${reads} reads (${direct} O_DIRECT), ${mib(bytes)} verified`);
      expect(rssEnd).toBeLessThan(rssStart + RSS_SLACK);

      // the native channels answered the reads themselves
      const st = JSON.parse(ok(runBin('famfs', ['status', '--json', mnt], env()), 'famfs status').stdout) as { channel: string; queues: QueueStatus[] };
      expect(st.channel).toBe(ch.name);
      const native = st.queues.reduce((a, x) => a + Number(x.nativeReads), 0);
      console.log(`${ch.name}: ${native} reads answered by the native queues, ${st.queues.reduce((a, x) => a + Number(x.toJs), 0)} requests to the daemon's JS`);
      if (ch.name === 'js') expect(st.queues).toEqual([]);
      else expect(native).toBeGreaterThan(0);

      // still serving, and nothing went wrong on its side
      expect(ok(sh(`stat -c %s ${q(mnt)}/a`), 'stat').stdout.trim()).toBe(String(64 * MiB));
      const log = fs.readFileSync(state.log, 'utf8');
      expect(log.split('\n').filter((l) => / (error|warn) /.test(l))).toEqual([]);
    }, (LOAD_SECONDS + 120) * 1000);

    it('famfs umount ends the daemon after the load', () => {
      const { state } = daemonOf(runDir, mnt);
      ok(runBin('famfs', ['umount', mnt], env()), 'famfs umount');
      expect(isMounted(mnt)).toBe(false);
      expect(pidGone(state.pid)).toBe(true);
    });
  });
}
