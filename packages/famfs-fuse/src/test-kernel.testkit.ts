/**
 * Test helper for session.test.ts: a fake kernel on one end of a
 * SOCK_SEQPACKET pair, and hand-built FUSE messages.
 *
 * Every request and every expected reply here is built BY HAND with a
 * DataView and the literal offsets of include/uapi/linux/fuse.h (and of the
 * famfs series for GET_FMAP / GET_DAXDEV), never with this package's
 * encoders or layout constants: the point is to check the production code
 * against an independent reading of the spec.
 */
import * as fs from 'node:fs';
import { socketpairSeqpacket } from '@famfs/native';
import type { Famfs } from '@famfs/core';
import type { DaxWindow } from './dax-window.js';
import { FamfsFuseFs } from './filesystem.js';
import type { IomapOptions } from './iomap.js';
import { Logger, type LogLevel } from './log.js';
import { Session, type SessionOptions } from './session.js';
import { seqpacketTransport } from './transport.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Opcode numbers from fuse.h (7.45) and the famfs kernel series (54, 55). */
export const Op = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8, MKDIR: 9, UNLINK: 10,
  RMDIR: 11, RENAME: 12, LINK: 13, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17, RELEASE: 18, FSYNC: 20,
  SETXATTR: 21, GETXATTR: 22, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29, FSYNCDIR: 30,
  GETLK: 31, ACCESS: 34, CREATE: 35, INTERRUPT: 36, BMAP: 37, DESTROY: 38, IOCTL: 39, POLL: 40,
  BATCH_FORGET: 42, FALLOCATE: 43, READDIRPLUS: 44, RENAME2: 45, LSEEK: 46, COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48, REMOVEMAPPING: 49, SYNCFS: 50, TMPFILE: 51, STATX: 52, COPY_FILE_RANGE_64: 53, GET_FMAP: 54, GET_DAXDEV: 55,
  /** fuse-iomap (seed 002) */
  IOMAP_BEGIN: 4094, IOMAP_END: 4095,
} as const;

/** errno numbers (Linux x86-64) */
export const E = {
  EPERM: 1, ENOENT: 2, EIO: 5, ENXIO: 6, EBADF: 9, ENOMEM: 12, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EFBIG: 27,
  EROFS: 30, ERANGE: 34, ENOSYS: 38, EPROTO: 71, EOPNOTSUPP: 95,
} as const;

