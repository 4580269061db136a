/**
 * Reply encoders: typed objects → bytes written to /dev/fuse.
 *
 * A reply is fuse_out_header + body, written with one write(2). Body encoders
 * return the body alone; `encodeReply` / `encodeReplyIov` put the header in
 * front (the iovec form keeps READ data uncopied). An error reply is the
 * header alone. A notification is a header with unique 0 and the notify code
 * in `error`, built here whole.
 *
 * Values that do not fit their field throw `EncodeError` naming the errno to
 * answer with instead; nothing is silently truncated.
 */

import {
  AttrLayout,
  AttrOutLayout,
  DirentLayout,
  DirentplusLayout,
  EntryOutLayout,
  KstatfsLayout,
  MAX_REPLY_ERRNO,
  NAME_MAX,
  NotifyCode,
  NotifyInvalEntryOutLayout,
  NotifyInvalInodeOutLayout,
  OpenOutLayout,
  OutHeaderLayout,
  WriteOutLayout,
} from './constants.js';
import { EncodeError, Writer, align8, utf8Bytes } from './cursor.js';

type U64 = bigint | number;

// ------------------------------------------------------------------ header

export interface OutHeader {
  /** bytes in the whole reply, header included */
  len: number;
  /** 0, -errno, or (notifications) the notify code */
  error: number;
  unique: bigint;
}

/** fuse_out_header, 16 bytes. */
export function encodeOutHeader(h: OutHeader): Uint8Array {
  const w = new Writer({ fixed: OutHeaderLayout.SIZE });
  w.struct('fuse_out_header', OutHeaderLayout.SIZE, (s) => {
    s.u32('len', h.len);
    s.i32('error', h.error);
    s.u64('unique', h.unique);
  });
  return w.finish();
}

function totalLen(parts: readonly Uint8Array[]): number {
  let n = OutHeaderLayout.SIZE;
  for (const p of parts) n += p.length;
  if (n > 0xffff_ffff) throw new EncodeError('fuse_out_header.len', OutHeaderLayout.LEN, `reply of ${n} bytes exceeds u32`, 'E2BIG');
  return n;
}

/** A successful reply as an iovec: [header, ...parts], the parts not copied. */
export function encodeReplyIov(unique: bigint, ...parts: Uint8Array[]): Uint8Array[] {
  return [encodeOutHeader({ len: totalLen(parts), error: 0, unique }), ...parts];
}

/**
 * The header of successful replies, written into one buffer that is reused:
 * the hot path's form of encodeReplyIov, for a writer that sends the reply
 * with one synchronous writev before it asks for the next header.
 */
export class ReplyHeader {
  private readonly bytes = new Uint8Array(OutHeaderLayout.SIZE);
  private readonly view = new DataView(this.bytes.buffer);

  /** The header for a successful reply to `unique` whose body is `parts`. */
  success(unique: bigint, parts: readonly Uint8Array[]): Uint8Array {
    this.view.setUint32(OutHeaderLayout.LEN, totalLen(parts), true);
    this.view.setInt32(OutHeaderLayout.ERROR, 0, true);
    this.view.setBigUint64(OutHeaderLayout.UNIQUE, unique, true);
    return this.bytes;
  }
}

/** A successful reply in one buffer: header then the parts. */
export function encodeReply(unique: bigint, ...parts: Uint8Array[]): Uint8Array {
  const len = totalLen(parts);
  const out = new Uint8Array(len);
  out.set(encodeOutHeader({ len, error: 0, unique }));
  let at = OutHeaderLayout.SIZE;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * An error reply: the header alone with error = -errno. The kernel rejects
 * an error reply that carries a body, and errnos outside 1..511.
 */
export function encodeErrorReply(unique: bigint, errno: number): Uint8Array {
  if (!Number.isInteger(errno) || errno < 1 || errno > MAX_REPLY_ERRNO) {
    throw new EncodeError('fuse_out_header.error', OutHeaderLayout.ERROR, `errno ${errno} is not in 1..${MAX_REPLY_ERRNO}`);
  }
  return encodeOutHeader({ len: OutHeaderLayout.SIZE, error: -errno, unique });
}

// ------------------------------------------------------------------ attrs

export interface Attr {
  ino: U64;
  size: number;
  /** 512-byte blocks */
  blocks: number;
  /** seconds since the epoch (may be negative) */
  atime: number;
  mtime: number;
  ctime: number;
  atimensec: number;
  mtimensec: number;
  ctimensec: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
  /** AttrFlag bits */
  flags: number;
}

function nsec(w: Writer, field: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= 1e9) throw w.fail(field, `nanoseconds ${v} not in [0, 1e9)`);
  w.u32(field, v);
}

