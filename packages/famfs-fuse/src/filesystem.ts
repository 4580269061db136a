import {
  type DirNode, type Famfs, FamfsError, type FileNode, type FmapRecord, type FsNode, META_DIR, type MetaKind,
  baseName, fmapCapacity, parentOf, resolveFmap,
} from '@famfs/core';
import type { DaxWindow } from './dax-window.js';
import { type IomapContext, holeAnswer, isMappingOf, mappedAnswer } from './iomap.js';
import { FUSE_ROOT_ID, IOMAP_DEV_NULL, IOMAP_NULL_ADDR, IOMAP_WRITE_OPS, IomapOp, IomapType, SetupmappingFlag } from './protocol/constants.js';
import type { IomapBeginOut, IomapIo } from './protocol/iomap.js';

/**
 * The famfs file system as FUSE serves it: inodes for the replayed namespace
 * plus `.meta/.superblock` and `.meta/.log`, open handles, and every decision
 * about what famfs allows (open modes, setattr, access, what a client host may
 * do). This layer knows meaning, not bytes: it never sees a request header or
 * a `unique`, and reports failures as FamfsErrors (the dispatcher turns them
 * into -errno replies). File bytes come from core's data path
 * (Famfs.readViews / writeAt), never from a walk of its own.
 */

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
const BLOCK = 512;

/** What GETATTR/LOOKUP return about an inode. */
export interface Attr {
  ino: bigint;
  size: number;
  blocks: number;
  /** seconds; famfs stores no times: every inode reports the mount time */
  time: number;
  /** S_IF* type and permission bits */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  blksize: number;
}

export type CacheMode = 'none' | 'auto' | 'always';

export interface FsOptions {
  cache: CacheMode;
  /** attribute and entry validity in seconds (default by cache mode) */
  timeout?: number;
}

/** A file's map as GET_FMAP describes it. */
export interface FmapReply {
  fileType: 'reg' | 'superblock' | 'log';
  size: number;
  fmap: FmapRecord;
}

type MetaInode = 'meta-dir' | MetaKind;

/** An inode: a namespace node, or one of the meta inodes. */
type Inode =
  | { kind: 'node'; node: FsNode }
  | { kind: MetaInode }
  /** `.meta/.superblock.N`: the superblock region of secondary daxdev N */
  | { kind: 'secondary-sb'; index: number };

/** the root's nodeid: FUSE_ROOT_ID, fixed by the protocol */
export const ROOT_ID = FUSE_ROOT_ID;
const META_DIR_ID = 2n;
const META_SB_ID = 3n;
const META_LOG_ID = 4n;
/** Namespace inodes are numbered by their log entry: stable across restarts and hosts. */
const FIRST_NODE_ID = 16n;
/** `.meta/.superblock.N` is nodeid META_SECONDARY_SB + N (far above any log index: a log has fewer than 2^40 entries). */
const META_SECONDARY_SB = 1n << 56n;
const MAX_SECONDARY = 64n;


/** SETUPMAPPING's fh when the kernel names the file by nodeid only (virtio-fs sends no file handle) */
const NO_FH = 0xffff_ffff_ffff_ffffn;

/** open(2) flags the policy looks at */
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;
/** access(2) mask bit for write */
const W_OK = 2;

/** What a SETATTR asks to change (times are not listed: famfs keeps none). */
export interface AttrChange {
  size: boolean;
  mode: boolean;
  owner: boolean;
}

/** An open file or directory: what the kernel's `fh` stands for. */
interface Handle {
  nodeid: bigint;
  dir: boolean;
  writable: boolean;
}

export interface DirEntry {
  name: string;
  ino: bigint;
  /** DT_* type for readdir */
  type: 'dir' | 'file';
}

export class FamfsFuseFs {
  private readonly lookups = new Map<bigint, number>();
  private readonly handles = new Map<bigint, Handle>();
  private nextFh = 1n;
  private readonly mountTime = Math.floor(Date.now() / 1000);
  readonly timeout: number;

  constructor(
    readonly famfs: Famfs,
    readonly opts: FsOptions,
  ) {
    this.timeout = opts.timeout ?? (opts.cache === 'none' ? 0 : opts.cache === 'always' ? 86400 : 1);
  }

  get isClient(): boolean {
    return this.famfs.role !== 'master';
  }

  // ---------------------------------------------------------------- inodes

