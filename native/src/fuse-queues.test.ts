/**
 * FuseQueues over a SOCK_SEQPACKET pair: the test plays the kernel on one
 * end (one message per read and write, as /dev/fuse), so the native data
 * paths and the hand-off to JS are checked byte for byte, including
 * malformed requests the real kernel never sends. Every request and every
 * expected reply is built by hand from the offsets of fuse.h.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FuseQueues, type QueuedRequest, type RunTable } from './fuse-queues.js';
import { isNativeError, setNonblock, socketpairSeqpacket } from './index.js';

const OP = { FORGET: 2, GETATTR: 3, READ: 15, WRITE: 16, INIT: 26, INTERRUPT: 36 } as const;
const EBADF = 9;
const EIO = 5;
const EFBIG = 27;
const KiB = 1024;

let dir: string;
let devFile: string;
const DEV_SIZE = 256 * KiB;
/** the device: byte i = (i * 7 + (i >> 8)) & 0xff */
const devBytes = new Uint8Array(DEV_SIZE);
for (let i = 0; i < DEV_SIZE; i++) devBytes[i] = (i * 7 + (i >> 8)) & 0xff;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-queues-'));
  devFile = path.join(dir, 'dev.img');
  fs.writeFileSync(devFile, devBytes);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// ---------------------------------------------------------------- hand-built messages

function inHeader(len: number, opcode: number, unique: bigint, nodeid: bigint, extlen = 0): Uint8Array {
  const b = new Uint8Array(40);
  const v = new DataView(b.buffer);
  v.setUint32(0, len, true);
  v.setUint32(4, opcode, true);
  v.setBigUint64(8, unique, true);
  v.setBigUint64(16, nodeid, true);
  v.setUint16(36, extlen, true);
  return b;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** fuse_read_in / fuse_write_in: fh, offset, size (the rest zero) */
function rwIn(fh: bigint, offset: number, size: number): Uint8Array {
  const b = new Uint8Array(40);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, fh, true);
  v.setBigUint64(8, BigInt(offset), true);
  v.setUint32(16, size, true);
  return b;
}

function readReq(unique: bigint, nodeid: bigint, fh: bigint, offset: number, size: number): Uint8Array {
  return cat(inHeader(80, OP.READ, unique, nodeid), rwIn(fh, offset, size));
}

function writeReq(unique: bigint, nodeid: bigint, fh: bigint, offset: number, data: Uint8Array, size = data.length): Uint8Array {
  return cat(inHeader(80 + data.length, OP.WRITE, unique, nodeid), rwIn(fh, offset, size), data);
}

function outHeader(len: number, error: number, unique: bigint): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, len, true);
  v.setInt32(4, error, true);
  v.setBigUint64(8, unique, true);
  return b;
}

