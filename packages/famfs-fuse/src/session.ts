import { Errno, type ErrnoName, FamfsError, type FmapRecord } from '@famfs/core';
import * as P from './protocol/index.js';
import type { Attr, FamfsFuseFs, DirEntry } from './filesystem.js';
import type { Logger } from './log.js';
import type { Transport } from './transport.js';

/**
 * The session: reads requests, checks them, dispatches them through one
 * opcode-indexed table, and writes exactly one reply per request (none for
 * FORGET, BATCH_FORGET and INTERRUPT). Only this module writes replies; the
 * file system below it never sees a header or a `unique`.
 */

/** A device the kernel may ask about with GET_DAXDEV (index 0 = the primary). */
export interface DaxdevInfo {
  index: number;
  path: string;
  uuid: string;
  size: number;
}

/**
 * Told when a file handle is given out (OPEN, before its reply is written)
 * and when it goes (RELEASE, before its reply): the native request queues
 * publish and withdraw the handle's run table here (native-queues.ts).
 */
export interface HandleObserver {
  opened(fh: bigint, nodeid: bigint, writable: boolean): void;
  released(fh: bigint): void;
}

export interface SessionOptions {
  /** file handles of regular files, as they open and close */
  handles?: HandleObserver;
  /** which numbers the famfs extension uses, if the kernel offers it */
  profile: P.FamfsProfileName;
  /** largest WRITE payload (and READ) we accept: 1 MiB with MAX_PAGES */
  maxWrite?: number;
  daxdevs: readonly DaxdevInfo[];
  log: Logger;
}

export interface SessionStats {
  requests: number;
  errors: number;
  bytesRead: number;
  bytesWritten: number;
}

/** A body to send (the parts of an iovec), or null: no reply at all. */
type Reply = Uint8Array[] | null;
const EMPTY: Reply = [];

type Handler<K extends P.DecodedOp> = (s: Session, req: Extract<P.KnownRequest, { op: K }>) => Reply;
type Table = { [K in P.DecodedOp]?: Handler<K> };

/** Operations famfs forbids: files are created by `famfs creat/cp`, never through the mount. */
const FORBIDDEN = ['CREATE', 'MKNOD', 'UNLINK', 'RMDIR', 'RENAME', 'RENAME2', 'LINK', 'SYMLINK'] as const;

/** fuse_in_header (40) + fuse_read_in (40): every READ the kernel sends */
const READ_MSG_LEN = 80;

/** Opcodes that never get a reply. */
const NO_REPLY = new Set<number>([P.Opcode.FORGET, P.Opcode.BATCH_FORGET, P.Opcode.INTERRUPT]);

/** INIT flags we ask for; negotiation keeps only those the kernel offered and the protocol layer supports. */
const WANTED_FLAGS =
  P.InitFlag.ASYNC_READ | P.InitFlag.BIG_WRITES | P.InitFlag.MAX_PAGES | P.InitFlag.DO_READDIRPLUS |
  P.InitFlag.READDIRPLUS_AUTO | P.InitFlag.PARALLEL_DIROPS | P.InitFlag.AUTO_INVAL_DATA | P.InitFlag.ASYNC_DIO |
  P.InitFlag.INIT_EXT | P.InitFlag.DIRECT_IO_ALLOW_MMAP | P.InitFlag.ATOMIC_O_TRUNC;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;
/** setattr bits that change what famfs stores: size and ownership/permissions */
const SETATTR_REFUSED = P.SetattrValid.SIZE | P.SetattrValid.MODE | P.SetattrValid.UID | P.SetattrValid.GID;

interface Handle {
  nodeid: bigint;
  dir: boolean;
  writable: boolean;
}

export class Session {
  readonly stats: SessionStats = { requests: 0, errors: 0, bytesRead: 0, bytesWritten: 0 };
  private state: 'new' | 'ready' | 'stopped' = 'new';
  private famfsProfile: P.FamfsProfile | null = null;
  private readonly handles = new Map<bigint, Handle>();
  private nextFh = 1n;
  private closeAfterReply = false;
  private readonly hdr = new Uint8Array(16);
  /** debug logging names every request: the READ fast path is off then */
  private get debug(): boolean {
    return this.opts.log.enabled('debug');
  }
  private readonly hdrView = new DataView(this.hdr.buffer);
  private readonly maxWrite: number;