function writeAttr(w: Writer, a: Attr): void {
  w.struct('fuse_attr', AttrLayout.SIZE, (s) => {
    s.u64('ino', a.ino);
    s.u64('size', a.size);
    s.u64('blocks', a.blocks);
    // The C fields are u64 but carry time64_t: write them two's complement.
    s.i64('atime', a.atime);
    s.i64('mtime', a.mtime);
    s.i64('ctime', a.ctime);
    nsec(s, 'atimensec', a.atimensec);
    nsec(s, 'mtimensec', a.mtimensec);
    nsec(s, 'ctimensec', a.ctimensec);
    s.u32('mode', a.mode);
    s.u32('nlink', a.nlink);
    s.u32('uid', a.uid);
    s.u32('gid', a.gid);
    s.u32('rdev', a.rdev);
    s.u32('blksize', a.blksize);
    s.u32('flags', a.flags);
  });
}

export interface EntryOut {
  /** 0 = a negative entry (cache "does not exist" for entryValid) */
  nodeid: bigint;
  generation: U64;
  /** cache timeouts: seconds + nanoseconds */
  entryValid: number;
  entryValidNsec: number;
  attrValid: number;
  attrValidNsec: number;
  attr: Attr;
}

function writeEntryOut(w: Writer, e: EntryOut): void {
  w.struct('fuse_entry_out', EntryOutLayout.SIZE, (s) => {
    s.u64('nodeid', e.nodeid);
    s.u64('generation', e.generation);
    s.u64('entry_valid', e.entryValid);
    s.u64('attr_valid', e.attrValid);
    nsec(s, 'entry_valid_nsec', e.entryValidNsec);
    nsec(s, 'attr_valid_nsec', e.attrValidNsec);
    writeAttr(s, e.attr);
  });
}

/** fuse_entry_out (LOOKUP, MKNOD, MKDIR, SYMLINK, LINK; CREATE's first part), 128 bytes. */
export function encodeEntryOut(e: EntryOut): Uint8Array {
  const w = new Writer({ fixed: EntryOutLayout.SIZE });
  writeEntryOut(w, e);
  return w.finish();
}

export interface AttrOut {
  attrValid: number;
  attrValidNsec: number;
  attr: Attr;
}

/** fuse_attr_out (GETATTR, SETATTR), 104 bytes. */
export function encodeAttrOut(a: AttrOut): Uint8Array {
  const w = new Writer({ fixed: AttrOutLayout.SIZE });
  w.struct('fuse_attr_out', AttrOutLayout.SIZE, (s) => {
    s.u64('attr_valid', a.attrValid);
    nsec(s, 'attr_valid_nsec', a.attrValidNsec);
    s.zeros('dummy', 4);
    writeAttr(s, a.attr);
  });
  return w.finish();
}

// ------------------------------------------------------------------ files

export interface OpenOut {
  fh: U64;
  /** FopenFlag bits */
  openFlags: number;
  /** PASSTHROUGH backing id; 0 otherwise */
  backingId?: number;
}

/** fuse_open_out (OPEN, OPENDIR; CREATE's second part), 16 bytes. */
export function encodeOpenOut(o: OpenOut): Uint8Array {
  const w = new Writer({ fixed: OpenOutLayout.SIZE });
  w.struct('fuse_open_out', OpenOutLayout.SIZE, (s) => {
    s.u64('fh', o.fh);
    s.u32('open_flags', o.openFlags);
    s.i32('backing_id', o.backingId ?? 0);
  });
  return w.finish();
}

/** fuse_write_out: how many bytes were written, 8 bytes. */
export function encodeWriteOut(size: number): Uint8Array {
  const w = new Writer({ fixed: WriteOutLayout.SIZE });
  w.struct('fuse_write_out', WriteOutLayout.SIZE, (s) => {
    s.u32('size', size);
    s.zeros('padding', 4);
  });
  return w.finish();
}