/** little-endian byte builder over a fresh zeroed buffer */
export class Le {
  readonly b: Uint8Array;
  readonly v: DataView;
  constructor(n: number) {
    this.b = new Uint8Array(n);
    this.v = new DataView(this.b.buffer);
  }
  u8(off: number, x: number): this {
    this.v.setUint8(off, x);
    return this;
  }
  u16(off: number, x: number): this {
    this.v.setUint16(off, x, true);
    return this;
  }
  u32(off: number, x: number): this {
    this.v.setUint32(off, x >>> 0, true);
    return this;
  }
  i32(off: number, x: number): this {
    this.v.setInt32(off, x, true);
    return this;
  }
  u64(off: number, x: bigint | number): this {
    this.v.setBigUint64(off, BigInt(x), true);
    return this;
  }
  bytes(off: number, x: Uint8Array): this {
    this.b.set(x, off);
    return this;
  }
  ascii(off: number, s: string): this {
    return this.bytes(off, Buffer.from(s, 'utf8'));
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ------------------------------------------------------------------ requests

export interface HeaderOpts {
  uid?: number;
  gid?: number;
  pid?: number;
  /** write this in fuse_in_header.len instead of the true length (a lying header) */
  len?: number;
  totalExtlen?: number;
}

/** fuse_in_header (40: len 0, opcode 4, unique 8, nodeid 16, uid 24, gid 28, pid 32, total_extlen 36) + body */
export function request(opcode: number, unique: bigint, nodeid: bigint, body: Uint8Array = new Uint8Array(0), o: HeaderOpts = {}): Uint8Array {
  const h = new Le(40 + body.length);
  h.u32(0, o.len ?? 40 + body.length).u32(4, opcode).u64(8, unique).u64(16, nodeid);
  h.u32(24, o.uid ?? 0).u32(28, o.gid ?? 0).u32(32, o.pid ?? 4242).u16(36, o.totalExtlen ?? 0);
  h.bytes(40, body);
  return h.b;
}

/** a name as the kernel sends it: bytes and a NUL */
export function cname(s: string): Uint8Array {
  return concat(Buffer.from(s, 'utf8'), new Uint8Array(1));
}

/** fuse_init_in (64): major 0, minor 4, max_readahead 8, flags 12, flags2 16, unused 20..64 */
export function initIn(major: number, minor: number, maxReadahead: number, flags: number, flags2: number): Uint8Array {
  return new Le(64).u32(0, major).u32(4, minor).u32(8, maxReadahead).u32(12, flags).u32(16, flags2).b;
}

/** fuse_getattr_in (16): getattr_flags 0, dummy 4, fh 8 */
export function getattrIn(flags = 0, fh: bigint = 0n): Uint8Array {
  return new Le(16).u32(0, flags).u64(8, fh).b;
}

/** fuse_open_in (8): flags 0, open_flags 4 */
export function openIn(flags: number, openFlags = 0): Uint8Array {
  return new Le(8).u32(0, flags).u32(4, openFlags).b;
}

/** fuse_read_in (40): fh 0, offset 8, size 16, read_flags 20, lock_owner 24, flags 32, padding 36 */
export function readIn(fh: bigint, offset: number, size: number): Uint8Array {
  return new Le(40).u64(0, fh).u64(8, offset).u32(16, size).u32(32, 0o100000).b;
}

/** fuse_write_in (40, same shape as read_in) then the data; `sizeField` may lie */
export function writeIn(fh: bigint, offset: number, data: Uint8Array, sizeField = data.length): Uint8Array {
  return concat(new Le(40).u64(0, fh).u64(8, offset).u32(16, sizeField).u32(32, 1).b, data);
}

/** fuse_release_in (24): fh 0, flags 8, release_flags 12, lock_owner 16 */
export function releaseIn(fh: bigint): Uint8Array {
  return new Le(24).u64(0, fh).b;
}

/** fuse_flush_in (24): fh 0, unused 8, padding 12, lock_owner 16 */
export function flushIn(fh: bigint): Uint8Array {
  return new Le(24).u64(0, fh).u64(16, 7n).b;
}

/** fuse_fsync_in (16): fh 0, fsync_flags 8, padding 12 */
export function fsyncIn(fh: bigint): Uint8Array {
  return new Le(16).u64(0, fh).b;
}

/** fuse_forget_in (8): nlookup */
export function forgetIn(nlookup: number): Uint8Array {
  return new Le(8).u64(0, nlookup).b;
}

/** fuse_batch_forget_in (8): count 0, dummy 4; then count × fuse_forget_one (16): nodeid 0, nlookup 8 */
export function batchForgetIn(items: Array<[bigint, number]>, count = items.length): Uint8Array {
  const b = new Le(8 + 16 * items.length).u32(0, count);
  items.forEach(([id, n], i) => b.u64(8 + 16 * i, id).u64(16 + 16 * i, n));
  return b.b;
}

/** fuse_interrupt_in (8): unique */
export function interruptIn(unique: bigint): Uint8Array {
  return new Le(8).u64(0, unique).b;
}

/** fuse_mkdir_in (8): mode 0, umask 4; then the name */
export function mkdirIn(mode: number, umask: number, name: Uint8Array): Uint8Array {
  return concat(new Le(8).u32(0, mode).u32(4, umask).b, name);
}

/** fuse_create_in (16): flags 0, mode 4, umask 8, open_flags 12; then the name */
export function createIn(flags: number, mode: number, umask: number, name: Uint8Array): Uint8Array {
  return concat(new Le(16).u32(0, flags).u32(4, mode).u32(8, umask).b, name);
}

/** fuse_mknod_in (16): mode 0, rdev 4, umask 8, padding 12; then the name */
export function mknodIn(mode: number, name: Uint8Array): Uint8Array {
  return concat(new Le(16).u32(0, mode).u32(8, 0o022).b, name);
}

/** fuse_rename_in (8): newdir; then old name, new name */
export function renameIn(newdir: bigint, oldname: string, newname: string): Uint8Array {
  return concat(new Le(8).u64(0, newdir).b, cname(oldname), cname(newname));
}

/** fuse_rename2_in (16): newdir 0, flags 8, padding 12; then old name, new name */
export function rename2In(newdir: bigint, flags: number, oldname: string, newname: string): Uint8Array {
  return concat(new Le(16).u64(0, newdir).u32(8, flags).b, cname(oldname), cname(newname));
}

/** fuse_link_in (8): oldnodeid; then the new name */
export function linkIn(oldnodeid: bigint, newname: string): Uint8Array {
  return concat(new Le(8).u64(0, oldnodeid).b, cname(newname));
}

/**
 * fuse_setattr_in (88): valid 0, padding 4, fh 8, size 16, lock_owner 24,
 * atime 32, mtime 40, ctime 48, atimensec 56, mtimensec 60, ctimensec 64,
 * mode 68, unused4 72, uid 76, gid 80, unused5 84
 */
export function setattrIn(valid: number, f: { size?: number; mode?: number; atime?: number } = {}): Uint8Array {
  return new Le(88).u32(0, valid).u64(16, f.size ?? 0).u64(32, f.atime ?? 0).u32(68, f.mode ?? 0).b;
}

/** fuse_access_in (8): mask 0, padding 4 */
export function accessIn(mask: number): Uint8Array {
  return new Le(8).u32(0, mask).b;
}

/** fuse_getxattr_in (8): size 0, padding 4 — GET_FMAP's body (the room for the reply) */
export function getxattrIn(size: number): Uint8Array {
  return new Le(8).u32(0, size).b;
}

/** fuse_get_daxdev_in (4): daxdev_num */
export function getDaxdevIn(num: number): Uint8Array {
  return new Le(4).u32(0, num).b;
}

/** fuse_lseek_in (24): fh 0, offset 8, whence 16, padding 20 */
export function lseekIn(fh: bigint, offset: number, whence: number): Uint8Array {
  return new Le(24).u64(0, fh).u64(8, offset).u32(16, whence).b;
}

/** fuse_iomap_begin_in (32): opflags 0, reserved 4, attr_ino 8, pos 16, count 24 */
export function iomapBeginIn(opflags: number, attrIno: bigint, pos: bigint | number, count: bigint | number, reserved = 0): Uint8Array {
  return new Le(32).u32(0, opflags).u32(4, reserved).u64(8, attrIno).u64(16, pos).u64(24, count).b;
}

/** fuse_iomap_io (32): offset 0, length 8, addr 16, type 24 (u16), flags 26 (u16), dev 28 (u32) */
export interface HandIomap {
  offset: bigint | number;
  length: bigint | number;
  addr: bigint | number;
  type: number;
  flags: number;
  dev: number;
}

export function iomapIo(m: HandIomap): Uint8Array {
  return new Le(32).u64(0, m.offset).u64(8, m.length).u64(16, m.addr).u16(24, m.type).u16(26, m.flags).u32(28, m.dev).b;
}

/** fuse_iomap_end_in (72): the begin_in head, written 32 (i64), map 40 (fuse_iomap_io) */
export function iomapEndIn(opflags: number, attrIno: bigint, pos: number, count: number, written: bigint | number, map: HandIomap): Uint8Array {
  const b = new Le(72).bytes(0, iomapBeginIn(opflags, attrIno, pos, count)).bytes(40, iomapIo(map));
  b.v.setBigInt64(32, BigInt(written), true);
  return b.b;
}

/** fuse_iomap_begin_out (64): read 0, write 32 */
export function iomapBeginOut(read: HandIomap, write: HandIomap): Uint8Array {
  return concat(iomapIo(read), iomapIo(write));
}

/** fuse_setupmapping_in (40): fh 0, foffset 8, len 16, flags 24, moffset 32 */
export function setupmappingIn(fh: bigint, foffset: number, len: number, flags: number, moffset: number): Uint8Array {
  return new Le(40).u64(0, fh).u64(8, foffset).u64(16, len).u64(24, flags).u64(32, moffset).b;
}

/** fuse_removemapping_in (4): count; then count × fuse_removemapping_one (16): moffset 0, len 8 — at body offset 4 */
export function removemappingIn(ranges: ReadonlyArray<readonly [number, bigint | number]>): Uint8Array {
  const b = new Le(4 + 16 * ranges.length).u32(0, ranges.length);
  ranges.forEach(([m, l], i) => b.u64(4 + 16 * i, m).u64(12 + 16 * i, l));
  return b.b;
}

// ------------------------------------------------------------------ expected replies

/** fuse_out_header (16): len 0, error 4, unique 8; then the body */
export function reply(unique: bigint, ...body: Uint8Array[]): Uint8Array {
  const b = concat(...body);
  return concat(new Le(16).u32(0, 16 + b.length).i32(4, 0).u64(8, unique).b, b);
}

/** an error reply: the header alone, error = -errno */
export function errorReply(unique: bigint, errno: number): Uint8Array {
  return new Le(16).u32(0, 16).i32(4, -errno).u64(8, unique).b;
}

export interface HandAttr {
  ino: bigint;
  size: number;
  /** 512-byte blocks */
  blocks: number;
  /** seconds, the same for atime/mtime/ctime */
  time: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  blksize: number;
  /** fuse_attr.flags (FUSE_ATTR_IOMAP with fuse-iomap); 0 when absent */
  flags?: number;
}

/**
 * fuse_attr (88): ino 0, size 8, blocks 16, atime 24, mtime 32, ctime 40,
 * atimensec 48, mtimensec 52, ctimensec 56, mode 60, nlink 64, uid 68,
 * gid 72, rdev 76, blksize 80, flags 84
 */
export function attr(a: HandAttr): Uint8Array {
  return new Le(88)
    .u64(0, a.ino).u64(8, a.size).u64(16, a.blocks).u64(24, a.time).u64(32, a.time).u64(40, a.time)
    .u32(60, a.mode).u32(64, a.nlink).u32(68, a.uid).u32(72, a.gid).u32(80, a.blksize).u32(84, a.flags ?? 0).b;
}

/**
 * fuse_entry_out (128): nodeid 0, generation 8, entry_valid 16, attr_valid 24,
 * entry_valid_nsec 32, attr_valid_nsec 36, attr 40. `a` null: the all-zero
 * entry (no lookup) READDIRPLUS gives `.` and `..`.
 */
export function entryOut(a: HandAttr | null, validSec: number): Uint8Array {
  const e = new Le(128);
  if (a === null) return e.b;
  return e.u64(0, a.ino).u64(16, validSec).u64(24, validSec).bytes(40, attr(a)).b;
}

/** fuse_attr_out (104): attr_valid 0, attr_valid_nsec 8, dummy 12, attr 16 */
export function attrOut(a: HandAttr, validSec: number): Uint8Array {
  return new Le(104).u64(0, validSec).bytes(16, attr(a)).b;
}

/** fuse_open_out (16): fh 0, open_flags 8, backing_id 12 */
export function openOut(fh: bigint, openFlags: number): Uint8Array {
  return new Le(16).u64(0, fh).u32(8, openFlags).b;
}

/** fuse_write_out (8): size 0, padding 4 */
export function writeOut(size: number): Uint8Array {
  return new Le(8).u32(0, size).b;
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** fuse_dirent: ino 0, off 8, namelen 16, type 20, name 24 (no NUL), padded to 8 */
export function dirent(ino: bigint, off: number, type: number, name: string): Uint8Array {
  const nb = Buffer.from(name, 'utf8');
  return new Le(pad8(24 + nb.length)).u64(0, ino).u64(8, off).u32(16, nb.length).u32(20, type).bytes(24, nb).b;
}

/** fuse_direntplus: fuse_entry_out (128) then fuse_dirent, padded to 8 */
export function direntplus(a: HandAttr | null, validSec: number, ino: bigint, off: number, type: number, name: string): Uint8Array {
  return concat(entryOut(a, validSec), dirent(ino, off, type, name));
}

/**
 * fuse_kstatfs (80): blocks 0, bfree 8, bavail 16, files 24, ffree 32,
 * bsize 40, namelen 44, frsize 48, padding 52, spare 56..80
 */
export function kstatfs(s: { blocks: number; bfree: number; bavail: number; files: number; ffree: number; bsize: number; namelen: number; frsize: number }): Uint8Array {
  return new Le(80).u64(0, s.blocks).u64(8, s.bfree).u64(16, s.bavail).u64(24, s.files).u64(32, s.ffree)
    .u32(40, s.bsize).u32(44, s.namelen).u32(48, s.frsize).b;
}

/**
 * fuse_famfs_fmap_header (32): file_type 0 (u8), reserved 1, fmap_version 2
 * (u16), ext_type 4, nextents 8, reserved0 12, file_size 16, reserved1 24
 */
export function fmapHeader(fileType: number, extType: number, nextents: number, fileSize: number): Uint8Array {
  return new Le(32).u8(0, fileType).u16(2, 1).u32(4, extType).u32(8, nextents).u64(16, fileSize).b;
}

/** fuse_famfs_simple_ext (24): se_devindex 0, reserved 4, se_offset 8, se_len 16 */
export function simpleExt(devIndex: number, offset: number, len: number): Uint8Array {
  return new Le(24).u32(0, devIndex).u64(8, offset).u64(16, len).b;
}

/** fuse_famfs_iext (24): ie_nstrips 0, ie_chunk_size 4, ie_nbytes 8, reserved 16 */
export function iext(nstrips: number, chunkSize: number, nbytes: number): Uint8Array {
  return new Le(24).u32(0, nstrips).u32(4, chunkSize).u64(8, nbytes).b;
}

/** fuse_daxdev_out (280): index 0 (u16), reserved 2, reserved2 4, reserved3 8, reserved4 16, name[256] 24 */
export function daxdevOut(index: number, name: string): Uint8Array {
  return new Le(280).u16(0, index).ascii(24, name).b;
}

/**
 * fuse_init_out (64): major 0, minor 4, max_readahead 8, flags 12,
 * max_background 16, congestion_threshold 18, max_write 20, time_gran 24,
 * max_pages 28, map_alignment 30, flags2 32, max_stack_depth 36,
 * request_timeout 40, unused 42..64
 */
export function initOut(o: {
  major: number; minor: number; maxReadahead: number; flags: number; maxWrite: number; timeGran: number;
  maxPages: number; flags2: number;
}): Uint8Array {
  return new Le(64).u32(0, o.major).u32(4, o.minor).u32(8, o.maxReadahead).u32(12, o.flags)
    .u32(20, o.maxWrite).u32(24, o.timeGran).u16(28, o.maxPages).u32(32, o.flags2).b;
}

/** What a reply header says (for messages compared field by field). */
export function outHeaderOf(m: Uint8Array): { len: number; error: number; unique: bigint } {
  const v = new DataView(m.buffer, m.byteOffset, m.byteLength);
  return { len: v.getUint32(0, true), error: v.getInt32(4, true), unique: v.getBigUint64(8, true) };
}

// ------------------------------------------------------------------ the fake kernel


const REPLY_BUF = 4 * MiB;

/**
 * The kernel's end of the socket pair. One message per write, one reply per
 * read (a SOCK_SEQPACKET read returns exactly one message). Reads are async
 * (libuv thread pool) so the session on the same event loop keeps serving.
 */
export class FakeKernel {
  private readonly buf = new Uint8Array(REPLY_BUF);
  private pending: Promise<number> | null = null;
  private nextUnique = 0x1000n;

  constructor(
    readonly fd: number,
    /** the server's end, used only to release a read still waiting at teardown */
    private readonly serverFd: number,
  ) {}

  /** a fresh, never-used unique */
  unique(): bigint {
    this.nextUnique += 2n;
    return this.nextUnique;
  }

  send(msg: Uint8Array): void {
    const n = fs.writeSync(this.fd, msg);
    if (n !== msg.length) throw new Error(`short write of ${n} of ${msg.length} bytes`);
  }

  /** The next message from the server; rejects after `timeoutMs`. */
  async recv(timeoutMs = 5000): Promise<Uint8Array> {
    if (this.pending !== null) throw new Error('a read is already waiting');
    const p = new Promise<number>((resolve, reject) => {
      fs.read(this.fd, this.buf, 0, this.buf.length, null, (err, n) => (err ? reject(err) : resolve(n)));
    });
    this.pending = p;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const n = await Promise.race([p, timeout]);
      this.pending = null;
      if (n === 0) throw new Error('the server hung up');
      return this.buf.slice(0, n);
    } finally {
      clearTimeout(timer);
    }
  }

  /** send a request and read the one reply */
  async call(msg: Uint8Array): Promise<Uint8Array> {
    this.send(msg);
    return this.recv();
  }

  /**
   * Hang up. A read still waiting (a test that timed out) is released first
   * by a message written from the server's end, so the fd can really close
   * and the server's reads see the end of the stream.
   */
  async close(): Promise<void> {
    if (this.pending !== null) {
      try {
        fs.writeSync(this.serverFd, new Uint8Array(16));
      } catch {
        // the server end may be closed already
      }
      await this.pending.catch(() => 0);
      this.pending = null;
    }
    fs.closeSync(this.fd);
  }
}

export interface Served {
  kernel: FakeKernel;
  session: Session;
  fs: FamfsFuseFs;
  /** the mount time every inode reports (seconds) */
  time: number;
  /** log lines the session wrote at level error (internal errors: none expected) */
  logLines: string[];
  /** every log line at the session's level (debug: one per request) */
  allLogLines: string[];
  /** settles when session.run() does; holds its error, if any */
  running: Promise<Error | null>;
  stop(): Promise<void>;
}

export const DAXDEV_PATH = '/dev/dax0.0';

/** What a test may add to a served session. */
export interface ServeExtras {
  /** speak fuse-iomap with these options */
  iomap?: IomapOptions;
  /** serve SETUPMAPPING/REMOVEMAPPING into this window */
  window?: DaxWindow;
  /** build the file system (a test double may serve files laid out by hand, e.g. on daxdev 1) */
  makeFs?: (famfs: Famfs) => FamfsFuseFs;
  /** the daxdev table GET_DAXDEV answers from (default: daxdev 0 at DAXDEV_PATH) */
  daxdevs?: SessionOptions['daxdevs'];
  /** daxdev indexes the "kernel" maps (default: the profile's) */
  fmapDaxdevs?: number;
}

/**
 * A Session over a fresh socket pair, serving `famfs` with cache 'auto' and
 * profile kernel-v10, run() started on this event loop; logging at `level`;
 * in famfs mode (DAX_FMAP negotiated when offered) unless told otherwise.
 */
export function serve(famfs: Famfs, level: LogLevel = 'error', famfsMode = true, extras: ServeExtras = {}): Served {
  const [kernelFd, serverFd] = socketpairSeqpacket();
  // The inodes report the FamfsFuseFs construction time in seconds: build it
  // inside one second so the expected attributes know it exactly.
  let fuseFs: FamfsFuseFs;
  let time: number;
  for (;;) {
    const before = Math.floor(Date.now() / 1000);
    fuseFs = extras.makeFs?.(famfs) ?? new FamfsFuseFs(famfs, { cache: 'auto' });
    if (Math.floor(Date.now() / 1000) === before) {
      time = before;
      break;
    }
  }
  const logLines: string[] = [];
  const allLogLines: string[] = [];
  const transport = seqpacketTransport(serverFd);
  const session = new Session(transport, fuseFs, {
    profile: 'kernel-v10',
    famfsMode,
    daxdevs: extras.daxdevs ?? [{ index: 0, path: DAXDEV_PATH, uuid: famfs.sb.devUuid, size: famfs.dev.size }],
    fmapDaxdevs: extras.fmapDaxdevs,
    iomap: extras.iomap,
    window: extras.window,
    log: new Logger(level, (l) => {
      allLogLines.push(l);
      if (/^\S+ error /.test(l)) logLines.push(l);
    }),
  });
  const running = session.run().then(
    () => null,
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  const kernel = new FakeKernel(kernelFd, serverFd);
  return {
    kernel, session, fs: fuseFs, time, logLines, allLogLines, running,
    async stop() {
      await kernel.close();
      // the server's reads now see the end of the stream and run() returns
      await Promise.race([running, new Promise((r) => setTimeout(r, 5000))]);
      transport.close();
    },
  };
}