function writeOut(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

// ---------------------------------------------------------------- the fake kernel

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Harness {
  q: FuseQueues;
  k: number;
  got: QueuedRequest[];
  send(msg: Uint8Array): void;
  recv(timeoutMs?: number): Promise<Uint8Array>;
  /** wait until JS has received `n` requests */
  requests(n: number): Promise<QueuedRequest[]>;
  close(): void;
}

const open: Harness[] = [];

/** A JS side that answers everything but INIT (init() does) with EBADF, as a server does for a closed handle. */
function answerEbadf(h: Harness, r: QueuedRequest): void {
  const v = new DataView(r.bytes.buffer);
  if (v.getUint32(4, true) !== OP.INIT) void h.q.reply(r.token, [outHeader(16, -EBADF, v.getBigUint64(8, true))]);
}
afterEach(() => {
  for (const h of open.splice(0)) h.close();
});

function harness(onRequest?: (h: Harness, r: QueuedRequest) => void): Harness {
  const [k, s] = socketpairSeqpacket();
  setNonblock(k, true);
  const got: QueuedRequest[] = [];
  const buf = new Uint8Array(2 * 1024 * 1024);
  let closed = false;
  const h: Harness = {
    q: new FuseQueues({
      fd: s,
      clones: 0,
      onRequest: (r) => {
        got.push(r);
        onRequest?.(h, r);
      },
    }),
    k,
    got,
    send: (msg) => void fs.writeSync(k, msg),
    async recv(timeoutMs = 5000) {
      const t0 = Date.now();
      for (;;) {
        try {
          const n = fs.readSync(k, buf, 0, buf.length, null);
          return buf.slice(0, n);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        }
        if (Date.now() - t0 > timeoutMs) throw new Error('no reply from the queues');
        await sleep(1);
      }
    },
    async requests(n) {
      const t0 = Date.now();
      while (got.length < n) {
        if (Date.now() - t0 > 5000) throw new Error(`JS got ${got.length} requests, expected ${n}`);
        await sleep(1);
      }
      return got;
    },
    close() {
      if (closed) return;
      closed = true;
      h.q.stop();
      fs.closeSync(k);
      fs.closeSync(s);
    },
  };
  open.push(h);
  h.q.addDevice(0, { path: devFile, writable: true });
  h.q.start();
  return h;
}

/** INIT through JS, answered without OVER_IO_URING: the queues stay on the session fd (clones: 0). */
async function init(h: Harness): Promise<void> {
  const body = new Uint8Array(64);
  const v = new DataView(body.buffer);
  v.setUint32(0, 7, true);
  v.setUint32(4, 45, true);
  h.send(cat(inHeader(104, OP.INIT, 1n, 0n), body));
  const [r] = await h.requests(1);
  const out = new Uint8Array(64);
  const o = new DataView(out.buffer);
  o.setUint32(0, 7, true);
  o.setUint32(4, 45, true);
  o.setUint32(20, 64 * KiB, true); // max_write
  expect(h.q.reply(r!.token, [outHeader(80, 0, 1n), out])).toBe(true);
  expect(await h.recv()).toEqual(cat(outHeader(80, 0, 1n), out));
  expect(h.q.info().channel).toBe('clone');
}

const NODE = 5n;
const FH = 77n;
/** file of 100,000 bytes: device [64 KiB, 64 KiB + 40,000) then [4 KiB, 4 KiB + 60,000) */
const TABLE: RunTable = {
  nodeid: NODE,
  size: 100_000,
  writable: true,
  runs: [
    { fileOffset: 0, len: 40_000, devIndex: 0, devOffset: 64 * KiB },
    { fileOffset: 40_000, len: 60_000, devIndex: 0, devOffset: 4 * KiB },
  ],
};
function fileBytes(offset: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const p = offset + i;
    out[i] = devBytes[p < 40_000 ? 64 * KiB + p : 4 * KiB + (p - 40_000)]!;
  }
  return out;
}

// ---------------------------------------------------------------- tests

describe('FuseQueues: argument checks (TypeError/RangeError before native code)', () => {
  it('refuses bad options', () => {
    expect(() => new FuseQueues({ fd: -1, onRequest: () => {} })).toThrow(RangeError);
    expect(() => new FuseQueues({ fd: 3, onRequest: 'x' as unknown as () => void })).toThrow(TypeError);
    expect(() => new FuseQueues({ fd: 3, onRequest: () => {}, queueDepth: 0 })).toThrow(RangeError);
  });

  it('refuses malformed run tables and unknown devices', () => {
    const q = new FuseQueues({ fd: 0, onRequest: () => {} });
    const run = { fileOffset: 0, len: 4096, devIndex: 0, devOffset: 0 };
    expect(() => q.publish(1 as unknown as bigint, { ...TABLE, runs: [run] })).toThrow(TypeError);
    expect(() => q.publish(1n, { nodeid: 1n, size: 8192, writable: false, runs: [run] })).toThrow(/cover/);
    expect(() => q.publish(1n, { nodeid: 1n, size: 0, writable: false, runs: [{ ...run, fileOffset: 5 }] })).toThrow(/contiguous/);
    expect(() => q.publish(1n, { nodeid: 1n, size: 10, writable: false, runs: [{ ...run, len: 0 }] })).toThrow(RangeError);
    // contiguous and covering, but device 0 was never added: the native backstop says so
    expect(() => q.publish(1n, { nodeid: 1n, size: 10, writable: false, runs: [run] })).toThrow(/device/);
    q.addDevice(0, { path: devFile, writable: false });
    expect(() => q.publish(1n, { nodeid: 1n, size: 10, writable: false, runs: [{ ...run, devOffset: DEV_SIZE }] })).toThrow(/outside/);
    let err: unknown;
    try {
      q.publish(1n, { nodeid: 1n, size: 10, writable: true, runs: [run] });
    } catch (e) {
      err = e;
    }
    expect(isNativeError(err) && err.code).toBe('EROFS');
    expect(q.publish(1n, { nodeid: 1n, size: 10, writable: false, runs: [run] })).toBe(1);
    expect(q.publish(1n, { nodeid: 1n, size: 10, writable: false, runs: [run] })).toBe(2);
    expect(q.withdraw(1n)).toBe(true);
    expect(q.withdraw(1n)).toBe(false);
    expect(() => q.addDevice(0, { path: devFile, writable: false })).toThrow(/already/);
    expect(() => q.addDevice(1, { path: devFile, fd: 3, writable: false })).toThrow(TypeError);
    expect(() => q.reply(1, 'x' as unknown as Uint8Array[])).toThrow(TypeError);
    expect(() => q.reply(0, [])).toThrow(RangeError);
    q.stop();
  });
});