  constructor(
    private readonly transport: Transport,
    readonly fs: FamfsFuseFs,
    private readonly opts: SessionOptions,
  ) {
    this.maxWrite = opts.maxWrite ?? 1024 * 1024;
  }

  /** famfs mapping messages are in force (the kernel offered DAX_FMAP). */
  get daxFmap(): boolean {
    return this.famfsProfile !== null;
  }

  get initialized(): boolean {
    return this.state === 'ready';
  }

  get openHandles(): number {
    return this.handles.size;
  }

  /** Serve until the kernel unmounts (or the test peer hangs up). */
  async run(): Promise<void> {
    await this.transport.serve(P.requestBufferSize(this.maxWrite), (msg) => this.handle(msg));
    this.state = 'stopped';
  }

  /** DESTROY: the kernel is done with us; stop reading once the reply is out. */
  stop(): void {
    this.closeAfterReply = true;
  }

  /** Handle one message as read from the transport (synchronously: its buffer is reused after). */
  handle(msg: Uint8Array): void {
    this.stats.requests++;
    if (this.state === 'ready' && msg.length === READ_MSG_LEN && !this.debug && this.fastRead(msg)) return;
    let req: P.FuseRequest;
    try {
      req = P.decodeRequest(msg, { famfs: this.famfsProfile });
    } catch (e) {
      if (!(e instanceof P.ProtocolError)) throw e;
      this.opts.log.warn(`bad request: ${e.message}`);
      this.replyToUndecodable(msg);
      return;
    }
    const h = req.header;
    if (req.op === 'INIT') {
      if (this.state !== 'new') return this.error(h.unique, Errno.EIO, 'INIT', 'second INIT');
    } else if (this.state !== 'ready') {
      if (NO_REPLY.has(h.opcode)) return;
      return this.error(h.unique, Errno.EIO, req.op === 'OTHER' ? req.name : req.op, 'request before INIT');
    }
    if (req.op === 'OTHER') {
      return this.error(h.unique, Errno.ENOSYS, req.name, 'not implemented');
    }
    const handler = TABLE[req.op] as Handler<typeof req.op> | undefined;
    if (handler === undefined) return this.error(h.unique, Errno.ENOSYS, req.op, 'not implemented');
    let reply: Reply;
    try {
      reply = handler(this, req as never);
    } catch (e) {
      return this.error(h.unique, this.errnoOf(e, req.op), req.op, e instanceof Error ? e.message : String(e));
    }
    if (this.opts.log.enabled('debug')) {
      this.opts.log.debug(`${req.op} unique=${h.unique} nodeid=${h.nodeid} -> ${reply === null ? 'no reply' : `ok ${reply.reduce((n, p) => n + p.length, 0)} bytes`}`);
    }
    // Empty parts (an exhausted READDIR) are dropped: libuv's writev loop
    // sends a trailing zero-length iovec as a second write(2) — an empty
    // message on a SEQPACKET socket, an EINVAL write on /dev/fuse.
    if (reply !== null) this.writeReply(h.unique, req.op, reply.filter((p) => p.length > 0));
    if (this.closeAfterReply) {
      this.state = 'stopped';
      this.transport.close();
    }
  }

  /**
   * Write a successful reply. If the channel refuses it (EMSGSIZE: larger
   * than a socket's buffer; EINVAL: the kernel rejects its shape), answer EIO
   * instead so the request does not hang, and keep serving: an exception
   * here would unwind into the transport's poll callback and abort the process.
   */
  private writeReply(unique: bigint, op: string, parts: Uint8Array[]): void {
    try {
      this.transport.write([this.outHeader(unique, parts), ...parts]);
    } catch (e) {
      this.opts.log.error(`${op} unique=${unique}: reply not delivered (${e instanceof Error ? e.message : String(e)}): answering EIO`);
      this.error(unique, Errno.EIO, op, 'reply not delivered');
    }
  }

  /**
   * fuse_out_header for a successful reply, in one buffer reused for every
   * reply: the write that sends it is synchronous, so it is free again
   * before the next reply (the protocol layer's encoder, tested byte for
   * byte, makes a fresh one; this is the hot path's copy of it).
   */
  private outHeader(unique: bigint, parts: readonly Uint8Array[]): Uint8Array {
    let len = P.OutHeaderLayout.SIZE;
    for (const p of parts) len += p.length;
    this.hdrView.setUint32(0, len, true);
    this.hdrView.setInt32(4, 0, true);
    this.hdrView.setBigUint64(8, unique, true);
    return this.hdr;
  }

