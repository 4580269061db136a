import { Errno, type Famfs, FamfsError, type FmapRecord, fileBytesPerExtent } from '@famfs/core';
import * as P from './protocol/index.js';
import type { DaxWindow } from './dax-window.js';
import { type Attr, type FamfsFuseFs, type DirEntry, S_IFREG } from './filesystem.js';
import { type IomapContext, type IomapOptions, checkCookies } from './iomap.js';
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

/** The primary device (index 0) of a file system opened from `path`. */
export function primaryDaxdev(famfs: Famfs, path: string): DaxdevInfo {
  return { index: 0, path, uuid: famfs.sb.devUuid, size: famfs.dev.size };
}

/**
 * Every device of the file system this host has open, for GET_DAXDEV: the
 * primary as `primaryPath` (what was mounted), the others at the path they
 * were found at on this host (absolute, as the kernel needs). Called per
 * request: a device the log gains (devadd on the master, replayed here)
 * is there at once.
 */
export function famfsDaxdevs(famfs: Famfs, primaryPath: string): () => DaxdevInfo[] {
  return () => famfs.daxdevTable().flatMap((d) => {
    if (d.index === 0) return [primaryDaxdev(famfs, primaryPath)];
    return d.path === undefined ? [] : [{ index: d.index, path: d.path, uuid: d.uuid, size: d.size }];
  });
}

/**
 * The devices a DAX window maps from: every device of the file system found
 * on this host now (the primary at `primaryPath`), writable on the master.
 */
export function famfsWindowDevices(famfs: Famfs, primaryPath: string): Array<{ index: number; path: string; writable: boolean }> {
  return famfsDaxdevs(famfs, primaryPath)().map((d) => ({ index: d.index, path: d.path, writable: famfs.role === 'master' }));
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
  /** the devices GET_DAXDEV names (a function: asked at each request) */
  daxdevs: readonly DaxdevInfo[] | (() => readonly DaxdevInfo[]);
  log: Logger;
  /**
   * Ask for the famfs extension (DAX_FMAP) when the kernel offers it: only
   * when the kernel can use the daxdevs we would name — a dax device in
   * famfs mode. Over a file or a block device the kernel would fail every
   * file with EIO, so READ/WRITE it is. Default false.
   */
  famfsMode?: boolean;
  /** daxdev indexes the famfs kernel maps (default: the profile's fmapDaxdevs); GET_FMAP refuses a map past them */
  fmapDaxdevs?: number;
  /**
   * Called during INIT when the kernel offers DAX_FMAP and famfsMode asks for
   * it, before the reply is sent: make the device usable by the kernel (the
   * daemon switches it to famfs mode). Returning false (or throwing) answers
   * INIT without DAX_FMAP: the mount serves READ/WRITE instead.
   */
  prepareFamfs?: () => boolean;
  /** INIT is done (its reply about to go out): whether the kernel maps files itself (DAX_FMAP) */
  onInitDone?: (daxFmap: boolean) => void;
  /**
   * Speak fuse-iomap (IOMAP_BEGIN/END) when the kernel offers it for one of
   * the profile's minors. Absent: never negotiated, the opcodes are ENOSYS.
   */
  iomap?: IomapOptions;
  /**
   * The DAX window SETUPMAPPING/REMOVEMAPPING map into, owned by the caller
   * (DaxWindow.create … close). With it, MAP_ALIGNMENT is negotiated (when
   * offered) with the window's alignment; without it, both opcodes are ENOSYS.
   */
  window?: DaxWindow;
}

export interface SessionStats {
  requests: number;
  errors: number;
  bytesRead: number;
  bytesWritten: number;
  /** requests by operation name (READ, GET_FMAP …; OTHER opcodes by their name) */
  ops: Record<string, number>;
}

/** A body to send (the parts of an iovec), or null: no reply at all. */
type Reply = Uint8Array[] | null;
const EMPTY: Reply = [];

type Handler<K extends P.DecodedOp> = (s: Session, req: Extract<P.KnownRequest, { op: K }>) => Reply;
type Table = { [K in P.DecodedOp]?: Handler<K> };

