/**
 * FuseQueues on real FUSE mounts (root, /dev/fuse): a minimal JS file system
 * (fuse-queues.testkit.ts) answers the metadata requests, the queues answer
 * the data ones, for each channel — FUSE-over-io_uring (the test turns the
 * fuse module's enable_uring on and restores it), cloned /dev/fuse channels,
 * and the JS-only baseline (the event loop reads /dev/fuse, no queues).
 *
 * Everything that touches the mount runs in child processes started
 * asynchronously: the server runs on this process's JS thread, and a
 * synchronous call into the mount from here would wait for an answer only
 * this thread can give.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { needsRoot, type Requirement } from '../../test/helpers.js';
import { type TestChannel, type TestFile, type TestMount, TestOp, mountTestFs } from './fuse-queues.testkit.js';
import { umount2, uringParameter } from './index.js';
import { holdEnableUring } from '../../test/uring-lock.js';

const MiB = 1024 * 1024;
const devFuse: Requirement = { what: '/dev/fuse', met: () => fs.existsSync('/dev/fuse') };
const uringParam: Requirement = { what: 'the fuse module parameter enable_uring (FUSE-over-io_uring)', met: () => uringParameter() !== undefined };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command in a child process without blocking this thread. */
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * MiB, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const sh = (script: string, timeoutMs?: number) => run('sh', ['-c', script], timeoutMs);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------- the device and its files

let work: string;
let image: string;
let dev: Uint8Array;
const A_SIZE = 24 * MiB + 777;
const W_SIZE = 2 * MiB + 100;
const FILES: TestFile[] = [
  // two runs, in the other order on the device
  { name: 'a', size: A_SIZE, runs: [
    { fileOffset: 0, len: 12 * MiB, devIndex: 0, devOffset: 40 * MiB },
    { fileOffset: 12 * MiB, len: A_SIZE - 12 * MiB, devIndex: 0, devOffset: 4 * MiB },
  ] },
  { name: 'b', size: MiB, runs: [{ fileOffset: 0, len: MiB, devIndex: 0, devOffset: 70 * MiB }] },
  // its allocation runs 1 MiB past the end of the file: those bytes must never change
  { name: 'w', size: W_SIZE, runs: [{ fileOffset: 0, len: 3 * MiB, devIndex: 0, devOffset: 64 * MiB }] },
];
/** where the withdraw test moves file b */
const B_MOVED = 72 * MiB;

function fileBytes(f: TestFile, img: Uint8Array = dev): Uint8Array {
  const out = new Uint8Array(f.size);
  for (const r of f.runs) {
    const n = Math.min(r.len, f.size - r.fileOffset);
    if (n > 0) out.set(img.subarray(r.devOffset, r.devOffset + n), r.fileOffset);
  }
  return out;
}

beforeAll(() => {
  work = fs.mkdtempSync('/dev/shm/famfs-queues-');
  image = path.join(work, 'dev.img');
  dev = new Uint8Array(randomBytes(80 * MiB));
  fs.writeFileSync(image, dev);
});
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------- leak accounting

/** Threads the queues start are named famfs-main0, famfs-uring1, famfs-clone2, … */
function queueThreads(): number {
  let n = 0;
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      if (fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').startsWith('famfs-')) n++;
    } catch {
      // a thread that just ended
    }
  }
  return n;
}

/** fds of the kinds the queues open: /dev/fuse, io_uring, eventfd, epoll. */
function queueFds(): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (/^\/dev\/fuse$|io_uring|\[eventfd\]|\[eventpoll\]/.test(target)) out.push(target);
  }
  return out.sort();
}

// ---------------------------------------------------------------- mounts

const mounts: TestMount[] = [];
let mountSeq = 0;

function mountIt(channel: TestChannel, extra: Partial<Parameters<typeof mountTestFs>[0]> = {}): TestMount {
  const mountpoint = path.join(work, `mnt${mountSeq++}`);
  fs.mkdirSync(mountpoint);
  const m = mountTestFs({ channel, image, mountpoint, files: FILES, publish: true, ...extra });
  mounts.push(m);
  return m;
}