  /**
   * The hot path: a well-formed READ (80 bytes, no extensions, a handle we
   * gave out for that inode) is answered without the generic decoder's
   * objects — the same checks, done inline. Anything unusual returns false
   * and takes the general path, which reports it.
   */
  private fastRead(msg: Uint8Array): boolean {
    const dv = new DataView(msg.buffer, msg.byteOffset, READ_MSG_LEN);
    if (dv.getUint32(4, true) !== P.Opcode.READ || dv.getUint32(0, true) !== READ_MSG_LEN || dv.getUint16(36, true) !== 0) return false;
    const offHi = dv.getUint32(48 + 4, true);
    if (offHi >= 0x200000) return false;
    const unique = dv.getBigUint64(8, true);
    const nodeid = dv.getBigUint64(16, true);
    const fh = dv.getBigUint64(40, true);
    const h = this.handles.get(fh);
    if (h === undefined || h.nodeid !== nodeid || h.dir) return false;
    const offset = offHi * 4294967296 + dv.getUint32(48, true);
    const size = Math.min(dv.getUint32(56, true), this.maxWrite);
    let views: Uint8Array[];
    try {
      views = this.fs.read(nodeid, offset, size);
    } catch (e) {
      this.error(unique, this.errnoOf(e, 'READ'), 'READ', e instanceof Error ? e.message : String(e));
      return true;
    }
    for (const v of views) this.stats.bytesRead += v.length;
    this.writeReply(unique, 'READ', views);
    return true;
  }

  /** A request whose body (or header) does not decode: EINVAL if we can tell whom to answer. */
  private replyToUndecodable(msg: Uint8Array): void {
    this.stats.errors++;
    if (msg.length < 16) return;
    const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    const opcode = dv.getUint32(4, true);
    const unique = dv.getBigUint64(8, true);
    // unique 0 would be a notification; FORGET and friends are never answered
    if (unique === 0n || NO_REPLY.has(opcode)) return;
    this.transport.write([P.encodeErrorReply(unique, Errno.EINVAL)]);
  }