  idOf(node: FsNode): bigint {
    return node.kind === 'dir' && node.index < 0 ? ROOT_ID : FIRST_NODE_ID + BigInt(node.index);
  }

  /** The inode behind a kernel nodeid; ENOENT for one we never handed out. */
  private inode(id: bigint): Inode {
    if (id === ROOT_ID) return { kind: 'node', node: this.famfs.namespace.root };
    if (id === META_DIR_ID) return { kind: 'meta-dir' };
    if (id === META_SB_ID) return { kind: 'superblock' };
    if (id === META_LOG_ID) return { kind: 'log' };
    if (id > META_SECONDARY_SB && id < META_SECONDARY_SB + MAX_SECONDARY) {
      const index = Number(id - META_SECONDARY_SB);
      if (index < this.famfs.daxdevTable().length) return { kind: 'secondary-sb', index };
    }
    if (id >= FIRST_NODE_ID && id < META_SECONDARY_SB) {
      const node = this.famfs.namespace.byIndex(Number(id - FIRST_NODE_ID));
      if (node !== undefined) return { kind: 'node', node };
    }
    throw new FamfsError('ENOENT', 'inode', `unknown nodeid ${id}`);
  }

  private dirOf(id: bigint): DirNode {
    const i = this.inode(id);
    if (i.kind === 'node' && i.node.kind === 'dir') return i.node;
    throw new FamfsError('ENOTDIR', 'lookup', `nodeid ${id} is not a directory`);
  }

  fileOf(id: bigint): FileNode {
    const i = this.inode(id);
    if (i.kind === 'node' && i.node.kind === 'file') return i.node;
    if (i.kind === 'superblock' || i.kind === 'log') return this.metaFile(i.kind);
    if (i.kind === 'secondary-sb') return this.famfs.secondaryMetaFile(i.index);
    throw new FamfsError('EISDIR', 'open', `nodeid ${id} is not a regular file`);
  }

  /** The meta files (core's): upstream's .superblock is read-only everywhere, .log writable on the master only. */
  private metaFile(kind: MetaKind): FileNode {
    return this.famfs.metaFile(kind);
  }

  isMeta(id: bigint): boolean {
    return id === META_SB_ID || id === META_LOG_ID || id === META_DIR_ID || (id > META_SECONDARY_SB && id < META_SECONDARY_SB + MAX_SECONDARY);
  }

  /** Count a lookup the kernel now holds (released by FORGET). */
  rememberLookup(id: bigint): void {
    if (id === ROOT_ID) return;
    this.lookups.set(id, (this.lookups.get(id) ?? 0) + 1);
  }

  forget(id: bigint, nlookup: number): void {
    const n = (this.lookups.get(id) ?? 0) - nlookup;
    if (n > 0) this.lookups.set(id, n);
    else this.lookups.delete(id);
  }

  /** Inodes the kernel holds references to (for stats and leak tests). */
  get rememberedInodes(): number {
    return this.lookups.size;
  }

  // ---------------------------------------------------------------- attributes

  getattr(id: bigint): Attr {
    this.catchUp();
    const i = this.inode(id);
    if (i.kind === 'meta-dir') return this.attr(META_DIR_ID, S_IFDIR | 0o755, 0, 0, 0, 2);
    if (i.kind === 'superblock' || i.kind === 'log' || i.kind === 'secondary-sb') {
      const f = i.kind === 'secondary-sb' ? this.famfs.secondaryMetaFile(i.index) : this.metaFile(i.kind);
      return this.attr(id, S_IFREG | f.mode, f.size, 0, 0, 1);
    }
    if (i.kind !== 'node') throw new FamfsError('ENOENT', 'getattr', `unknown nodeid ${id}`);
    return this.nodeAttr(i.node);
  }

  private nodeAttr(n: FsNode): Attr {
    if (n.kind === 'dir') {
      let subdirs = 0;
      for (const c of n.children.values()) if (c.kind === 'dir') subdirs++;
      if (n.index < 0) subdirs++; // .meta
      return this.attr(this.idOf(n), S_IFDIR | n.mode, 0, n.uid, n.gid, 2 + subdirs);
    }
    // A client may not write: its view of every file is read-only (upstream logplay does the same).
    const mode = this.isClient ? n.mode & ~0o222 : n.mode;
    return this.attr(this.idOf(n), S_IFREG | mode, n.size, n.uid, n.gid, 1);
  }