export interface Statfs {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

/** fuse_statfs_out (= fuse_kstatfs), 80 bytes. */
export function encodeStatfsOut(st: Statfs): Uint8Array {
  const w = new Writer({ fixed: KstatfsLayout.SIZE });
  w.struct('fuse_kstatfs', KstatfsLayout.SIZE, (s) => {
    s.u64('blocks', st.blocks);
    s.u64('bfree', st.bfree);
    s.u64('bavail', st.bavail);
    s.u64('files', st.files);
    s.u64('ffree', st.ffree);
    s.u32('bsize', st.bsize);
    s.u32('namelen', st.namelen);
    s.u32('frsize', st.frsize);
    s.zeros('padding', 4);
    s.zeros('spare', 24);
  });
  return w.finish();
}

// ------------------------------------------------------------------ readdir

export interface Dirent {
  ino: U64;
  /** the cookie a later READDIR passes back to continue after this entry */
  off: U64;
  /** DirentType (d_type) */
  type: number;
  name: string;
}

export interface DirentPlus extends Dirent {
  /** LOOKUP's answer for this entry; nodeid 0 = no lookup (the kernel takes no reference) */
  entry: EntryOut;
}

export interface PackedDirents {
  /** the reply body: `count` records, each padded to 8 bytes */
  bytes: Uint8Array;
  /** how many of the entries fit (a prefix of the input) */
  count: number;
}

/** The name's bytes, checked the way the kernel checks dirent names. */
function direntName(w: Writer, field: string, name: string): Uint8Array {
  const b = utf8Bytes(name);
  if (b.length === 0) throw w.fail(field, 'empty name');
  if (b.length > NAME_MAX) throw w.fail(field, `name of ${b.length} bytes exceeds NAME_MAX ${NAME_MAX}`, 'ENAMETOOLONG');
  if (b.includes(0) || b.includes(0x2f)) throw w.fail(field, "name contains NUL or '/'");
  return b;
}

function writeDirent(w: Writer, d: Dirent, name: Uint8Array): void {
  w.struct('fuse_dirent', DirentLayout.SIZE, (s) => {
    s.u64('ino', d.ino);
    s.u64('off', d.off);
    s.u32('namelen', name.length);
    s.u32('type', d.type);
  });
  w.bytes('name', name);
  w.padTo8();
}

/** Bytes one READDIR record takes: align8(24 + namelen). */
export function direntSize(nameBytes: number): number {
  return align8(DirentLayout.SIZE + nameBytes);
}

/** Bytes one READDIRPLUS record takes: align8(152 + namelen). */
export function direntplusSize(nameBytes: number): number {
  return align8(DirentplusLayout.SIZE + nameBytes);
}

/**
 * Pack READDIR records into at most `size` bytes (fuse_read_in.size), in
 * order, stopping at the first that does not fit whole. An entry with a bad
 * name throws `EncodeError` rather than being skipped.
 */
export function packDirents(entries: readonly Dirent[], size: number): PackedDirents {
  const w = new Writer({ capacity: Math.max(8, Math.min(size, 65536)) });
  let count = 0;
  for (const d of entries) {
    const name = direntName(w, `entries[${count}].name`, d.name);
    if (w.offset + direntSize(name.length) > size) break;
    writeDirent(w, d, name);
    count++;
  }
  return { bytes: w.finish(), count };
}

/**
 * Pack READDIRPLUS records (fuse_entry_out + fuse_dirent + name) into at most
 * `size` bytes. The kernel takes a lookup reference for every included entry
 * with a non-zero nodeid, so the caller must count exactly the first `count`.
 */
export function packDirentplus(entries: readonly DirentPlus[], size: number): PackedDirents {
  const w = new Writer({ capacity: Math.max(8, Math.min(size, 65536)) });
  let count = 0;
  for (const d of entries) {
    const name = direntName(w, `entries[${count}].name`, d.name);
    if (w.offset + direntplusSize(name.length) > size) break;
    writeEntryOut(w, d.entry);
    writeDirent(w, d, name);
    count++;
  }
  return { bytes: w.finish(), count };
}

// ------------------------------------------------------------ notifications

function notification(code: number, body: Uint8Array): Uint8Array {
  const len = OutHeaderLayout.SIZE + body.length;
  const out = new Uint8Array(len);
  out.set(encodeOutHeader({ len, error: code, unique: 0n }));
  out.set(body, OutHeaderLayout.SIZE);
  return out;
}

export interface NotifyInvalInode {
  ino: U64;
  /** start of the range to drop from the page cache; negative = attributes only */
  off: number;
  /** length of the range; 0 or negative = to the end */
  len: number;
}

/** A whole FUSE_NOTIFY_INVAL_INODE message (header + 24-byte body). */
export function encodeNotifyInvalInode(n: NotifyInvalInode): Uint8Array {
  const w = new Writer({ fixed: NotifyInvalInodeOutLayout.SIZE });
  w.struct('fuse_notify_inval_inode_out', NotifyInvalInodeOutLayout.SIZE, (s) => {
    s.u64('ino', n.ino);
    s.i64('off', n.off);
    s.i64('len', n.len);
  });
  return notification(NotifyCode.INVAL_INODE, w.finish());
}

export interface NotifyInvalEntry {
  parent: U64;
  name: string;
  /** NotifyInvalEntryFlag bits */
  flags?: number;
}

/** A whole FUSE_NOTIFY_INVAL_ENTRY message: header, 16-byte body, name, NUL. */
export function encodeNotifyInvalEntry(n: NotifyInvalEntry): Uint8Array {
  const w = new Writer();
  const name = direntName(w, 'name', n.name);
  w.struct('fuse_notify_inval_entry_out', NotifyInvalEntryOutLayout.SIZE, (s) => {
    s.u64('parent', n.parent);
    s.u32('namelen', name.length);
    s.u32('flags', n.flags ?? 0);
  });
  w.cstring('name', name);
  return notification(NotifyCode.INVAL_ENTRY, w.finish());
}