async function closeAll(): Promise<void> {
  const errors: unknown[] = [];
  for (const m of mounts.splice(0)) await m.close().catch((e: unknown) => errors.push(e));
  if (errors.length > 0) throw errors[0];
}

/** Wait until the mount answers (INIT, then the queues' channel is up). */
async function ready(m: TestMount, channel: TestChannel): Promise<void> {
  const r = await run('stat', ['-c', '%s', path.join(m.mountpoint, 'a')]);
  expect(r.stdout.trim()).toBe(String(A_SIZE));
  if (m.queues) {
    const want = channel === 'uring' ? 'uring' : 'clone';
    for (let i = 0; i < 200 && m.queues.info().channel !== want; i++) await sleep(10);
    expect(m.queues.info()).toMatchObject({ channel: want, setupErrors: [] });
  }
}

function stat(m: TestMount) {
  const s = m.queues?.stats() ?? [];
  return {
    nativeReads: s.reduce((n, q) => n + q.nativeReads, 0),
    nativeWrites: s.reduce((n, q) => n + q.nativeWrites, 0),
    toJs: s.reduce((n, q) => n + q.toJs, 0),
    failures: s.reduce((n, q) => n + q.failures, 0),
    malformed: s.reduce((n, q) => n + q.malformed, 0),
  };
}

const PY_MMAP_SHA = 'import mmap,hashlib,sys\nf=open(sys.argv[1],"rb")\nm=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ)\nprint(hashlib.sha256(m).hexdigest())';

// The withdraw test's reader: O_DIRECT 4 KiB reads at offset 0 in a loop;
// prints what it sees each time that changes: X (the first region), Y (the
// second), E<errno>, or "other <hex>" (bytes from neither: stale or torn).
const PY_READER = `
import mmap, os, sys, time
path, xhex, yhex = sys.argv[1:4]
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
print("open", flush=True)
last = None
errors = 0
deadline = time.time() + 20
while time.time() < deadline and errors < 200:
    try:
        os.preadv(fd, [buf], 0)
        head = buf[:32].hex()
        s = "X" if head == xhex else "Y" if head == yhex else "other " + head
    except OSError as e:
        s = "E%d" % e.errno
        errors += 1
    if s != last:
        print(s, flush=True)
        last = s
`;

// Load: N threads, each with its own fd opened before "open" is printed, doing
// 64 KiB O_DIRECT reads at random offsets for S seconds. Exit 0 when every
// read succeeded, else print "error <errno>" (the first) and exit 1.
const PY_LOAD = `
import mmap, os, random, sys, threading, time
path, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fds = [os.open(path, os.O_RDONLY | os.O_DIRECT) for _ in range(n)]
size = os.fstat(fds[0]).st_size
print("open", flush=True)
errors = []
def work(fd):
    buf = mmap.mmap(-1, 65536)
    end = time.time() + secs
    while time.time() < end and not errors:
        try:
            os.preadv(fd, [buf], random.randrange(0, size - 65536) & ~4095)
        except OSError as e:
            errors.append(e.errno)
ts = [threading.Thread(target=work, args=(fd,)) for fd in fds]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    print("error %d" % errors[0], flush=True)
    sys.exit(1)
print("done", flush=True)
`;

/** A child process whose stdout lines are collected as they come. */
function lines(child: ChildProcess): { all: string[]; waitFor(line: string, ms?: number): Promise<void> } {
  const all: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    all.push(...parts);
  });
  return {
    all,
    async waitFor(line, ms = 10_000) {
      const t0 = Date.now();
      while (!all.includes(line)) {
        if (Date.now() - t0 > ms) throw new Error(`no "${line}" from the child (saw ${JSON.stringify(all)})`);
        await sleep(5);
      }
    },
  };
}