  private attr(ino: bigint, mode: number, size: number, uid: number, gid: number, nlink: number): Attr {
    return {
      ino, size, blocks: Math.ceil(size / BLOCK), time: this.mountTime, mode, nlink, uid, gid,
      blksize: this.famfs.sb.allocUnit,
    };
  }

  // ---------------------------------------------------------------- namespace

  /** LOOKUP: the child `name` of directory `parent`; counts a lookup. */
  lookup(parent: bigint, name: string): Attr {
    let attr: Attr;
    if (parent === ROOT_ID && name === META_DIR) attr = this.getattr(META_DIR_ID);
    else if (parent === META_DIR_ID) {
      const m = /^\.superblock\.([1-9]\d?)$/.exec(name);
      if (name === '.superblock') attr = this.getattr(META_SB_ID);
      else if (name === '.log') attr = this.getattr(META_LOG_ID);
      else if (m !== null && Number(m[1]) < this.famfs.daxdevTable().length) attr = this.getattr(META_SECONDARY_SB + BigInt(m[1]!));
      else throw new FamfsError('ENOENT', 'lookup', `${META_DIR}/${name}: no such file`);
    } else {
      this.catchUp();
      const dir = this.dirOf(parent);
      const child = dir.children.get(name);
      if (child === undefined) throw new FamfsError('ENOENT', 'lookup', `${dir.relpath === '' ? '' : `${dir.relpath}/`}${name}: no such file or directory`);
      attr = this.nodeAttr(child);
    }
    this.rememberLookup(attr.ino);
    return attr;
  }

  /**
   * READDIR: the entries of a directory from `offset` (an index into the
   * listing, `.` and `..` included). Offsets stay valid while the directory
   * only grows (names are listed in log order, appended at the end).
   */
  readdir(id: bigint): DirEntry[] {
    if (id === META_DIR_ID) {
      return [
        { name: '.', ino: META_DIR_ID, type: 'dir' },
        { name: '..', ino: ROOT_ID, type: 'dir' },
        { name: '.superblock', ino: META_SB_ID, type: 'file' },
        { name: '.log', ino: META_LOG_ID, type: 'file' },
        ...this.famfs.daxdevTable().slice(1).map((d): DirEntry => ({ name: `.superblock.${d.index}`, ino: META_SECONDARY_SB + BigInt(d.index), type: 'file' })),
      ];
    }
    const dir = this.dirOf(id);
    this.catchUp();
    const parentId = dir.index < 0 ? ROOT_ID : this.idOf(this.famfs.namespace.lookup(parentOf(dir.relpath))!);
    const out: DirEntry[] = [
      { name: '.', ino: id, type: 'dir' },
      { name: '..', ino: parentId, type: 'dir' },
    ];
    if (dir.index < 0) out.push({ name: META_DIR, ino: META_DIR_ID, type: 'dir' });
    for (const [name, c] of dir.children) out.push({ name, ino: this.idOf(c), type: c.kind === 'dir' ? 'dir' : 'file' });
    return out;
  }

  /** MKDIR through the mount: logged like `famfs mkdir` (master only). */
  mkdir(parent: bigint, name: string, mode: number, uid: number, gid: number): Attr {
    if (parent === META_DIR_ID || (parent === ROOT_ID && name === META_DIR)) {
      throw new FamfsError('EPERM', 'mkdir', `${META_DIR} is reserved`);
    }
    if (this.isClient) throw new FamfsError('EROFS', 'mkdir', 'this host is a famfs client: metadata is read-only');
    const dir = this.dirOf(parent);
    const rel = dir.relpath === '' ? name : `${dir.relpath}/${name}`;
    const d = this.famfs.mkdir(rel, { mode: mode & 0o7777, uid, gid });
    const attr = this.nodeAttr(d);
    this.rememberLookup(attr.ino);
    return attr;
  }

  // ---------------------------------------------------------------- handles

  /**
   * OPEN: a handle for a regular file (or meta file). Refused: O_TRUNC (a
   * famfs file has a fixed size), writing on a client host (EROFS), writing
   * a meta file (EPERM).
   */
  open(id: bigint, flags: number): bigint {
    this.fileOf(id);
    const writable = (flags & O_ACCMODE) !== 0;
    if (flags & O_TRUNC) throw new FamfsError('EPERM', 'open', 'famfs files cannot be truncated');
    if (writable && this.isClient) throw new FamfsError('EROFS', 'open', 'this host is a famfs client: files are read-only');
    // the meta files are read-only through the mount — but in famfs mode the
    // master's own log is the mount's .meta/.log, mapped writable (upstream
    // makes it 0644 on the master for the same reason)
    if (writable && this.isMeta(id) && !(this.metaWritable && id === META_LOG_ID)) {
      throw new FamfsError('EPERM', 'open', 'the famfs meta files are read-only through the mount');
    }
    return this.newHandle({ nodeid: id, dir: false, writable });
  }