  private errnoOf(e: unknown, op: string): number {
    if (e instanceof FamfsError) return Math.min(Math.max(e.errno, 1), 511);
    if (e instanceof P.EncodeError) return Errno[e.errno as ErrnoName] ?? Errno.EINVAL;
    if (e instanceof P.ProtocolError) return Errno.EINVAL;
    this.opts.log.error(`${op}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return Errno.EIO;
  }

  private error(unique: bigint, errno: number, op: string, why: string): void {
    this.stats.errors++;
    if (this.opts.log.enabled('debug')) this.opts.log.debug(`${op} unique=${unique} -> errno ${errno} (${why})`);
    this.transport.write([P.encodeErrorReply(unique, errno)]);
  }

  // ------------------------------------------------------------ notifications

  /**
   * Tell the kernel a directory entry changed. Written asynchronously: the
   * kernel may need a lock held by a request we have yet to answer, and a
   * blocking write here would deadlock the server.
   */
  notifyInvalEntry(parent: bigint, name: string): Promise<void> {
    return this.notify(P.encodeNotifyInvalEntry({ parent, name }));
  }

  /** Drop cached attributes (and, with off >= 0, cached pages) of an inode. */
  notifyInvalInode(ino: bigint, off = -1, len = 0): Promise<void> {
    return this.notify(P.encodeNotifyInvalInode({ ino, off, len }));
  }

  private notify(bytes: Uint8Array): Promise<void> {
    if (this.state !== 'ready') return Promise.resolve();
    return this.transport.writeAsync(bytes).then(
      () => undefined,
      (e: unknown) => this.opts.log.debug(`notification not delivered: ${(e as Error).message}`),
    );
  }

  // ------------------------------------------------------------ helpers for handlers

  /** fuse_entry_out for an inode, with the mount's timeouts. */
  entry(a: Attr): P.EntryOut {
    const t = this.fs.timeout;
    return {
      nodeid: a.ino, generation: 0n, entryValid: Math.floor(t), entryValidNsec: nsecOf(t),
      attrValid: Math.floor(t), attrValidNsec: nsecOf(t), attr: wireAttr(a),
    };
  }

  entryOut(a: Attr): Uint8Array {
    return P.encodeEntryOut(this.entry(a));
  }

  /** READ replies are bounded by what we told the kernel (max_write doubles as max_read). */
  get maxReadSize(): number {
    return this.maxWrite;
  }

  attrOut(a: Attr): Uint8Array {
    const t = this.fs.timeout;
    return P.encodeAttrOut({ attrValid: Math.floor(t), attrValidNsec: nsecOf(t), attr: wireAttr(a) });
  }

  openHandle(nodeid: bigint, dir: boolean, writable: boolean): bigint {
    const fh = this.nextFh++;
    this.handles.set(fh, { nodeid, dir, writable });
    if (!dir) this.opts.handles?.opened(fh, nodeid, writable);
    return fh;
  }

  /** The handle a request names; EBADF for one we never gave out or that belongs to another inode. */
  handleOf(fh: bigint, nodeid: bigint, dir: boolean): Handle {
    const h = this.handles.get(fh);
    if (h === undefined || h.nodeid !== nodeid || h.dir !== dir) {
      throw new FamfsError('EBADF', 'handle', `unknown ${dir ? 'directory' : 'file'} handle ${fh} for nodeid ${nodeid}`);
    }
    return h;
  }

  closeHandle(fh: bigint, nodeid: bigint, dir: boolean): void {
    this.handleOf(fh, nodeid, dir);
    if (!dir) this.opts.handles?.released(fh);
    this.handles.delete(fh);
  }

  negotiate(kin: P.InitIn): P.InitNegotiation {
    return P.negotiateInit(kin, { wanted: WANTED_FLAGS, famfs: P.FamfsProfiles[this.opts.profile], maxWrite: this.maxWrite });
  }

  initDone(famfs: P.FamfsProfile | null): void {
    this.famfsProfile = famfs;
    this.state = 'ready';
    this.opts.log.info(`INIT done${famfs ? `: famfs DAX_FMAP negotiated (${famfs.name})` : ': no famfs in this kernel, serving READ/WRITE'}`);
  }

  daxdev(index: number): DaxdevInfo | undefined {
    return this.opts.daxdevs.find((d) => d.index === index);
  }

  dirOpenFlags(): number {
    return this.fs.opts.cache === 'none' ? 0 : P.FopenFlag.CACHE_DIR | P.FopenFlag.KEEP_CACHE;
  }

  openFlags(): number {
    const c = this.fs.opts.cache;
    return c === 'none' ? P.FopenFlag.DIRECT_IO : c === 'always' ? P.FopenFlag.KEEP_CACHE : 0;
  }
}

function nsecOf(t: number): number {
  return Math.floor((t - Math.floor(t)) * 1e9);
}

function wireAttr(a: Attr): P.Attr {
  return {
    ino: a.ino, size: a.size, blocks: a.blocks, atime: a.time, mtime: a.time, ctime: a.time,
    atimensec: 0, mtimensec: 0, ctimensec: 0, mode: a.mode, nlink: a.nlink, uid: a.uid, gid: a.gid,
    rdev: 0, blksize: a.blksize, flags: 0,
  };
}

/** core's fmap as GET_FMAP lays it out. */
function fuseFmap(fmap: FmapRecord, size: number): P.FuseFmap {
  if (fmap.type === 'simple') return { type: 'simple', extents: fmap.extents };
  let base = 0;
  return {
    type: 'interleave',
    extents: fmap.extents.map((ie) => {
      const cap = ie.nstrips * (ie.strips[0]?.len ?? 0);
      const nbytes = Math.max(0, Math.min(cap, size - base));
      base += cap;
      return { chunkSize: ie.chunkSize, nbytes, strips: ie.strips };
    }),
  };
}

function direntType(e: DirEntry): number {
  return e.type === 'dir' ? P.DirentType.DIR : P.DirentType.REG;
}

/** READDIR offsets are indexes into the listing: entry i carries off = i + 1. */
function listingFrom(s: Session, nodeid: bigint, offset: number): DirEntry[] {
  const all = s.fs.readdir(nodeid);
  return offset < all.length ? all.slice(offset) : [];
}

function forbidden(_s: Session, req: { op: (typeof FORBIDDEN)[number] }): Reply {
  throw new FamfsError('EPERM', req.op, `${req.op}: famfs files are made with famfs creat/cp and never removed or renamed`);
}

const TABLE: Table = {
  INIT: (s, req) => {
    const neg = s.negotiate(req.arg);
    if (neg.kind === 'unsupported') throw new FamfsError('EIO', 'INIT', neg.reason);
    if (neg.kind === 'retry-major') return [P.encodeInitOut(neg.out)];
    s.initDone(neg.famfs);
    return [P.encodeInitOut(neg.out)];
  },
  DESTROY: (s) => {
    s.stop();
    return EMPTY;
  },
  LOOKUP: (s, req) => [s.entryOut(s.fs.lookup(req.header.nodeid, req.arg.name))],
  FORGET: (s, req) => {
    s.fs.forget(req.header.nodeid, req.arg.nlookup);
    return null;
  },
  BATCH_FORGET: (s, req) => {
    for (const f of req.arg.forgets) s.fs.forget(f.nodeid, f.nlookup);
    return null;
  },
  INTERRUPT: () => null, // every handler answers synchronously: nothing is ever in flight to interrupt
  GETATTR: (s, req) => [s.attrOut(s.fs.getattr(req.header.nodeid))],
  SETATTR: (s, req) => {
    const a = req.arg;
    if (a.valid & SETATTR_REFUSED) {
      throw new FamfsError('EPERM', 'SETATTR', 'famfs files have a fixed size, mode and owner');
    }
    // times (touch) are accepted and not stored: famfs keeps no times
    return [s.attrOut(s.fs.getattr(req.header.nodeid))];
  },
  OPEN: (s, req) => {
    const id = req.header.nodeid;
    s.fs.fileOf(id);
    const acc = req.arg.flags & O_ACCMODE;
    const writable = acc !== 0;
    if (req.arg.flags & O_TRUNC) throw new FamfsError('EPERM', 'OPEN', 'famfs files cannot be truncated');
    if (writable && s.fs.isClient) throw new FamfsError('EROFS', 'OPEN', 'this host is a famfs client: files are read-only');
    if (writable && s.fs.isMeta(id)) throw new FamfsError('EPERM', 'OPEN', 'the famfs meta files are read-only through the mount');
    return [P.encodeOpenOut({ fh: s.openHandle(id, false, writable), openFlags: s.openFlags() })];
  },
  READ: (s, req) => {
    s.handleOf(req.arg.fh, req.header.nodeid, false);
    const size = Math.min(req.arg.size, s.maxReadSize);
    const views = s.fs.read(req.header.nodeid, req.arg.offset, size);
    for (const v of views) s.stats.bytesRead += v.length;
    return views;
  },
  WRITE: (s, req) => {
    const h = s.handleOf(req.arg.fh, req.header.nodeid, false);
    if (!h.writable) throw new FamfsError('EBADF', 'WRITE', 'file handle is not open for writing');
    const n = s.fs.write(req.header.nodeid, req.arg.offset, req.arg.data);
    s.stats.bytesWritten += n;
    return [P.encodeWriteOut(n)];
  },
  FLUSH: (s, req) => {
    s.handleOf(req.arg.fh, req.header.nodeid, false);
    return EMPTY;
  },
  FSYNC: (s, req) => {
    s.handleOf(req.arg.fh, req.header.nodeid, false);
    return EMPTY; // every WRITE was flushed to the device before it was answered
  },
  RELEASE: (s, req) => {
    s.closeHandle(req.arg.fh, req.header.nodeid, false);
    return EMPTY;
  },
  OPENDIR: (s, req) => {
    const a = s.fs.getattr(req.header.nodeid);
    if ((a.mode & S_IFMT) !== S_IFDIR) throw new FamfsError('ENOTDIR', 'OPENDIR', 'not a directory');
    // Directories only grow, and a refresh that adds entries invalidates the
    // parent's cached pages: the kernel may keep listings (find, ls -R twice).
    return [P.encodeOpenOut({ fh: s.openHandle(req.header.nodeid, true, false), openFlags: s.dirOpenFlags() })];
  },
  READDIR: (s, req) => {
    s.handleOf(req.arg.fh, req.header.nodeid, true);
    const start = req.arg.offset;
    const list = listingFrom(s, req.header.nodeid, start);
    const packed = P.packDirents(
      list.map((e, i) => ({ ino: e.ino, off: start + i + 1, type: direntType(e), name: e.name })),
      req.arg.size,
    );
    return [packed.bytes];
  },
  READDIRPLUS: (s, req) => {
    s.handleOf(req.arg.fh, req.header.nodeid, true);
    const start = req.arg.offset;
    // only as many entries as can fit: each carries a lookup the kernel will FORGET
    const list = listingFrom(s, req.header.nodeid, start).slice(0, Math.ceil(req.arg.size / 160) + 1);
    const plus = list.map((e, i) => {
      const dots = e.name === '.' || e.name === '..';
      return { ino: e.ino, off: start + i + 1, type: direntType(e), name: e.name, entry: dots ? zeroEntry() : s.entry(s.fs.getattr(e.ino)) };
    });
    const packed = P.packDirentplus(plus, req.arg.size);
    for (const e of list.slice(0, packed.count)) if (e.name !== '.' && e.name !== '..') s.fs.rememberLookup(e.ino);
    return [packed.bytes];
  },
  RELEASEDIR: (s, req) => {
    s.closeHandle(req.arg.fh, req.header.nodeid, true);
    return EMPTY;
  },
  FSYNCDIR: (s, req) => {
    s.handleOf(req.arg.fh, req.header.nodeid, true);
    return EMPTY;
  },
  STATFS: (s) => [P.encodeStatfsOut(s.fs.statfs())],
  ACCESS: (s, req) => {
    s.fs.getattr(req.header.nodeid);
    // default_permissions makes the kernel check modes; a client is read-only for root too
    if (req.arg.mask & 2 && s.fs.isClient) throw new FamfsError('EROFS', 'ACCESS', 'this host is a famfs client');
    return EMPTY;
  },
  // famfs has no extended attributes. ENOSYS makes the kernel stop asking for
  // the rest of the mount (ls -l asks for two per file).
  GETXATTR: () => {
    throw new FamfsError('ENOSYS', 'GETXATTR', 'famfs has no extended attributes');
  },
  LISTXATTR: () => {
    throw new FamfsError('ENOSYS', 'LISTXATTR', 'famfs has no extended attributes');
  },
  REMOVEXATTR: () => {
    throw new FamfsError('ENOSYS', 'REMOVEXATTR', 'famfs has no extended attributes');
  },
  MKDIR: (s, req) => {
    const a = req.arg;
    return [s.entryOut(s.fs.mkdir(req.header.nodeid, a.name, a.mode & ~a.umask & 0o7777, req.header.uid, req.header.gid))];
  },
  CREATE: forbidden,
  MKNOD: forbidden,
  UNLINK: forbidden,
  RMDIR: forbidden,
  RENAME: forbidden,
  RENAME2: forbidden,
  LINK: forbidden,
  SYMLINK: forbidden,
  SYNCFS: () => EMPTY,
  GET_FMAP: (s, req) => {
    const m = s.fs.getFmap(req.header.nodeid);
    const fileType = m.fileType === 'superblock' ? P.FamfsFileType.SUPERBLOCK : m.fileType === 'log' ? P.FamfsFileType.LOG : P.FamfsFileType.REG;
    return [P.encodeGetFmapReply({ fileType, fileSize: m.size, fmap: fuseFmap(m.fmap, m.size) }, { maxSize: req.arg.size })];
  },
  GET_DAXDEV: (s, req) => {
    const d = s.daxdev(req.arg.daxdevNum);
    if (d === undefined) throw new FamfsError('ENODEV', 'GET_DAXDEV', `no daxdev with index ${req.arg.daxdevNum}`);
    return [P.encodeDaxdevOut({ index: d.index, name: d.path })];
  },
};

/** fuse_entry_out with nodeid 0: "no lookup" for `.` and `..` in READDIRPLUS. */
function zeroEntry(): P.EntryOut {
  const zero: P.Attr = {
    ino: 0n, size: 0, blocks: 0, atime: 0, mtime: 0, ctime: 0, atimensec: 0, mtimensec: 0, ctimensec: 0,
    mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 0, flags: 0,
  };
  return { nodeid: 0n, generation: 0n, entryValid: 0, entryValidNsec: 0, attrValid: 0, attrValidNsec: 0, attr: zero };
}