/** Wait until the mount has served `n` more reads than when called: the load is really on. */
async function loaded(m: TestMount, n = 200): Promise<void> {
  const reads = () => stat(m).nativeReads + m.fs.log.jsReads;
  const r0 = reads();
  for (let i = 0; i < 1000 && reads() < r0 + n; i++) await sleep(10);
  expect(reads()).toBeGreaterThanOrEqual(r0 + n);
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

// ---------------------------------------------------------------- tests

const CHANNELS: Array<{ channel: TestChannel; reqs: Requirement[] }> = [
  { channel: 'uring', reqs: [devFuse, uringParam] },
  { channel: 'clone', reqs: [devFuse] },
  { channel: 'js-only', reqs: [devFuse] },
];

for (const { channel, reqs } of CHANNELS) {
  describe.runIf(needsRoot(`FUSE request queues, ${channel} channel, real mount`, reqs))(`real mount, ${channel} channel`, () => {
    // enable_uring is machine-wide: held (and put back) under the tests' lock
    let releaseUring: (() => void) | undefined;
    beforeAll(async () => {
      if (channel === 'uring') releaseUring = await holdEnableUring();
    }, 11 * 60_000);
    afterAll(() => releaseUring?.());
    afterEach(closeAll);

    const dataPaths = channel === 'js-only' ? [false] : [true, false];
    for (const publish of dataPaths) {
      const how = channel === 'js-only' ? 'JS answers READ' : publish ? 'the queues answer READ' : 'READ handed to JS through the queues';
      it(`serves the files byte for byte: buffered, O_DIRECT and mmap reads (${how})`, async () => {
        const m = mountIt(channel, { publish });
        await ready(m, channel);
        for (const f of FILES) {
          const want = sha(fileBytes(f));
          const p = path.join(m.mountpoint, f.name);
          const buffered = await run('sha256sum', [p]);
          expect(buffered.stdout.split(' ')[0], `${f.name} buffered`).toBe(want);
          const direct = await sh(`dd if='${p}' iflag=direct bs=1M status=none | sha256sum`);
          expect(direct.stdout.split(' ')[0], `${f.name} O_DIRECT`).toBe(want);
          const mapped = await run('python3', ['-c', PY_MMAP_SHA, p]);
          expect(mapped.stdout.trim(), `${f.name} mmap`).toBe(want);
        }
        // small and unaligned O_DIRECT-free reads: odd offsets and lengths
        const piece = await sh(`dd if='${path.join(m.mountpoint, 'a')}' bs=1 skip=${12 * MiB - 5} count=11 status=none | od -An -tx1 -v`);
        expect(piece.stdout.replace(/\s+/g, '')).toBe(Buffer.from(fileBytes(FILES[0]!).subarray(12 * MiB - 5, 12 * MiB + 6)).toString('hex'));
        const s = stat(m);
        if (channel !== 'js-only' && publish) {
          expect(s.nativeReads).toBeGreaterThan(0);
          expect(m.fs.log.jsReads).toBe(0);
        } else {
          expect(s.nativeReads).toBe(0);
          expect(m.fs.log.jsReads).toBeGreaterThan(0);
        }
        expect(s.failures).toBe(0);
        expect(s.malformed).toBe(0);
      });
    }

    it('writes land in the device; a write crossing the end is short, past it EFBIG; nothing past EOF changes', async () => {
      const m = mountIt(channel);
      await ready(m, channel);
      const w = FILES[2]!;
      const p = path.join(m.mountpoint, 'w');
      const data = new Uint8Array(randomBytes(256 * 1024));
      const src = path.join(work, 'data.bin');
      fs.writeFileSync(src, data);
      const before = fs.readFileSync(image);
      // O_DIRECT, 64 KiB blocks, at 1 MiB
      const direct = await sh(`dd if='${src}' of='${p}' bs=64k seek=16 oflag=direct conv=notrunc status=none`);
      expect(direct.code, direct.stderr).toBe(0);
      // buffered, unaligned, at 100,003
      const buffered = await sh(`dd if='${src}' of='${p}' bs=1000 count=7 seek=100003 oflag=seek_bytes conv=notrunc status=none`);
      expect(buffered.code, buffered.stderr).toBe(0);
      // crossing the end: only the bytes inside the file are written (dd sees a short write and fails)
      const crossing = await sh(`dd if='${src}' of='${p}' bs=4096 count=1 seek=${W_SIZE - 1000} oflag=seek_bytes,direct conv=notrunc status=none`);
      expect(crossing.code).not.toBe(0);
      const past = await sh(`dd if='${src}' of='${p}' bs=4096 count=1 seek=${W_SIZE + 4096} oflag=seek_bytes conv=notrunc`);
      expect(past.code).not.toBe(0);
      expect(past.stderr).toMatch(/File too large/);
      const after = new Uint8Array(fs.readFileSync(image));
      const expected = new Uint8Array(before);
      const at = w.runs[0]!.devOffset;
      expected.set(data, at + MiB);
      expected.set(data.subarray(0, 7000), at + 100_003);
      expected.set(data.subarray(0, 1000), at + W_SIZE - 1000);
      expect(sha(after.subarray(at, at + 3 * MiB))).toBe(sha(expected.subarray(at, at + 3 * MiB)));
      expect(sha(after)).toBe(sha(expected)); // and nothing anywhere else
      // and the mount reads back what the device holds
      const back = await run('sha256sum', [p]);
      expect(back.stdout.split(' ')[0]).toBe(sha(fileBytes(w, after)));
      if (channel !== 'js-only') {
        expect(stat(m).nativeWrites).toBeGreaterThan(0);
        expect(m.fs.log.jsWrites).toBe(0);
      }
      fs.writeFileSync(image, dev);
    });

    it('a withdrawn handle answers EBADF under load, never stale bytes', async () => {
      const m = mountIt(channel);
      await ready(m, channel);
      const b = FILES[1]!;
      const xhex = Buffer.from(dev.subarray(b.runs[0]!.devOffset, b.runs[0]!.devOffset + 32)).toString('hex');
      const yhex = Buffer.from(dev.subarray(B_MOVED, B_MOVED + 32)).toString('hex');
      // load on the other file meanwhile
      const load = sh(`for i in 1 2 3 4 5 6; do dd if='${path.join(m.mountpoint, 'a')}' of=/dev/null bs=1M iflag=direct status=none; done`);
      const reader = spawn('python3', ['-c', PY_READER, path.join(m.mountpoint, 'b'), xhex, yhex], { stdio: ['ignore', 'pipe', 'inherit'] });
      const out = lines(reader);
      await out.waitFor('X');
      const nodeid = m.fs.nodeidOf('b');
      const fhs = [...m.fs.handles].filter(([, h]) => h.nodeid === nodeid && h.open).map(([fh]) => fh);
      expect(fhs).toHaveLength(1);
      const fh = fhs[0]!;
      if (m.queues) {
        // a refresh moved the file: the new table replaces the old one
        m.queues.publish(fh, { nodeid, size: b.size, writable: false, runs: [{ fileOffset: 0, len: MiB, devIndex: 0, devOffset: B_MOVED }] });
        await out.waitFor('Y');
      }
      await sleep(100);
      m.fs.revoke(fh); // withdraw + the handle is closed for JS
      await out.waitFor('E9');
      expect(await exited(reader)).toBe(0);
      await load;
      // X, then (native channels) Y, then EBADF: never back to an older answer, never other bytes
      expect(out.all).toEqual(['open', 'X', ...(m.queues ? ['Y'] : []), 'E9']);
    });

    it('INTERRUPT and FORGET while requests are in flight', async () => {
      const m = mountIt(channel, { delay: { opcode: TestOp.LOOKUP, ms: 1500, times: 1 } });
      // the first LOOKUP (of "a") is answered only after 1.5 s; its caller is killed meanwhile
      const t0 = Date.now();
      const killed = await run('timeout', ['-s', 'INT', '0.3', 'stat', path.join(m.mountpoint, 'a')]);
      expect(killed.code).not.toBe(0);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000); // it could not die before the answer
      for (let i = 0; i < 300 && m.fs.log.lateReplies.delivered + m.fs.log.lateReplies.dropped === 0; i++) await sleep(10);
      expect(m.fs.log.lateReplies.delivered + m.fs.log.lateReplies.dropped).toBe(1);
      expect(m.fs.log.ops.get(TestOp.INTERRUPT) ?? 0).toBeGreaterThanOrEqual(1);
      await ready(m, channel);
      // every inode the kernel holds is forgotten when its dentries go
      const ls = await run('ls', ['-l', m.mountpoint]);
      expect(ls.stdout).toMatch(/ a\n/);
      await sh('echo 2 > /proc/sys/vm/drop_caches');
      const forgets = () => (m.fs.log.ops.get(TestOp.FORGET) ?? 0) + (m.fs.log.ops.get(TestOp.BATCH_FORGET) ?? 0);
      for (let i = 0; i < 300 && forgets() === 0; i++) await sleep(10);
      expect(forgets()).toBeGreaterThan(0);
      // and it keeps serving
      const again = await run('sha256sum', [path.join(m.mountpoint, 'b')]);
      expect(again.stdout.split(' ')[0]).toBe(sha(fileBytes(FILES[1]!)));
      if (m.queues) expect(m.queues.info().pendingReplies).toBe(0);
    });

    it('ends cleanly when unmounted under load: threads joined, fds closed', async () => {
      const threads0 = queueThreads();
      const fds0 = queueFds();
      expect(threads0).toBe(0);
      // (1) lazy unmount under load: serving goes on until the last reader closes
      const m1 = mountIt(channel);
      await ready(m1, channel);
      const a1 = path.join(m1.mountpoint, 'a');
      const load1 = spawn('python3', ['-c', PY_LOAD, a1, '4', '1.5'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const out1 = lines(load1);
      await out1.waitFor('open');
      await loaded(m1);
      umount2(m1.mountpoint, 2 /* MNT_DETACH */);
      expect(await exited(load1)).toBe(0);
      expect(out1.all).toEqual(['open', 'done']);
      expect(await m1.ended).toEqual({ reason: 'unmounted' });
      // (2) forced unmount under load: the kernel aborts the connection, callers get ENOTCONN
      const m2 = mountIt(channel);
      await ready(m2, channel);
      const a2 = path.join(m2.mountpoint, 'a');
      const load2 = spawn('python3', ['-c', PY_LOAD, a2, '4', '20'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const out2 = lines(load2);
      await out2.waitFor('open');
      await loaded(m2);
      try {
        umount2(m2.mountpoint, 1 /* MNT_FORCE: aborts; EBUSY while files are open */);
      } catch {
        // EBUSY: the abort happened anyway
      }
      const t0 = Date.now();
      expect(await m2.ended).toEqual({ reason: 'unmounted' });
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(await exited(load2)).toBe(1);
      // ECONNABORTED for the reads in flight at the abort, ENOTCONN for any later one
      expect(out2.all).toHaveLength(2);
      expect(out2.all[1]).toMatch(/^error (103|107)$/);
      expect(Date.now() - t0).toBeLessThan(10_000); // and it did not wait out its 20 s
      await closeAll();
      expect(queueThreads()).toBe(0);
      expect(queueFds()).toEqual(fds0);
      if (m2.queues) expect(m2.queues.info()).toMatchObject({ state: 'closed', liveThreads: 0, pendingReplies: 0 });
      expect(fs.readFileSync('/proc/self/mounts', 'utf8')).not.toContain(work);
    });
  });
}