  /** OPENDIR: a handle for a directory. */
  opendir(id: bigint): bigint {
    this.catchUp();
    const i = this.inode(id);
    if (i.kind !== 'meta-dir' && !(i.kind === 'node' && i.node.kind === 'dir')) {
      throw new FamfsError('ENOTDIR', 'opendir', `nodeid ${id} is not a directory`);
    }
    return this.newHandle({ nodeid: id, dir: true, writable: false });
  }

  private newHandle(h: Handle): bigint {
    const fh = this.nextFh++;
    this.handles.set(fh, h);
    return fh;
  }

  /** The handle a request names; EBADF for one never given out, released, or of another inode or kind. */
  handle(fh: bigint, id: bigint, dir: boolean): Handle {
    const h = this.handles.get(fh);
    if (h === undefined || h.nodeid !== id || h.dir !== dir) {
      throw new FamfsError('EBADF', 'handle', `unknown ${dir ? 'directory' : 'file'} handle ${fh} for nodeid ${id}`);
    }
    return h;
  }

  /** RELEASE / RELEASEDIR. */
  release(fh: bigint, id: bigint, dir: boolean): void {
    this.handle(fh, id, dir);
    this.handles.delete(fh);
  }

  get openHandles(): number {
    return this.handles.size;
  }

  // ---------------------------------------------------------------- policy

  /**
   * SETATTR: famfs stores no times, and a file's size, mode and owner are
   * fixed when it is logged: changing any of them is EPERM. Times (touch)
   * are accepted and not stored. Returns the attributes as they are.
   */
  setattr(id: bigint, change: AttrChange): Attr {
    if (change.size || change.mode || change.owner) {
      throw new FamfsError('EPERM', 'setattr', 'famfs files have a fixed size, mode and owner');
    }
    return this.getattr(id);
  }

  /**
   * ACCESS: the kernel checks modes itself (default_permissions); what it
   * cannot know is that a client host is read-only for root too.
   */
  access(id: bigint, mask: number): void {
    this.getattr(id);
    if (mask & W_OK && this.isClient) throw new FamfsError('EROFS', 'access', 'this host is a famfs client');
  }

  // ---------------------------------------------------------------- data

  /**
   * READ through handle `fh`: zero-copy views of the device covering
   * [offset, offset+size) of the file, clamped to its size (nothing at or
   * past EOF) — core's read path.
   */
  read(id: bigint, fh: bigint, offset: number, size: number): Uint8Array[] {
    this.handle(fh, id, false);
    return this.famfs.readViews(this.fileOf(id), offset, size);
  }

  /**
   * WRITE through a handle opened for writing: core's write path and its
   * rule (a short write up to the file size; EFBIG at or past it). Meta
   * files and client hosts never get a writable handle.
   */
  write(id: bigint, fh: bigint, offset: number, data: Uint8Array): number {
    const h = this.handle(fh, id, false);
    if (!h.writable) throw new FamfsError('EBADF', 'write', 'file handle is not open for writing');
    return this.famfs.writeAt(this.fileOf(id), offset, data);
  }

  /** GET_FMAP: the map the kernel maps the file with. */
  getFmap(id: bigint): FmapReply {
    const i = this.inode(id);
    if (i.kind === 'superblock' || i.kind === 'log') {
      const f = this.metaFile(i.kind);
      return { fileType: i.kind, size: f.size, fmap: f.fmap };
    }
    if (i.kind === 'secondary-sb') {
      const f = this.famfs.secondaryMetaFile(i.index);
      return { fileType: 'superblock', size: f.size, fmap: f.fmap };
    }
    const f = this.fileOf(id);
    return { fileType: 'reg', size: f.size, fmap: f.fmap };
  }

  // ---------------------------------------------------------------- fuse-iomap