/** Operations famfs forbids: files are created by `famfs creat/cp`, never through the mount. */
type ForbiddenOp = 'CREATE' | 'MKNOD' | 'UNLINK' | 'RMDIR' | 'RENAME' | 'RENAME2' | 'LINK' | 'SYMLINK';

/** Opcodes that never get a reply. */
const NO_REPLY = new Set<number>([P.Opcode.FORGET, P.Opcode.BATCH_FORGET, P.Opcode.INTERRUPT]);

/** INIT flags we ask for; negotiation keeps only those the kernel offered and the protocol layer supports. */
const WANTED_FLAGS =
  P.InitFlag.ASYNC_READ | P.InitFlag.BIG_WRITES | P.InitFlag.MAX_PAGES | P.InitFlag.DO_READDIRPLUS |
  P.InitFlag.READDIRPLUS_AUTO | P.InitFlag.PARALLEL_DIROPS | P.InitFlag.AUTO_INVAL_DATA | P.InitFlag.ASYNC_DIO |
  P.InitFlag.INIT_EXT | P.InitFlag.DIRECT_IO_ALLOW_MMAP | P.InitFlag.ATOMIC_O_TRUNC;

export class Session {
  readonly stats: SessionStats = { requests: 0, errors: 0, bytesRead: 0, bytesWritten: 0, ops: {} };
  private state: 'new' | 'ready' | 'stopped' = 'new';
  private famfsProfile: P.FamfsProfile | null = null;
  private iomapProfile: P.IomapProfile | null = null;
  private readonly iomapCtx: IomapContext | null;
  private closeAfterReply = false;
  private readonly replyHeader = new P.ReplyHeader();
  private readonly maxWrite: number;

  constructor(
    private readonly transport: Transport,
    readonly fs: FamfsFuseFs,
    private readonly opts: SessionOptions,
  ) {
    this.maxWrite = opts.maxWrite ?? 1024 * 1024;
    const io = opts.iomap;
    if (io === undefined) {
      this.iomapCtx = null;
    } else {
      const b = io.blockSize ?? P.PAGE_SIZE;
      if (!Number.isInteger(b) || b < 512 || b > 1 << 21 || (b & (b - 1)) !== 0) throw new FamfsError('EINVAL', 'session', `iomap block size ${b} is not a power of two in 512..2 MiB`);
      // a table given up front is checked now; one from a function once it exists (after INIT)
      const cookies = typeof io.cookies === 'function' ? new Map<number, number>() : io.cookies;
      checkCookies(cookies);
      this.iomapCtx = { blockSize: b, cookies };
      // famfs and fuse-iomap share INIT bit 43: their profiles may never claim it for the same kernel minor
      const ip = P.IomapProfiles[io.profile];
      const fp = P.FamfsProfiles[opts.profile];
      if (opts.famfsMode === true && fp.daxFmapFlag === ip.iomapFlag && fp.minKernelMinor <= ip.maxKernelMinor && ip.minKernelMinor <= fp.maxKernelMinor) {
        throw new FamfsError('EINVAL', 'session', `famfs profile ${fp.name} and iomap profile ${ip.name} both claim the same INIT bit for one kernel minor`);
      }
    }
  }

  /**
   * After the INIT reply is out: a kernel that took fuse-iomap can now
   * register backing devices, so a cookie function is called here. If it
   * fails, iomap stays on and every mapping is ENODEV (logged once here).
   */
  private afterInit(): void {
    const fn = this.opts.iomap?.cookies;
    if (this.iomapProfile === null || this.iomapCtx === null || typeof fn !== 'function') return;
    try {
      const cookies = fn();
      checkCookies(cookies);
      this.iomapCtx.cookies = cookies;
      this.opts.log.info(`fuse-iomap: device cookies ${[...cookies].map(([i, c]) => `daxdev ${i} = ${c}`).join(', ') || 'none'}`);
    } catch (e) {
      this.opts.log.error(`fuse-iomap: registering the devices failed (${e instanceof Error ? e.message : String(e)}): every IOMAP_BEGIN will be ENODEV`);
    }
  }

