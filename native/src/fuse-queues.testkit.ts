/**
 * Test kit for the FUSE request queues (kept out of dist): a minimal FUSE file system — a
 * root directory holding a few files laid out on an image file (the
 * "device") — that answers the metadata requests by hand-built replies, and
 * READ/WRITE too when a request reaches it (the JS-only path, or a handle
 * whose run table was withdrawn). It mounts through `FuseQueues` or, for the
 * JS-only baseline, through a plain event-loop reader of /dev/fuse.
 *
 * Not a file system to use: no permissions beyond the kernel's
 * default_permissions, no directories but the root. The real server is
 * packages/famfs-fuse.
 */
import * as fs from 'node:fs';
import { FuseQueues, INIT_OVER_IO_URING, type FileRun, type QueuesEnd } from './fuse-queues.js';
import { mmap, mount, munmap, setNonblock, umount2, watchReadable } from './index.js';

// Opcodes and wire facts (include/uapi/linux/fuse.h), kept local: this
// package sits below the protocol codecs.
const Op = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17, RELEASE: 18,
  FSYNC: 20, GETXATTR: 22, LISTXATTR: 23, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29,
  ACCESS: 34, INTERRUPT: 36, DESTROY: 38, BATCH_FORGET: 42, READDIRPLUS: 44,
} as const;
const NO_REPLY = new Set<number>([Op.FORGET, Op.BATCH_FORGET, Op.INTERRUPT]);
const Errno = { ENOENT: 2, EIO: 5, EBADF: 9, EACCES: 13, EFBIG: 27, ENOSYS: 38, EPERM: 1, ENOTDIR: 20 } as const;
const IN_HEADER = 40;
const ROOT = 1n;
const INIT_EXT = 1n << 30n;
/** INIT flags this file system accepts (ASYNC_READ, BIG_WRITES, MAX_PAGES, ASYNC_DIO, INIT_EXT). */
const WANTED = (1n << 0n) | (1n << 5n) | (1n << 22n) | (1n << 15n) | INIT_EXT;
export const MAX_WRITE = 1024 * 1024;
export { Op as TestOp };

export interface TestFile {
  name: string;
  size: number;
  /** where the file lies on the image: contiguous pieces in file order */
  runs: FileRun[];
}

export interface TestFsOptions {
  image: string;
  files: TestFile[];
  /** negotiate FUSE-over-io_uring when the kernel offers it */
  uring?: boolean;
  /** publish run tables at OPEN (the native data path); else READ/WRITE come to JS */
  publish?: boolean;
  /** answer the first `times` requests of this opcode after `ms` milliseconds (INTERRUPT tests) */
  delay?: { opcode: number; ms: number; times: number };
}

interface Handle {
  nodeid: bigint;
  writable: boolean;
  /** false once the test closed it under the reader (withdrawn): READ/WRITE → EBADF */
  open: boolean;
}

/** What the file system saw: counts by opcode, and the kernel's INIT offer. */
export interface TestFsLog {
  ops: Map<number, number>;
  offeredFlags: bigint;
  jsReads: number;
  jsWrites: number;
  lateReplies: { delivered: number; dropped: number };
}

export class TestFs {
  readonly log: TestFsLog = { ops: new Map(), offeredFlags: 0n, jsReads: 0, jsWrites: 0, lateReplies: { delivered: 0, dropped: 0 } };
  readonly handles = new Map<bigint, Handle>();
  private nextFh = 100n;
  private delayed = 0;
  private readonly dev: Uint8Array;
  private readonly devFd: number;
  /** set by the channel: publish/withdraw a run table (native path) */
  tables: { publish(fh: bigint, nodeid: bigint, f: TestFile, writable: boolean): void; withdraw(fh: bigint): void } | undefined;

  constructor(readonly opts: TestFsOptions) {
    this.devFd = fs.openSync(opts.image, 'r+');
    this.dev = mmap(this.devFd, 0, fs.fstatSync(this.devFd).size, true);
  }

  close(): void {
    munmap(this.dev);
    fs.closeSync(this.devFd);
  }

  nodeidOf(name: string): bigint {
    const i = this.opts.files.findIndex((f) => f.name === name);
    if (i < 0) throw new Error(`no test file ${name}`);
    return 2n + BigInt(i);
  }

  fileOf(nodeid: bigint): TestFile | undefined {
    return nodeid >= 2n ? this.opts.files[Number(nodeid - 2n)] : undefined;
  }

  /** Close a handle under its reader (what RELEASE or a refresh does): later READs get EBADF. */
  revoke(fh: bigint): void {
    const h = this.handles.get(fh);
    if (h) h.open = false;
    this.tables?.withdraw(fh);
  }