  /**
   * IOMAP_BEGIN: where the kernel reads and writes file bytes from `pos`.
   * The policy: a write (WRITE, ZERO, UNSHARE, WRITEBACK) is EROFS on a
   * client, EPERM on a meta file, EFBIG at or past the file size (famfs
   * files never grow), EOPNOTSUPP when atomic (a PURE_OVERWRITE target
   * cannot promise untorn writes); a read at or past the size is a HOLE for
   * REPORT (FIEMAP, SEEK_HOLE) and EINVAL otherwise (the kernel clamps I/O
   * to i_size, so only a confused kernel asks). `attrIno` must be the ino
   * GETATTR reported (= the nodeid).
   */
  iomapBegin(id: bigint, attrIno: bigint, pos: bigint, count: bigint, opflags: number, ctx: IomapContext): IomapBeginOut {
    const file = this.iomapFile(id, attrIno, 'IOMAP_BEGIN');
    const write = (opflags & IOMAP_WRITE_OPS) !== 0;
    const size = BigInt(file.size);
    if (write) {
      this.mayWrite(id, 'IOMAP_BEGIN');
      if ((opflags & IomapOp.ATOMIC) !== 0) throw new FamfsError('EOPNOTSUPP', 'IOMAP_BEGIN', 'famfs files take no atomic (untorn) writes through iomap');
      if (pos >= size) throw new FamfsError('EFBIG', 'IOMAP_BEGIN', `write at ${pos}: famfs files never grow past their ${file.size} bytes`);
    }
    if (pos >= size) {
      if ((opflags & IomapOp.REPORT) !== 0) return holeAnswer(pos, count, ctx);
      throw new FamfsError('EINVAL', 'IOMAP_BEGIN', `read at ${pos} is at or past the end of the file (${file.size} bytes)`);
    }
    return mappedAnswer(file, pos, count, ctx, write);
  }

  /**
   * IOMAP_END: the kernel is done with a mapping. Checked: `written` is at
   * most `count` (a negative value is the kernel's errno: acknowledged, famfs
   * has nothing to undo), a write did not end past the file size (EFBIG), and
   * the mapping is one this file's map gives (EINVAL otherwise). Returns the
   * bytes a write put in the file.
   */
  iomapEnd(id: bigint, attrIno: bigint, pos: bigint, count: bigint, opflags: number, written: bigint, map: IomapIo, ctx: IomapContext): number {
    const op = 'IOMAP_END';
    const file = this.iomapFile(id, attrIno, op);
    if (written > count) throw new FamfsError('EINVAL', op, `written ${written} exceeds the operation's ${count} bytes`);
    const write = (opflags & IOMAP_WRITE_OPS) !== 0;
    if (write) this.mayWrite(id, op);
    if (map.type === IomapType.MAPPED) {
      if (!isMappingOf(file, map, ctx)) throw new FamfsError('EINVAL', op, `mapping ${map.offset}+${map.length} @${map.addr} dev ${map.dev} is not one of nodeid ${id}'s`);
    } else if (map.type === IomapType.HOLE || map.type === IomapType.PURE_OVERWRITE) {
      if (map.dev !== IOMAP_DEV_NULL || map.addr !== IOMAP_NULL_ADDR) throw new FamfsError('EINVAL', op, `a ${map.type === IomapType.HOLE ? 'hole' : 'pure overwrite'} with a device or an address`);
    } else {
      throw new FamfsError('EINVAL', op, `mapping type ${map.type} is never handed out by famfs`);
    }
    if (written <= 0n || !write) return 0;
    if (pos + written > BigInt(file.size)) throw new FamfsError('EFBIG', op, `a write to ${pos + written} went past the file's ${file.size} bytes`);
    return Number(written);
  }

  private iomapFile(id: bigint, attrIno: bigint, op: string): FileNode {
    const file = this.fileOf(id);
    // GETATTR reports ino = nodeid; another value means the kernel confused two inodes
    if (attrIno !== id) throw new FamfsError('EINVAL', op, `attr_ino ${attrIno} is not nodeid ${id}'s`);
    return file;
  }

  private mayWrite(id: bigint, op: string): void {
    if (this.isClient) throw new FamfsError('EROFS', op, 'this host is a famfs client: files are read-only');
    if (this.isMeta(id)) throw new FamfsError('EPERM', op, 'the famfs meta files are read-only through the mount');
  }

  // ---------------------------------------------------------------- the DAX window