  /** fuse-iomap is in force (the kernel offered FUSE_IOMAP for the profile's minor). */
  get iomap(): boolean {
    return this.iomapProfile !== null;
  }

  /** The window SETUPMAPPING maps into; ENOSYS without one (a kernel may then stop asking). */
  dax(op: string): DaxWindow {
    if (this.opts.window === undefined) throw new FamfsError('ENOSYS', op, `${op}: this mount has no DAX window (-o dax_window=SIZE)`);
    return this.opts.window;
  }

  /** The iomap context; ENOSYS when iomap is not in force (decoding already prevents that). */
  iomapContext(op: string): IomapContext {
    if (this.iomapProfile === null || this.iomapCtx === null) throw new FamfsError('ENOSYS', op, `${op}: fuse-iomap is not negotiated`);
    return this.iomapCtx;
  }

  /** famfs mapping messages are in force (the kernel offered DAX_FMAP). */
  get daxFmap(): boolean {
    return this.famfsProfile !== null;
  }

  /** A warning in the daemon's log (what a handler wants an administrator to see). */
  warn(message: string): void {
    this.opts.log.warn(message);
  }

  /** Daxdev indexes the negotiated famfs kernel maps (GET_FMAP refuses a file with an extent past them). */
  get fmapDaxdevs(): number {
    if (this.famfsProfile === null) return 0;
    return this.opts.fmapDaxdevs ?? this.famfsProfile.fmapDaxdevs;
  }

  get initialized(): boolean {
    return this.state === 'ready';
  }