  /** Handle one request; `reply(parts)` / `noReply()` exactly once (maybe later, with `delay`). */
  handle(msg: Uint8Array, reply: (parts: Uint8Array[]) => boolean, noReply: () => void): void {
    if (msg.length < IN_HEADER) return noReply();
    const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    const opcode = dv.getUint32(4, true);
    const unique = dv.getBigUint64(8, true);
    const nodeid = dv.getBigUint64(16, true);
    this.log.ops.set(opcode, (this.log.ops.get(opcode) ?? 0) + 1);
    if (NO_REPLY.has(opcode)) return noReply();
    if (dv.getUint32(0, true) !== msg.length) return void reply([errorOut(unique, 22)]);
    const body = new DataView(msg.buffer, msg.byteOffset + IN_HEADER, msg.byteLength - IN_HEADER);
    let parts: Uint8Array[];
    try {
      parts = this.answer(opcode, unique, nodeid, body, msg.subarray(IN_HEADER));
    } catch (e) {
      const errno = e instanceof FsError ? e.errno : Errno.EIO;
      parts = [errorOut(unique, errno)];
    }
    const d = this.opts.delay;
    if (d && d.opcode === opcode && this.delayed < d.times) {
      this.delayed++;
      setTimeout(() => {
        if (reply(parts)) this.log.lateReplies.delivered++;
        else this.log.lateReplies.dropped++;
      }, d.ms);
      return;
    }
    reply(parts);
  }

  private answer(opcode: number, unique: bigint, nodeid: bigint, body: DataView, raw: Uint8Array): Uint8Array[] {
    switch (opcode) {
      case Op.INIT: {
        const major = body.getUint32(0, true);
        const minor = body.getUint32(4, true);
        const readahead = body.getUint32(8, true);
        let offered = BigInt(body.getUint32(12, true));
        if (offered & INIT_EXT) offered |= BigInt(body.getUint32(16, true)) << 32n;
        this.log.offeredFlags = offered;
        let flags = offered & WANTED;
        if (this.opts.uring && (offered & INIT_OVER_IO_URING) && (offered & INIT_EXT)) flags |= INIT_OVER_IO_URING;
        const out = new Uint8Array(64);
        const o = new DataView(out.buffer);
        o.setUint32(0, 7, true);
        o.setUint32(4, Math.min(minor, 45), true);
        o.setUint32(8, readahead, true);
        o.setUint32(12, Number(flags & 0xffff_ffffn), true);
        o.setUint16(16, 16, true); // max_background
        o.setUint16(18, 12, true); // congestion_threshold
        o.setUint32(20, MAX_WRITE, true);
        o.setUint32(24, 1, true); // time_gran
        o.setUint16(28, 256, true); // max_pages
        o.setUint32(32, Number(flags >> 32n), true);
        if (major !== 7) throw new FsError(Errno.EIO);
        return ok(unique, out);
      }
      case Op.LOOKUP: {
        if (nodeid !== ROOT) throw new FsError(Errno.ENOTDIR);
        const name = cString(raw);
        const i = this.opts.files.findIndex((f) => f.name === name);
        if (i < 0) throw new FsError(Errno.ENOENT);
        return ok(unique, entryOut(2n + BigInt(i), this.opts.files[i]!.size));
      }
      case Op.GETATTR:
      case Op.SETATTR: {
        if (opcode === Op.SETATTR) throw new FsError(Errno.EPERM);
        const out = new Uint8Array(104);
        const o = new DataView(out.buffer);
        o.setBigUint64(0, 1n, true); // attr_valid
        writeAttr(out, 16, nodeid, nodeid === ROOT ? 0 : this.fileOrThrow(nodeid).size);
        return ok(unique, out);
      }
      case Op.OPEN: {
        const f = this.fileOrThrow(nodeid);
        const writable = (body.getUint32(0, true) & 3) !== 0;
        const fh = this.nextFh++;
        this.handles.set(fh, { nodeid, writable, open: true });
        if (this.opts.publish) this.tables?.publish(fh, nodeid, f, writable);
        const out = new Uint8Array(16);
        new DataView(out.buffer).setBigUint64(0, fh, true);
        return ok(unique, out);
      }
      case Op.READ: {
        const fh = body.getBigUint64(0, true);
        const offset = Number(body.getBigUint64(8, true));
        const size = body.getUint32(16, true);
        const h = this.handles.get(fh);
        if (!h || !h.open || h.nodeid !== nodeid) throw new FsError(Errno.EBADF);
        this.log.jsReads++;
        const f = this.fileOrThrow(nodeid);
        return ok(unique, ...this.views(f, offset, Math.max(0, Math.min(size, f.size - offset))));
      }
      case Op.WRITE: {
        const fh = body.getBigUint64(0, true);
        const offset = Number(body.getBigUint64(8, true));
        const size = body.getUint32(16, true);
        const h = this.handles.get(fh);
        if (!h || !h.open || h.nodeid !== nodeid || !h.writable) throw new FsError(Errno.EBADF);
        const f = this.fileOrThrow(nodeid);
        if (size > 0 && offset >= f.size) throw new FsError(Errno.EFBIG);
        const n = Math.min(size, f.size - offset);
        const data = raw.subarray(40, 40 + n);
        let put = 0;
        for (const v of this.views(f, offset, n)) {
          v.set(data.subarray(put, put + v.length));
          put += v.length;
        }
        this.log.jsWrites++;
        const out = new Uint8Array(8);
        new DataView(out.buffer).setUint32(0, n, true);
        return ok(unique, out);
      }
      case Op.RELEASE: {
        const fh = body.getBigUint64(0, true);
        this.tables?.withdraw(fh);
        this.handles.delete(fh);
        return ok(unique);
      }
      case Op.FLUSH:
      case Op.FSYNC:
      case Op.ACCESS:
      case Op.RELEASEDIR:
        return ok(unique);
      case Op.OPENDIR: {
        if (nodeid !== ROOT) throw new FsError(Errno.ENOTDIR);
        return ok(unique, new Uint8Array(16));
      }
      case Op.READDIR: {
        const offset = Number(body.getBigUint64(8, true));
        const size = body.getUint32(16, true);
        const names: Array<[string, bigint]> = [['.', ROOT], ['..', ROOT], ...this.opts.files.map((f, i): [string, bigint] => [f.name, 2n + BigInt(i)])];
        const chunks: Uint8Array[] = [];
        let used = 0;
        for (let i = offset; i < names.length; i++) {
          const [name, ino] = names[i]!;
          const nb = new TextEncoder().encode(name);
          const len = (24 + nb.length + 7) & ~7;
          if (used + len > size) break;
          const d = new Uint8Array(len);
          const dd = new DataView(d.buffer);
          dd.setBigUint64(0, ino, true);
          dd.setBigUint64(8, BigInt(i + 1), true);
          dd.setUint32(16, nb.length, true);
          dd.setUint32(20, ino === ROOT ? 4 : 8, true);
          d.set(nb, 24);
          chunks.push(d);
          used += len;
        }
        return ok(unique, ...chunks);
      }
      case Op.STATFS: {
        const out = new Uint8Array(80);
        const o = new DataView(out.buffer);
        o.setUint32(40, 4096, true); // bsize
        o.setUint32(44, 255, true); // namelen
        o.setUint32(48, 4096, true); // frsize
        return ok(unique, out);
      }
      case Op.DESTROY:
        return ok(unique);
      default:
        throw new FsError(Errno.ENOSYS);
    }
  }