  /**
   * SETUPMAPPING: show file bytes [foffset, foffset+len) at window offset
   * `moffset`, each device-contiguous piece (extent part or interleave
   * chunk, from core's resolver) at its place. `fh` is an open handle of
   * the file, or all ones: virtio-fs names the file by nodeid only. Errors:
   * EINVAL misaligned or unknown flags, ERANGE outside the window, EBADF an
   * unknown handle (or WRITE through a read-only one), ENOENT/EISDIR the
   * nodeid, EROFS WRITE on a client, EPERM WRITE on a meta file, ENXIO past
   * the file's allocation, then the window's own (ENOMEM …).
   */
  setupMapping(window: DaxWindow, id: bigint, fh: bigint, foffset: number, len: number, flags: number, moffset: number): void {
    const op = 'SETUPMAPPING';
    if ((flags & ~(SetupmappingFlag.READ | SetupmappingFlag.WRITE)) !== 0) throw new FamfsError('EINVAL', op, `unknown flags 0x${flags.toString(16)}`);
    window.checkRange(op, moffset, len);
    window.checkFileOffset(op, foffset);
    const writable = (flags & SetupmappingFlag.WRITE) !== 0;
    if (fh !== NO_FH) {
      const h = this.handle(fh, id, false);
      if (writable && !h.writable) throw new FamfsError('EBADF', op, `file handle ${fh} is not open for writing`);
    }
    const file = this.fileOf(id);
    if (writable) this.mayWrite(id, op);
    const cap = fmapCapacity(file.fmap);
    if (foffset + len > cap) throw new FamfsError('ENXIO', op, `[${foffset}, ${foffset + len}) is past the ${cap} bytes allocated to nodeid ${id}`);
    const pieces = resolveFmap(file.fmap, foffset, len).map((r) => ({ devIndex: r.devIndex, devOffset: r.offset, len: r.len }));
    window.setup(moffset, pieces, { writable, nodeid: id, foffset });
  }

  // ---------------------------------------------------------------- file system

  statfs(): { blocks: number; bfree: number; bavail: number; files: number; ffree: number; bsize: number; namelen: number; frsize: number } {
    // every device of the file system (df sums them)
    const bms = this.famfs.bitmaps;
    const capacity = bms.reduce((n, b) => n + b.capacity, 0);
    const free = bms.reduce((n, b) => n + b.freeBytes, 0);
    const bsize = 4096;
    const log = this.famfs.logUsage();
    return {
      blocks: Math.floor(capacity / bsize),
      bfree: Math.floor(free / bsize),
      bavail: Math.floor(free / bsize),
      files: log.capacity,
      ffree: log.capacity - log.used,
      bsize,
      namelen: 79,
      frsize: bsize,
    };
  }

  /**
   * Replay log entries another host (or the CLI) appended since the last
   * look. Returns what changed, so the caller can invalidate kernel caches.
   */
  /**
   * Metadata coherence without polling: the log header's next_index is the
   * file system's version number, in the shared memory itself. Every LOOKUP,
   * GETATTR, OPENDIR and READDIR compares it with what was replayed (one
   * read of the header) and replays the new entries before answering, so a
   * file another host (or an offline writer) logged is there at the next
   * access; `onChange` tells the kernel to drop what it cached. The daemon's
   * timer is only a fallback.
   */
  private catchUp(): void {
    if (!this.famfs.logChanged()) return;
    const r = this.refreshIfStale();
    if (r.entries > 0) this.onChange?.(r.changed);
  }

  /** famfs mode on the master: `.meta/.log` may be opened for writing (the daemon appends through it). */
  metaWritable = false;

  /** Called with what a replay on access added (the daemon sends the kernel its invalidations). */
  onChange: ((changed: Array<{ parent: bigint; name: string }>) => void) | undefined;

  refreshIfStale(): { entries: number; changed: Array<{ parent: bigint; name: string }> } {
    const before = this.famfs.logCursor;
    const stats = this.famfs.refresh();
    const changed: Array<{ parent: bigint; name: string }> = [];
    if (stats.entries === 0) return { entries: 0, changed };
    for (let i = before; i < this.famfs.logCursor; i++) {
      const n = this.famfs.namespace.byIndex(i);
      if (n === undefined) continue;
      const p = this.famfs.namespace.lookup(parentOf(n.relpath));
      if (p !== undefined) changed.push({ parent: this.idOf(p), name: baseName(n.relpath) });
    }
    return { entries: stats.entries, changed };
  }
}