  get openHandles(): number {
    return this.fs.openHandles;
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
    if (this.state === 'ready') {
      const read = P.decodePlainRead(msg);
      if (read !== undefined) {
        this.count('READ');
        return this.read(read);
      }
    }
    let req: P.FuseRequest;
    try {
      req = P.decodeRequest(msg, { famfs: this.famfsProfile, iomap: this.iomapProfile });
    } catch (e) {
      if (!(e instanceof P.ProtocolError)) throw e;
      this.opts.log.warn(`bad request: ${e.message}`);
      this.replyToUndecodable(msg);
      return;
    }
    const h = req.header;
    this.count(req.op === 'OTHER' ? req.name : req.op);
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
      reply = handler(this, req);
    } catch (e) {
      return this.error(h.unique, this.errnoOf(e, req.op), req.op, e instanceof Error ? e.message : String(e));
    }
    if (this.opts.log.enabled('debug')) {
      this.opts.log.debug(`${req.op} unique=${h.unique} nodeid=${h.nodeid} -> ${reply === null ? 'no reply' : `ok ${replyBytes(reply)} bytes`}`);
    }
    // Empty parts (an exhausted READDIR) are dropped: libuv's writev loop
    // sends a trailing zero-length iovec as a second write(2) — an empty
    // message on a SEQPACKET socket, an EINVAL write on /dev/fuse.
    if (reply !== null) this.writeReply(h.unique, req.op, reply.filter((p) => p.length > 0));
    if (req.op === 'INIT' && this.state === 'ready') this.afterInit();
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
      this.transport.write([this.replyHeader.success(unique, parts), ...parts]);
    } catch (e) {
      this.opts.log.error(`${op} unique=${unique}: reply not delivered (${e instanceof Error ? e.message : String(e)}): answering EIO`);
      this.error(unique, Errno.EIO, op, 'reply not delivered');
    }
  }

  /**
   * READ, for every plain READ (the hot path, at every log level): no
   * generic decoder objects, the same checks (decodePlainRead), the same file
   * system call as any other request.
   */
  private read(r: P.PlainRead): void {
    let views: Uint8Array[];
    try {
      views = this.fs.read(r.nodeid, r.fh, r.offset, Math.min(r.size, this.maxWrite));
    } catch (e) {
      return this.error(r.unique, this.errnoOf(e, 'READ'), 'READ', e instanceof Error ? e.message : String(e));
    }
    for (const v of views) this.stats.bytesRead += v.length;
    if (this.opts.log.enabled('debug')) {
      this.opts.log.debug(`READ unique=${r.unique} nodeid=${r.nodeid} fh=${r.fh} offset=${r.offset} size=${r.size} -> ok ${replyBytes(views)} bytes`);
    }
    this.writeReply(r.unique, 'READ', views);
  }

  private count(op: string): void {
    this.stats.ops[op] = (this.stats.ops[op] ?? 0) + 1;
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

  /**
   * The errno a failed handler's reply carries. The kernel takes only 1..511
   * in a reply (it refuses the write otherwise and the request would hang):
   * anything else is logged and sent as ERANGE, as libfuse does.
   */
  private errnoOf(e: unknown, op: string): number {
    let errno: number;
    if (e instanceof FamfsError) errno = e.errno;
    else if (e instanceof P.EncodeError) errno = Errno[e.errno];
    else if (e instanceof P.ProtocolError) errno = Errno.EINVAL;
    else {
      this.opts.log.error(`${op}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return Errno.EIO;
    }
    if (!Number.isInteger(errno) || errno < 1 || errno > P.MAX_REPLY_ERRNO) {
      this.opts.log.error(`${op}: errno ${errno} cannot be sent to the kernel: answering ERANGE`);
      return Errno.ERANGE;
    }
    return errno;
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
      attrValid: Math.floor(t), attrValidNsec: nsecOf(t), attr: wireAttr(a, this.attrFlags(a)),
    };
  }

  /** fuse_attr.flags: with iomap in force a regular file carries the profile's FUSE_ATTR_IOMAP, or the kernel keeps it off the iomap path. */
  private attrFlags(a: Attr): number {
    return this.iomapProfile !== null && (a.mode & 0o170000) === S_IFREG ? this.iomapProfile.attrIomapFlag : 0;
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
    return P.encodeAttrOut({ attrValid: Math.floor(t), attrValidNsec: nsecOf(t), attr: wireAttr(a, this.attrFlags(a)) });
  }

  /** OPEN gave out `fh` (its reply is not written yet): tell the HandleObserver. */
  handleOpened(fh: bigint, nodeid: bigint): void {
    this.opts.handles?.opened(fh, nodeid, this.fs.handle(fh, nodeid, false).writable);
  }

  /** RELEASE of `fh`, before the handle goes and before the reply: tell the HandleObserver. */
  handleReleased(fh: bigint, nodeid: bigint): void {
    this.fs.handle(fh, nodeid, false); // EBADF for a handle that is not ours: nothing to withdraw
    this.opts.handles?.released(fh);
  }

  negotiate(kin: P.InitIn): P.InitNegotiation {
    const w = this.opts.window;
    const config = {
      // MAP_ALIGNMENT only says something when there is a window to align to
      wanted: w === undefined ? WANTED_FLAGS : WANTED_FLAGS | P.InitFlag.MAP_ALIGNMENT,
      iomap: this.opts.iomap === undefined ? null : P.IomapProfiles[this.opts.iomap.profile],
      maxWrite: this.maxWrite,
      mapAlignment: w?.alignShift,
    };
    const neg = P.negotiateInit(kin, { ...config, famfs: this.opts.famfsMode === true ? P.FamfsProfiles[this.opts.profile] : null });
    if (neg.kind !== 'ok' || neg.famfs === null || this.opts.prepareFamfs === undefined) return neg;
    let ready: boolean;
    try {
      ready = this.opts.prepareFamfs();
    } catch (e) {
      this.opts.log.error(`famfs mode: ${e instanceof Error ? e.message : String(e)}: serving READ/WRITE instead`);
      ready = false;
    }
    return ready ? neg : P.negotiateInit(kin, { ...config, famfs: null });
  }

  initDone(neg: { famfs: P.FamfsProfile | null; iomap: P.IomapProfile | null; flags: bigint }): void {
    this.famfsProfile = neg.famfs;
    this.iomapProfile = neg.iomap;
    this.state = 'ready';
    this.opts.onInitDone?.(neg.famfs !== null);
    const what = [
      neg.famfs ? `famfs DAX_FMAP (${neg.famfs.name})` : null,
      neg.iomap ? `fuse-iomap (${neg.iomap.name})` : null,
      (neg.flags & P.InitFlag.MAP_ALIGNMENT) !== 0n ? `MAP_ALIGNMENT ${this.opts.window?.alignShift}` : null,
    ].filter((x) => x !== null);
    this.opts.log.info(`INIT done: ${what.length > 0 ? `${what.join(', ')} negotiated` : 'no mapping extension in this kernel, serving READ/WRITE'}`);
  }

  daxdev(index: number): DaxdevInfo | undefined {
    const all = typeof this.opts.daxdevs === 'function' ? this.opts.daxdevs() : this.opts.daxdevs;
    return all.find((d) => d.index === index);
  }

  dirOpenFlags(): number {
    return this.fs.opts.cache === 'none' ? 0 : P.FopenFlag.CACHE_DIR | P.FopenFlag.KEEP_CACHE;
  }

  openFlags(): number {
    const c = this.fs.opts.cache;
    return c === 'none' ? P.FopenFlag.DIRECT_IO : c === 'always' ? P.FopenFlag.KEEP_CACHE : 0;
  }
}

function replyBytes(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

function nsecOf(t: number): number {
  return Math.floor((t - Math.floor(t)) * 1e9);
}

function wireAttr(a: Attr, flags: number): P.Attr {
  return {
    ino: a.ino, size: a.size, blocks: a.blocks, atime: a.time, mtime: a.time, ctime: a.time,
    atimensec: 0, mtimensec: 0, ctimensec: 0, mode: a.mode, nlink: a.nlink, uid: a.uid, gid: a.gid,
    rdev: 0, blksize: a.blksize, flags,
  };
}

/** core's fmap as GET_FMAP lays it out (core says how many bytes each extent holds). */
function fuseFmap(fmap: FmapRecord, size: number): P.FuseFmap {
  if (fmap.type === 'simple') return { type: 'simple', extents: fmap.extents };
  const nbytes = fileBytesPerExtent(fmap, size);
  return { type: 'interleave', extents: fmap.extents.map((ie, i) => ({ chunkSize: ie.chunkSize, nbytes: nbytes[i] ?? 0, strips: ie.strips })) };
}

function direntType(e: DirEntry): number {
  return e.type === 'dir' ? P.DirentType.DIR : P.DirentType.REG;
}

/** READDIR offsets are indexes into the listing: entry i carries off = i + 1. */
function listingFrom(s: Session, nodeid: bigint, offset: number): DirEntry[] {
  const all = s.fs.readdir(nodeid);
  return offset < all.length ? all.slice(offset) : [];
}

function forbidden(_s: Session, req: { op: ForbiddenOp }): Reply {
  throw new FamfsError('EPERM', req.op, `${req.op}: famfs files are made with famfs creat/cp and never removed or renamed`);
}

/**
 * The op table: decode → one file-system call → encode. Each entry names the
 * replies it may send (as libfuse's "Valid replies"); any handler may also
 * fail, which the dispatcher sends as an errno reply.
 */
const TABLE: Table = {
  // fuse_init_out (or, for an old major, a bare init_out asking for a retry); EPROTO
  INIT: (s, req) => {
    const neg = s.negotiate(req.arg);
    if (neg.kind === 'unsupported') throw new FamfsError('EPROTO', 'INIT', neg.reason);
    if (neg.kind === 'retry-major') return [P.encodeInitOut(neg.out)];
    s.initDone(neg);
    return [P.encodeInitOut(neg.out)];
  },
  // empty
  DESTROY: (s) => {
    s.stop();
    return EMPTY;
  },
  // fuse_entry_out
  LOOKUP: (s, req) => [s.entryOut(s.fs.lookup(req.header.nodeid, req.arg.name))],
  // none
  FORGET: (s, req) => {
    s.fs.forget(req.header.nodeid, req.arg.nlookup);
    return null;
  },
  // none
  BATCH_FORGET: (s, req) => {
    for (const f of req.arg.forgets) s.fs.forget(f.nodeid, f.nlookup);
    return null;
  },
  // none: every handler answers synchronously, nothing is ever in flight to interrupt
  INTERRUPT: () => null,
  // fuse_attr_out
  GETATTR: (s, req) => [s.attrOut(s.fs.getattr(req.header.nodeid))],
  // fuse_attr_out
  SETATTR: (s, req) => {
    const v = req.arg.valid;
    const change = { size: (v & P.SetattrValid.SIZE) !== 0, mode: (v & P.SetattrValid.MODE) !== 0, owner: (v & (P.SetattrValid.UID | P.SetattrValid.GID)) !== 0 };
    return [s.attrOut(s.fs.setattr(req.header.nodeid, change))];
  },
  // fuse_open_out
  OPEN: (s, req) => {
    const fh = s.fs.open(req.header.nodeid, req.arg.flags);
    s.handleOpened(fh, req.header.nodeid);
    return [P.encodeOpenOut({ fh, openFlags: s.openFlags() })];
  },
  // data (a READ that is not plain — extensions — comes here; plain ones take Session.read)
  READ: (s, req) => {
    const views = s.fs.read(req.header.nodeid, req.arg.fh, req.arg.offset, Math.min(req.arg.size, s.maxReadSize));
    for (const v of views) s.stats.bytesRead += v.length;
    return views;
  },
  // fuse_write_out
  WRITE: (s, req) => {
    const n = s.fs.write(req.header.nodeid, req.arg.fh, req.arg.offset, req.arg.data);
    s.stats.bytesWritten += n;
    return [P.encodeWriteOut(n)];
  },
  // empty
  FLUSH: (s, req) => {
    s.fs.handle(req.arg.fh, req.header.nodeid, false);
    return EMPTY;
  },
  // empty: every WRITE was written back to the device before it was answered
  FSYNC: (s, req) => {
    s.fs.handle(req.arg.fh, req.header.nodeid, false);
    return EMPTY;
  },
  // empty
  RELEASE: (s, req) => {
    s.handleReleased(req.arg.fh, req.header.nodeid);
    s.fs.release(req.arg.fh, req.header.nodeid, false);
    return EMPTY;
  },
  // fuse_open_out. Directories only grow, and a refresh that adds entries
  // invalidates the parent's cached pages: the kernel may keep listings.
  OPENDIR: (s, req) => [P.encodeOpenOut({ fh: s.fs.opendir(req.header.nodeid), openFlags: s.dirOpenFlags() })],
  // dirents
  READDIR: (s, req) => {
    s.fs.handle(req.arg.fh, req.header.nodeid, true);
    const start = req.arg.offset;
    const list = listingFrom(s, req.header.nodeid, start);
    const packed = P.packDirents(
      list.map((e, i) => ({ ino: e.ino, off: start + i + 1, type: direntType(e), name: e.name })),
      req.arg.size,
    );
    return [packed.bytes];
  },
  // direntplus records
  READDIRPLUS: (s, req) => {
    s.fs.handle(req.arg.fh, req.header.nodeid, true);
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
  // empty
  RELEASEDIR: (s, req) => {
    s.fs.release(req.arg.fh, req.header.nodeid, true);
    return EMPTY;
  },
  // empty
  FSYNCDIR: (s, req) => {
    s.fs.handle(req.arg.fh, req.header.nodeid, true);
    return EMPTY;
  },
  // fuse_statfs_out
  STATFS: (s) => [P.encodeStatfsOut(s.fs.statfs())],
  // empty
  ACCESS: (s, req) => {
    s.fs.access(req.header.nodeid, req.arg.mask);
    return EMPTY;
  },
  // famfs has no extended attributes. ENOSYS makes the kernel stop asking for
  // the rest of the mount (ls -l asks for two per file). Replies: ENOSYS only.
  GETXATTR: () => {
    throw new FamfsError('ENOSYS', 'GETXATTR', 'famfs has no extended attributes');
  },
  LISTXATTR: () => {
    throw new FamfsError('ENOSYS', 'LISTXATTR', 'famfs has no extended attributes');
  },
  REMOVEXATTR: () => {
    throw new FamfsError('ENOSYS', 'REMOVEXATTR', 'famfs has no extended attributes');
  },
  // fuse_entry_out
  MKDIR: (s, req) => {
    const a = req.arg;
    return [s.entryOut(s.fs.mkdir(req.header.nodeid, a.name, a.mode & ~a.umask & 0o7777, req.header.uid, req.header.gid))];
  },
  // EPERM only
  CREATE: forbidden,
  MKNOD: forbidden,
  UNLINK: forbidden,
  RMDIR: forbidden,
  RENAME: forbidden,
  RENAME2: forbidden,
  LINK: forbidden,
  SYMLINK: forbidden,
  // empty
  SYNCFS: () => EMPTY,
  // fuse_famfs_fmap_header + extents
  GET_FMAP: (s, req) => {
    const m = s.fs.getFmap(req.header.nodeid);
    // a map this kernel would refuse (and with it the open, as EINVAL): say why, once per request, as EOPNOTSUPP
    const limit = s.fmapDaxdevs;
    const off = (m.fmap.type === 'simple' ? m.fmap.extents : m.fmap.extents.flatMap((x) => x.strips)).find((x) => x.devIndex >= limit);
    if (off !== undefined) {
      const why = `GET_FMAP nodeid ${req.header.nodeid}: the file has an extent on daxdev ${off.devIndex}, and this famfs kernel maps daxdev 0..${limit - 1} only (mount with -o famfs_mode=off to read it)`;
      s.warn(why); // the opener sees only EOPNOTSUPP: the daemon's log says why
      throw new FamfsError('EOPNOTSUPP', 'GET_FMAP', why);
    }
    const fileType = m.fileType === 'superblock' ? P.FamfsFileType.SUPERBLOCK : m.fileType === 'log' ? P.FamfsFileType.LOG : P.FamfsFileType.REG;
    return [P.encodeGetFmapReply({ fileType, fileSize: m.size, fmap: fuseFmap(m.fmap, m.size) }, { maxSize: req.arg.size })];
  },
  // fuse_daxdev_out
  GET_DAXDEV: (s, req) => {
    const d = s.daxdev(req.arg.daxdevNum);
    if (d === undefined) throw new FamfsError('ENODEV', 'GET_DAXDEV', `no daxdev with index ${req.arg.daxdevNum}`);
    return [P.encodeDaxdevOut({ index: d.index, name: d.path })];
  },
  // fuse_iomap_begin_out (only decoded once fuse-iomap is negotiated)
  IOMAP_BEGIN: (s, req) => {
    const a = req.arg;
    return [P.encodeIomapBeginOut(s.fs.iomapBegin(req.header.nodeid, a.attrIno, a.pos, a.count, a.opflags, s.iomapContext('IOMAP_BEGIN')))];
  },
  // empty
  IOMAP_END: (s, req) => {
    const a = req.arg;
    s.stats.bytesWritten += s.fs.iomapEnd(req.header.nodeid, a.attrIno, a.pos, a.count, a.opflags, a.written, a.map, s.iomapContext('IOMAP_END'));
    return EMPTY;
  },
  // empty; ENOSYS without a window
  SETUPMAPPING: (s, req) => {
    const a = req.arg;
    s.fs.setupMapping(s.dax('SETUPMAPPING'), req.header.nodeid, a.fh, a.foffset, a.len, a.flags, a.moffset);
    return EMPTY;
  },
  // empty; ENOSYS without a window
  REMOVEMAPPING: (s, req) => {
    s.dax('REMOVEMAPPING').remove(req.arg.mappings);
    return EMPTY;
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