  private fileOrThrow(nodeid: bigint): TestFile {
    const f = this.fileOf(nodeid);
    if (!f) throw new FsError(Errno.ENOENT);
    return f;
  }

  /** Views of the image covering file bytes [offset, offset+n). */
  views(f: TestFile, offset: number, n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let pos = offset;
    const end = offset + n;
    for (const r of f.runs) {
      if (pos >= end) break;
      const rEnd = r.fileOffset + r.len;
      if (pos >= rEnd) continue;
      const take = Math.min(rEnd, end) - pos;
      const at = r.devOffset + (pos - r.fileOffset);
      out.push(this.dev.subarray(at, at + take));
      pos += take;
    }
    return out;
  }
}

class FsError extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`);
  }
}

function outHeader(unique: bigint, error: number, bodyLen: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, 16 + bodyLen, true);
  v.setInt32(4, -error, true);
  v.setBigUint64(8, unique, true);
  return h;
}

function ok(unique: bigint, ...body: Uint8Array[]): Uint8Array[] {
  return [outHeader(unique, 0, body.reduce((n, b) => n + b.length, 0)), ...body];
}

function errorOut(unique: bigint, errno: number): Uint8Array {
  return outHeader(unique, errno, 0);
}

function cString(b: Uint8Array): string {
  const z = b.indexOf(0);
  return new TextDecoder().decode(z < 0 ? b : b.subarray(0, z));
}

function writeAttr(out: Uint8Array, at: number, ino: bigint, size: number): void {
  const o = new DataView(out.buffer, out.byteOffset + at, 88);
  o.setBigUint64(0, ino, true);
  o.setBigUint64(8, BigInt(size), true);
  o.setBigUint64(16, BigInt(Math.ceil(size / 512)), true);
  o.setUint32(60, ino === ROOT ? 0o40755 : 0o100644, true); // mode
  o.setUint32(64, ino === ROOT ? 2 : 1, true); // nlink
  o.setUint32(80, 4096, true); // blksize
}

function entryOut(nodeid: bigint, size: number): Uint8Array {
  const out = new Uint8Array(128);
  const o = new DataView(out.buffer);
  o.setBigUint64(0, nodeid, true);
  o.setBigUint64(16, 1n, true); // entry_valid
  o.setBigUint64(24, 1n, true); // attr_valid
  writeAttr(out, 40, nodeid, size);
  return out;
}

// ---------------------------------------------------------------------------
// Mounting

export type TestChannel = 'uring' | 'clone' | 'js-only';

export interface TestMount {
  readonly fs: TestFs;
  readonly mountpoint: string;
  /** the queues (not for 'js-only') */
  readonly queues: FuseQueues | undefined;
  /** resolves when serving has ended */
  readonly ended: Promise<QueuesEnd>;
  /** umount2 (MNT_DETACH), stop serving, close the session fd */
  close(): Promise<QueuesEnd>;
}

export interface MountOptions extends TestFsOptions {
  mountpoint: string;
  channel: TestChannel;
  clones?: number;
  queueDepth?: number;
  pinQueues?: boolean;
}

/** Lazy unmount (MNT_DETACH); a mount point no longer mounted is fine. */
function detach(mountpoint: string): void {
  try {
    umount2(mountpoint, 2);
  } catch {
    // already gone
  }
}

/** Mount a TestFs (root; /dev/fuse). The first access through the mount triggers INIT. */
export function mountTestFs(opts: MountOptions): TestMount {
  const testFs = new TestFs({ ...opts, uring: opts.channel === 'uring' });
  const fd = fs.openSync('/dev/fuse', 'r+');
  try {
    mount('famfs-test', opts.mountpoint, 'fuse.famfs-test', 0x02 | 0x04 /* MS_NOSUID | MS_NODEV */,
      `fd=${fd},rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other,max_read=${MAX_WRITE}`);
  } catch (e) {
    fs.closeSync(fd);
    testFs.close();
    throw e;
  }
  let closing = false;
  let fdOpen = true;
  // Once only: a second close could hit an fd number reused by someone else.
  const closeFd = (): void => {
    if (!fdOpen) return;
    fdOpen = false;
    fs.closeSync(fd);
  };
  if (opts.channel === 'js-only') {
    let resolveEnd: (e: QueuesEnd) => void = () => {};
    const ended = new Promise<QueuesEnd>((r) => (resolveEnd = r));
    const stop = jsOnlyLoop(fd, testFs, (e) => resolveEnd(e));
    return {
      fs: testFs, mountpoint: opts.mountpoint, queues: undefined, ended,
      async close() {
        if (!closing) {
          closing = true;
          detach(opts.mountpoint);
          stop();
          resolveEnd({ reason: 'stopped' });
          closeFd();
          testFs.close();
        }
        return ended;
      },
    };
  }
  const queues = new FuseQueues({
    fd,
    clones: opts.clones,
    queueDepth: opts.queueDepth,
    pinQueues: opts.pinQueues,
    maxWrite: MAX_WRITE,
    onRequest: (req) => testFs.handle(req.bytes, (parts) => queues.reply(req.token, parts), () => void queues.noReply(req.token)),
  });
  testFs.tables = {
    publish: (fh, nodeid, f, writable) => void queues.publish(fh, { nodeid, size: f.size, writable, runs: f.runs }),
    withdraw: (fh) => void queues.withdraw(fh),
  };
  try {
    queues.addDevice(0, { path: opts.image, writable: true });
    queues.start();
  } catch (e) {
    queues.stop();
    detach(opts.mountpoint);
    closeFd();
    testFs.close();
    throw e;
  }
  const ended = queues.closed.then((end) => {
    closeFd();
    return end;
  });
  return {
    fs: testFs, mountpoint: opts.mountpoint, queues, ended,
    async close() {
      if (!closing) {
        closing = true;
        detach(opts.mountpoint);
        queues.stop();
        closeFd();
        await ended;
        testFs.close();
      }
      return ended;
    },
  };
}

/** The JS-only baseline: the event loop reads /dev/fuse and the TestFs answers everything. */
function jsOnlyLoop(fd: number, testFs: TestFs, onEnd: (e: QueuesEnd) => void): () => void {
  setNonblock(fd, true);
  const buf = new Uint8Array(MAX_WRITE + 4096);
  let stopped = false;
  const write = (parts: Uint8Array[]): boolean => {
    try {
      fs.writevSync(fd, parts.filter((p) => p.length > 0));
      return true;
    } catch {
      return false;
    }
  };
  const stopWatch = watchReadable(fd, () => {
    for (let i = 0; i < 256 && !stopped; i++) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return;
        if (code === 'ENOENT' || code === 'EINTR') continue;
        stop();
        onEnd({ reason: code === 'ENODEV' || code === 'ECONNABORTED' ? 'unmounted' : 'stopped' });
        return;
      }
      testFs.handle(buf.slice(0, n), write, () => {});
    }
  });
  function stop(): void {
    if (stopped) return;
    stopped = true;
    stopWatch();
  }
  return stop;
}