describe('FuseQueues over a SOCK_SEQPACKET pair (the test plays the kernel)', () => {
  it('hands INIT to JS, writes its reply unchanged, and picks cloned channels without OVER_IO_URING', async () => {
    const h = harness();
    await init(h);
    expect(h.got[0]!.queue).toBe(0);
    expect(new DataView(h.got[0]!.bytes.buffer).getUint32(4, true)).toBe(OP.INIT);
  });

  it('answers READ on a published handle from the device, across runs, clamped at the file size', async () => {
    const h = harness();
    await init(h);
    h.q.publish(FH, TABLE);
    h.send(readReq(10n, NODE, FH, 39_000, 4096)); // crosses from run 0 into run 1
    expect(await h.recv()).toEqual(cat(outHeader(16 + 4096, 0, 10n), fileBytes(39_000, 4096)));
    h.send(readReq(11n, NODE, FH, 98_000, 65536)); // past the end: short
    expect(await h.recv()).toEqual(cat(outHeader(16 + 2000, 0, 11n), fileBytes(98_000, 2000)));
    h.send(readReq(12n, NODE, FH, 100_000, 4096)); // at the end: empty
    expect(await h.recv()).toEqual(outHeader(16, 0, 12n));
    h.send(readReq(13n, NODE, FH, 2 ** 40, 4096)); // far past it
    expect(await h.recv()).toEqual(outHeader(16, 0, 13n));
    const s = h.q.stats()[0]!;
    expect(s.nativeReads).toBe(4);
    expect(s.readBytes).toBe(6096);
    expect(s.toJs).toBe(1); // INIT only
  });

  it('hands to JS what it must not answer: unknown fh, another nodeid, extensions, short and malformed READs', async () => {
    const h = harness(answerEbadf);
    await init(h);
    h.q.publish(FH, TABLE);
    const cases: Uint8Array[] = [
      readReq(20n, NODE, FH + 1n, 0, 4096), // unknown fh
      readReq(21n, NODE + 1n, FH, 0, 4096), // the table belongs to another inode
      cat(inHeader(80, OP.READ, 22n, NODE, 1), rwIn(FH, 0, 4096)), // total_extlen != 0
      cat(inHeader(60, OP.READ, 23n, NODE), rwIn(FH, 0, 4096).subarray(0, 20)), // too short for fuse_read_in
      cat(inHeader(96, OP.READ, 24n, NODE), rwIn(FH, 0, 4096)), // len says 96, 80 bytes came
      cat(inHeader(88, OP.READ, 25n, NODE), rwIn(FH, 0, 4096), new Uint8Array(8)), // a READ with a payload
    ];
    for (const [i, msg] of cases.entries()) {
      h.send(msg);
      expect(await h.recv()).toEqual(outHeader(16, -EBADF, 20n + BigInt(i)));
      // JS saw the request byte for byte
      expect(h.got.at(-1)!.bytes).toEqual(msg);
    }
    const s = h.q.stats()[0]!;
    expect(s.nativeReads).toBe(0);
    expect(s.toJs).toBe(1 + cases.length);
    expect(s.malformed).toBe(1); // the one whose len disagrees with what was read
  });

  it('hands a request shorter than its header to JS, and keeps serving', async () => {
    const h = harness((hh, r) => {
      if (r.bytes.length < 40) hh.q.noReply(r.token);
    });
    await init(h);
    h.send(new Uint8Array([1, 2, 3]));
    const rs = await h.requests(2);
    expect(rs[1]!.bytes).toEqual(new Uint8Array([1, 2, 3]));
    expect(h.q.stats()[0]!.malformed).toBe(1);
    h.q.publish(FH, TABLE);
    h.send(readReq(30n, NODE, FH, 0, 16));
    expect(await h.recv()).toEqual(cat(outHeader(32, 0, 30n), fileBytes(0, 16)));
  });

  it('WRITE on a writable table lands in the device and is flushed; crossing the end is short; past it is EFBIG', async () => {
    const h = harness();
    await init(h);
    h.q.publish(FH, TABLE);
    const data = new Uint8Array(3000).map((_, i) => (i * 13 + 1) & 0xff);
    h.send(writeReq(40n, NODE, FH, 38_500, data)); // crosses runs
    expect(await h.recv()).toEqual(cat(outHeader(24, 0, 40n), writeOut(3000)));
    const dev = fs.readFileSync(devFile);
    expect(dev.subarray(64 * KiB + 38_500, 64 * KiB + 40_000)).toEqual(Buffer.from(data.subarray(0, 1500)));
    expect(dev.subarray(4 * KiB, 4 * KiB + 1500)).toEqual(Buffer.from(data.subarray(1500)));

    const before = fs.readFileSync(devFile);
    h.send(writeReq(41n, NODE, FH, 99_000, new Uint8Array(2000).fill(0xee))); // 1000 bytes fit
    expect(await h.recv()).toEqual(cat(outHeader(24, 0, 41n), writeOut(1000)));
    h.send(writeReq(42n, NODE, FH, 100_000, new Uint8Array(10).fill(0xee))); // nothing fits
    expect(await h.recv()).toEqual(outHeader(16, -EFBIG, 42n));
    const after = fs.readFileSync(devFile);
    // only the 1000 bytes inside the file changed; the byte after the file's last one did not
    const end = 4 * KiB + 60_000;
    expect(after.subarray(end - 1000, end)).toEqual(Buffer.alloc(1000, 0xee));
    expect(after.subarray(end)).toEqual(before.subarray(end));
    expect(after.subarray(0, end - 1000)).toEqual(before.subarray(0, end - 1000));
    const s = h.q.stats()[0]!;
    expect(s.nativeWrites).toBe(2);
    expect(s.writeBytes).toBe(4000);
    expect(s.nativeErrors).toBe(1);
    fs.writeFileSync(devFile, devBytes);
  });

  it('hands WRITE to JS on a read-only table and when the size disagrees with the data', async () => {
    const h = harness(answerEbadf);
    await init(h);
    h.q.publish(FH, { ...TABLE, writable: false });
    h.send(writeReq(50n, NODE, FH, 0, new Uint8Array(10)));
    expect(await h.recv()).toEqual(outHeader(16, -EBADF, 50n));
    h.q.publish(FH, TABLE);
    h.send(writeReq(51n, NODE, FH, 0, new Uint8Array(10), 11));
    expect(await h.recv()).toEqual(outHeader(16, -EBADF, 51n));
    expect(fs.readFileSync(devFile)).toEqual(Buffer.from(devBytes));
    expect(h.q.stats()[0]!.nativeWrites).toBe(0);
  });

  it('after withdraw a READ goes to JS (never the old table); a republished table serves its new runs', async () => {
    const h = harness(answerEbadf);
    await init(h);
    h.q.publish(FH, TABLE);
    h.send(readReq(60n, NODE, FH, 0, 8));
    expect(await h.recv()).toEqual(cat(outHeader(24, 0, 60n), fileBytes(0, 8)));
    const moved: RunTable = { ...TABLE, runs: [{ fileOffset: 0, len: 100_000, devIndex: 0, devOffset: 128 * KiB }] };
    h.q.publish(FH, moved);
    h.send(readReq(61n, NODE, FH, 0, 8));
    expect(await h.recv()).toEqual(cat(outHeader(24, 0, 61n), devBytes.subarray(128 * KiB, 128 * KiB + 8)));
    expect(h.q.withdraw(FH)).toBe(true);
    h.send(readReq(62n, NODE, FH, 0, 8));
    expect(await h.recv()).toEqual(outHeader(16, -EBADF, 62n));
    expect(h.q.info().publishedHandles).toBe(0);
  });

  it('takes exactly one answer per token; FORGET and INTERRUPT get none', async () => {
    const h = harness();
    await init(h);
    h.send(cat(inHeader(48, OP.FORGET, 70n, NODE), new Uint8Array(8)));
    h.send(cat(inHeader(48, OP.INTERRUPT, 71n, 0n), new Uint8Array(8)));
    h.send(inHeader(56, OP.GETATTR, 72n, NODE).slice(0, 40));
    const rs = await h.requests(4);
    expect(h.q.noReply(rs[1]!.token)).toBe(true);
    expect(h.q.noReply(rs[1]!.token)).toBe(false);
    expect(h.q.noReply(rs[2]!.token)).toBe(true);
    expect(h.q.info().pendingReplies).toBe(1);
    expect(h.q.reply(rs[3]!.token, [outHeader(16, -EIO, 72n)])).toBe(true);
    expect(await h.recv()).toEqual(outHeader(16, -EIO, 72n));
    expect(h.q.reply(rs[3]!.token, [outHeader(16, -EIO, 72n)])).toBe(false); // used
    expect(h.q.reply(123456, [outHeader(16, -EIO, 72n)])).toBe(false); // never given out
    expect(h.q.info().pendingReplies).toBe(0);
  });

  it('answers EIO when the request handler throws, and keeps serving', async () => {
    const h = harness((_hh, r) => {
      if (new DataView(r.bytes.buffer).getUint32(4, true) === OP.GETATTR) throw new Error('handler bug');
    });
    await init(h);
    const warned = new Promise<string>((resolve) => process.once('warning', (w) => resolve(w.message)));
    h.send(cat(inHeader(56, OP.GETATTR, 80n, NODE), new Uint8Array(16)));
    expect(await h.recv()).toEqual(outHeader(16, -EIO, 80n));
    expect(await warned).toMatch(/handler bug/);
  });

  it('ends with "unmounted" when the kernel side goes away, every thread joined', async () => {
    const h = harness();
    await init(h);
    h.q.publish(FH, TABLE);
    fs.closeSync(h.k);
    h.k = fs.openSync('/dev/null', 'r'); // so close() has something to close
    expect(await h.q.closed).toEqual({ reason: 'unmounted' });
    const info = h.q.info();
    expect(info.state).toBe('closed');
    expect(info.liveThreads).toBe(0);
    expect(info.publishedHandles).toBe(0);
    expect(h.q.stats().every((s) => !s.running)).toBe(true);
  });

  it('stop() joins the threads, is idempotent, and later replies find nobody', async () => {
    const h = harness();
    const body = new Uint8Array(64);
    h.send(cat(inHeader(104, OP.INIT, 1n, 0n), body));
    const [r] = await h.requests(1);
    expect(h.q.stop()).toEqual({ reason: 'stopped' });
    expect(h.q.stop()).toEqual({ reason: 'stopped' });
    expect(await h.q.closed).toEqual({ reason: 'stopped' });
    expect(h.q.reply(r!.token, [outHeader(16, -EIO, 1n)])).toBe(false);
    expect(h.q.info().liveThreads).toBe(0);
  });

  it('a process that exits with its queues running stops them on the way out (no crash)', () => {
    // The addon directly (a child cannot load the TypeScript wrapper): start
    // queues on one end of a socket pair, hand INIT to JS, then process.exit
    // while a request is still unanswered and every thread is waiting.
    const addon = fileURLToPath(new URL('../build/Release/famfs_native.node', import.meta.url));
    const script = `
      const n = require(${JSON.stringify(addon)});
      const fs = require('fs');
      const [k, s] = n.socketpairSeqpacket();
      const q = new n.FuseQueues(s, 0, 16, true, 1 << 20);
      q.start((queue, token, bytes) => {
        console.log('request', bytes.byteLength);
        setTimeout(() => process.exit(0), 50);
      }, () => console.log('ended'));
      const m = Buffer.alloc(104);
      m.writeUInt32LE(104, 0); m.writeUInt32LE(26, 4); m.writeBigUInt64LE(1n, 8);
      fs.writeSync(k, m);
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('request 104\n');
    expect(r.stderr).toBe('');
  });

  it('leaves no thread, fd or mapping behind', async () => {
    const count = (d: string) => fs.readdirSync(d).length;
    const maps = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').length;
    const tasks0 = count('/proc/self/task');
    const fds0 = count('/proc/self/fd');
    const maps0 = maps();
    for (let i = 0; i < 5; i++) {
      const h = harness();
      await init(h);
      h.q.publish(FH, TABLE);
      h.send(readReq(90n, NODE, FH, 0, 8));
      await h.recv();
      h.close();
      open.splice(open.indexOf(h), 1);
    }
    expect(count('/proc/self/task')).toBe(tasks0);
    expect(count('/proc/self/fd')).toBe(fds0);
    expect(maps()).toBeLessThanOrEqual(maps0 + 2);
  });
});
