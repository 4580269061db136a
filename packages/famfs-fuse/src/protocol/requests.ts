/**
 * Request decoders: bytes read from /dev/fuse → typed objects.
 *
 * One read of /dev/fuse is one request: fuse_in_header, the opcode's body,
 * then `total_extlen * 8` bytes of extensions. `decodeRequest` checks the
 * header against the buffer, strips the extensions and hands the body to the
 * opcode's decoder. Every decoder consumes its body exactly: a struct that is
 * short, a name without its NUL, a count or size that points past the end, or
 * bytes left over all fail with a `ProtocolError` — never a partial object.
 *
 * Bodies must have exactly their current (7.45) size: the negotiated minor is
 * at most ours and at least FUSE_MIN_KERNEL_MINOR, for which the kernel sends
 * these sizes, and anything newer travels as an extension that is counted in
 * total_extlen. Only INIT (sent before negotiation) and the famfs requests
 * (whose proposals differ) accept more than one size.
 *
 * 64-bit values: opaque handles (nodeid, fh, unique, lock_owner, generation)
 * are bigints; offsets, sizes and counts are numbers and fail above 2^53-1.
 */

import {
  AccessInLayout,
  BatchForgetInLayout,
  CreateInLayout,
  FAMFS_LEGACY_FMAP_BUFSIZE,
  FlushInLayout,
  ForgetInLayout,
  ForgetOneLayout,
  FsyncInLayout,
  GetattrInLayout,
  GetDaxdevInLayout,
  GetxattrInLayout,
  InHeaderLayout,
  InitFlag,
  InitInLayout,
  InterruptInLayout,
  IomapBeginInLayout,
  IomapEndInLayout,
  IomapIoLayout,
  LinkInLayout,
  MkdirInLayout,
  MknodInLayout,
  OpenInLayout,
  Opcode,
  ReadInLayout,
  ReleaseInLayout,
  RemovemappingInLayout,
  RemovemappingOneLayout,
  Rename2InLayout,
  RenameInLayout,
  SetattrInLayout,
  SetupmappingInLayout,
  SyncfsInLayout,
  WriteInLayout,
  joinInitFlags,
  opcodeName,
  upstreamOpcodeName,
  type FamfsProfile,
  type IomapProfile,
} from './constants.js';
import { ProtocolError, Reader } from './cursor.js';
import type { IomapIo } from './iomap.js';

// ------------------------------------------------------------------ header

export interface InHeader {
  /** bytes in the whole request, header and extensions included */
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
  /** extension bytes / 8 */
  totalExtlen: number;
}

/**
 * Decode and validate fuse_in_header against the buffer it came in:
 * `len` must be at least 40 and equal to the number of bytes read, and the
 * extensions must fit between the header and the end.
 */
export function decodeInHeader(buf: Uint8Array): InHeader {
  const r = new Reader(buf);
  const h = r.struct('fuse_in_header', InHeaderLayout.SIZE, (s): InHeader => {
    const len = s.u32('len');
    const opcode = s.u32('opcode');
    const unique = s.u64big('unique');
    const nodeid = s.u64big('nodeid');
    const uid = s.u32('uid');
    const gid = s.u32('gid');
    const pid = s.u32('pid');
    const totalExtlen = s.u16('total_extlen');
    s.skip('padding', 2);
    return { len, opcode, unique, nodeid, uid, gid, pid, totalExtlen };
  });
  if (h.len < InHeaderLayout.SIZE) {
    throw new ProtocolError('fuse_in_header.len', InHeaderLayout.LEN, `len ${h.len} is smaller than the 40-byte header`, h.opcode);
  }
  if (h.len !== buf.length) {
    throw new ProtocolError('fuse_in_header.len', InHeaderLayout.LEN, `len ${h.len} but ${buf.length} bytes were read`, h.opcode);
  }
  if (InHeaderLayout.SIZE + h.totalExtlen * 8 > h.len) {
    throw new ProtocolError(
      'fuse_in_header.total_extlen',
      InHeaderLayout.TOTAL_EXTLEN,
      `${h.totalExtlen * 8} extension bytes do not fit in a ${h.len}-byte request`,
      h.opcode,
    );
  }
  return h;
}

// ------------------------------------------------------------------ bodies

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  /** offered flags, 64-bit: flags2 counts only when INIT_EXT is set */
  flags: bigint;
}

export interface NameIn {
  name: string;
}

export interface ForgetIn {
  nlookup: number;
}

export interface ForgetOne {
  nodeid: bigint;
  nlookup: number;
}

export interface BatchForgetIn {
  forgets: ForgetOne[];
}

export interface GetattrIn {
  getattrFlags: number;
  /** valid only with GetattrFlag.FH */
  fh: bigint;
}

export interface SetattrIn {
  /** SetattrValid bits: which of the fields below mean anything */
  valid: number;
  fh: bigint;
  size: number;
  lockOwner: bigint;
  /** seconds; signed (the C type is u64 but carries time64_t) */
  atime: number;
  mtime: number;
  ctime: number;
  atimensec: number;
  mtimensec: number;
  ctimensec: number;
  mode: number;
  uid: number;
  gid: number;
}

export interface SymlinkIn {
  /** the new entry's name */
  name: string;
  /** what the link points to */
  target: string;
}

export interface MknodIn {
  mode: number;
  rdev: number;
  umask: number;
  name: string;
}

export interface MkdirIn {
  mode: number;
  umask: number;
  name: string;
}

export interface RenameIn {
  newdir: bigint;
  /** RENAME_NOREPLACE/EXCHANGE/WHITEOUT; always 0 for RENAME */
  flags: number;
  oldname: string;
  newname: string;
}

export interface LinkIn {
  oldnodeid: bigint;
  newname: string;
}

export interface OpenIn {
  /** open(2) flags */
  flags: number;
  /** OpenInFlag bits */
  openFlags: number;
}

export interface ReadIn {
  fh: bigint;
  offset: number;
  /** the most bytes the reply may carry */
  size: number;
  readFlags: number;
  lockOwner: bigint;
  flags: number;
}

export interface WriteIn {
  fh: bigint;
  offset: number;
  size: number;
  writeFlags: number;
  lockOwner: bigint;
  flags: number;
  /** exactly `size` bytes: a view into the request buffer (no copy) */
  data: Uint8Array;
}

export interface ReleaseIn {
  fh: bigint;
  flags: number;
  releaseFlags: number;
  lockOwner: bigint;
}

export interface FlushIn {
  fh: bigint;
  lockOwner: bigint;
}

export interface FsyncIn {
  fh: bigint;
  fsyncFlags: number;
}

export interface GetxattrIn {
  /** 0 = "how big is it?" (answer with fuse_getxattr_out), else the room for the value */
  size: number;
  name: string;
}

export interface ListxattrIn {
  size: number;
}

export interface AccessIn {
  mask: number;
}

export interface CreateIn {
  flags: number;
  mode: number;
  umask: number;
  openFlags: number;
  name: string;
}

export interface InterruptIn {
  unique: bigint;
}

export interface SetupmappingIn {
  fh: bigint;
  foffset: number;
  len: number;
  /** SetupmappingFlag bits */
  flags: number;
  moffset: number;
}

export interface RemovemappingOne {
  moffset: number;
  /** Infinity when the kernel sent all ones: the whole window */
  len: number;
}

export interface RemovemappingIn {
  mappings: RemovemappingOne[];
}

export interface GetFmapIn {
  /** the room the kernel has for the reply */
  size: number;
  /** false: the request had no body (older series); size is then the one page they used */
  sizeFromBody: boolean;
}

export interface GetDaxdevIn {
  daxdevNum: number;
  /** where the index came from: the body, or (older series, no body) the header's nodeid */
  from: 'body' | 'nodeid';
}

/**
 * fuse_iomap_begin_in. `pos` and `count` stay bigints: FIEMAP sends counts
 * up to 2^63-1, past what a number holds exactly.
 */
export interface IomapBeginIn {
  /** IomapOp bits */
  opflags: number;
  /** the fuse_attr.ino the server reported for the inode (the nodeid is in the header) */
  attrIno: bigint;
  pos: bigint;
  count: bigint;
}

/** fuse_iomap_end_in */
export interface IomapEndIn extends IomapBeginIn {
  /** bytes processed, or a negative errno */
  written: bigint;
  /** the mapping the kernel acted upon */
  map: IomapIo;
}

export type EmptyIn = Record<string, never>;

/** Decoded body type per operation. */
export interface RequestArgs {
  INIT: InitIn;
  LOOKUP: NameIn;
  FORGET: ForgetIn;
  BATCH_FORGET: BatchForgetIn;
  GETATTR: GetattrIn;
  SETATTR: SetattrIn;
  SYMLINK: SymlinkIn;
  MKNOD: MknodIn;
  MKDIR: MkdirIn;
  UNLINK: NameIn;
  RMDIR: NameIn;
  RENAME: RenameIn;
  RENAME2: RenameIn;
  LINK: LinkIn;
  OPEN: OpenIn;
  OPENDIR: OpenIn;
  READ: ReadIn;
  READDIR: ReadIn;
  READDIRPLUS: ReadIn;
  WRITE: WriteIn;
  STATFS: EmptyIn;
  RELEASE: ReleaseIn;
  RELEASEDIR: ReleaseIn;
  FSYNC: FsyncIn;
  FSYNCDIR: FsyncIn;
  GETXATTR: GetxattrIn;
  LISTXATTR: ListxattrIn;
  REMOVEXATTR: NameIn;
  FLUSH: FlushIn;
  ACCESS: AccessIn;
  CREATE: CreateIn;
  INTERRUPT: InterruptIn;
  DESTROY: EmptyIn;
  SYNCFS: EmptyIn;
  SETUPMAPPING: SetupmappingIn;
  REMOVEMAPPING: RemovemappingIn;
  GET_FMAP: GetFmapIn;
  GET_DAXDEV: GetDaxdevIn;
  IOMAP_BEGIN: IomapBeginIn;
  IOMAP_END: IomapEndIn;
}

export type DecodedOp = keyof RequestArgs;

/** A request with a decoded body, discriminated by `op`. */
export type KnownRequest = {
  [K in DecodedOp]: {
    op: K;
    header: InHeader;
    arg: RequestArgs[K];
    /** extension bytes (security contexts, supplementary groups: unused here); empty when total_extlen is 0 */
    extensions: Uint8Array;
  };
}[DecodedOp];

/** An opcode this layer has no decoder for (the dispatcher answers ENOSYS). */
export interface OtherRequest {
  op: 'OTHER';
  /** for logs: upstream name, or OPCODE_<n> */
  name: string;
  header: InHeader;
  body: Uint8Array;
  extensions: Uint8Array;
}

export type FuseRequest = KnownRequest | OtherRequest;

type Decoder<T> = (r: Reader, h: InHeader) => T;

/** A non-empty NUL-terminated name. */
function entryName(r: Reader, field: string): string {
  const at = r.offset;
  const s = r.cstring(field);
  if (s.length === 0) throw r.fail(field, 'empty name', at);
  return s;
}

/** A directory entry name: non-empty, no '/'. */
function componentName(r: Reader, field: string): string {
  const at = r.offset;
  const s = entryName(r, field);
  if (s.includes('/')) throw r.fail(field, "name contains '/'", at);
  return s;
}

function only<T>(r: Reader, what: string, v: T): T {
  r.end(what);
  return v;
}

const decodeEmpty: Decoder<EmptyIn> = (r) => only(r, 'body', {});

const decodeNameIn: Decoder<NameIn> = (r) => only(r, 'name', { name: componentName(r, 'name') });

const decodeInit: Decoder<InitIn> = (r) => {
  if (r.remaining !== InitInLayout.COMPAT_SIZE && r.remaining !== InitInLayout.SIZE) {
    throw r.fail('fuse_init_in', `body of ${r.remaining} bytes is neither 16 (before 7.36) nor 64`);
  }
  const head = r.struct('fuse_init_in', InitInLayout.COMPAT_SIZE, (s) => ({
    major: s.u32('major'),
    minor: s.u32('minor'),
    maxReadahead: s.u32('max_readahead'),
    flags: s.u32('flags'),
  }));
  let flags2 = 0;
  if (r.remaining > 0) {
    flags2 = r.u32('fuse_init_in.flags2');
    r.skip('fuse_init_in.unused', InitInLayout.SIZE - InitInLayout.UNUSED);
  }
  // flags2 is meaningful only when the kernel sets INIT_EXT (7.36+).
  const ext = (BigInt(head.flags) & InitFlag.INIT_EXT) !== 0n;
  return { major: head.major, minor: head.minor, maxReadahead: head.maxReadahead, flags: joinInitFlags(head.flags, ext ? flags2 : 0) };
};

const decodeForget: Decoder<ForgetIn> = (r) =>
  only(r, 'body', r.struct('fuse_forget_in', ForgetInLayout.SIZE, (s) => ({ nlookup: s.u64('nlookup') })));

const decodeBatchForget: Decoder<BatchForgetIn> = (r) => {
  const count = r.struct('fuse_batch_forget_in', BatchForgetInLayout.SIZE, (s) => {
    const c = s.u32('count');
    s.skip('dummy', 4);
    return c;
  });
  if (count * ForgetOneLayout.SIZE !== r.remaining) {
    throw r.fail('fuse_batch_forget_in.count', `count ${count} needs ${count * ForgetOneLayout.SIZE} bytes, ${r.remaining} remain`, 0);
  }
  const forgets: ForgetOne[] = [];
  for (let i = 0; i < count; i++) {
    forgets.push(
      r.struct(`fuse_forget_one[${i}]`, ForgetOneLayout.SIZE, (s) => ({ nodeid: s.u64big('nodeid'), nlookup: s.u64('nlookup') })),
    );
  }
  return { forgets };
};

const decodeGetattr: Decoder<GetattrIn> = (r) =>
  only(
    r,
    'body',
    r.struct('fuse_getattr_in', GetattrInLayout.SIZE, (s) => {
      const getattrFlags = s.u32('getattr_flags');
      s.skip('dummy', 4);
      return { getattrFlags, fh: s.u64big('fh') };
    }),
  );

const decodeSetattr: Decoder<SetattrIn> = (r) =>
  only(
    r,
    'body',
    r.struct('fuse_setattr_in', SetattrInLayout.SIZE, (s): SetattrIn => {
      const valid = s.u32('valid');
      s.skip('padding', 4);
      const fh = s.u64big('fh');
      const size = s.u64('size');
      const lockOwner = s.u64big('lock_owner');
      const atime = s.i64('atime');
      const mtime = s.i64('mtime');
      const ctime = s.i64('ctime');
      const atimensec = s.u32('atimensec');
      const mtimensec = s.u32('mtimensec');
      const ctimensec = s.u32('ctimensec');
      const mode = s.u32('mode');
      s.skip('unused4', 4);
      const uid = s.u32('uid');
      const gid = s.u32('gid');
      s.skip('unused5', 4);
      return { valid, fh, size, lockOwner, atime, mtime, ctime, atimensec, mtimensec, ctimensec, mode, uid, gid };
    }),
  );

// The kernel sends the new entry's name first, then the link target.
const decodeSymlink: Decoder<SymlinkIn> = (r) => {
  const name = componentName(r, 'name');
  const target = entryName(r, 'target');
  return only(r, 'target', { name, target });
};

const decodeMknod: Decoder<MknodIn> = (r) => {
  const s = r.struct('fuse_mknod_in', MknodInLayout.SIZE, (t) => {
    const v = { mode: t.u32('mode'), rdev: t.u32('rdev'), umask: t.u32('umask') };
    t.skip('padding', 4);
    return v;
  });
  return only(r, 'name', { ...s, name: componentName(r, 'name') });
};

const decodeMkdir: Decoder<MkdirIn> = (r) => {
  const s = r.struct('fuse_mkdir_in', MkdirInLayout.SIZE, (t) => ({ mode: t.u32('mode'), umask: t.u32('umask') }));
  return only(r, 'name', { ...s, name: componentName(r, 'name') });
};

function renameNames(r: Reader, newdir: bigint, flags: number): RenameIn {
  const oldname = componentName(r, 'oldname');
  const newname = componentName(r, 'newname');
  return only(r, 'newname', { newdir, flags, oldname, newname });
}

const decodeRename: Decoder<RenameIn> = (r) =>
  renameNames(r, r.struct('fuse_rename_in', RenameInLayout.SIZE, (s) => s.u64big('newdir')), 0);

const decodeRename2: Decoder<RenameIn> = (r) => {
  const { newdir, flags } = r.struct('fuse_rename2_in', Rename2InLayout.SIZE, (s) => {
    const v = { newdir: s.u64big('newdir'), flags: s.u32('flags') };
    s.skip('padding', 4);
    return v;
  });
  return renameNames(r, newdir, flags);
};

const decodeLink: Decoder<LinkIn> = (r) => {
  const oldnodeid = r.struct('fuse_link_in', LinkInLayout.SIZE, (s) => s.u64big('oldnodeid'));
  return only(r, 'newname', { oldnodeid, newname: componentName(r, 'newname') });
};

const decodeOpen: Decoder<OpenIn> = (r) =>
  only(r, 'body', r.struct('fuse_open_in', OpenInLayout.SIZE, (s) => ({ flags: s.u32('flags'), openFlags: s.u32('open_flags') })));

const decodeRead: Decoder<ReadIn> = (r) =>
  only(
    r,
    'body',
    r.struct('fuse_read_in', ReadInLayout.SIZE, (s): ReadIn => {
      const v = {
        fh: s.u64big('fh'),
        offset: s.u64('offset'),
        size: s.u32('size'),
        readFlags: s.u32('read_flags'),
        lockOwner: s.u64big('lock_owner'),
        flags: s.u32('flags'),
      };
      s.skip('padding', 4);
      return v;
    }),
  );

const decodeWrite: Decoder<WriteIn> = (r) => {
  const w = r.struct('fuse_write_in', WriteInLayout.SIZE, (s) => {
    const v = {
      fh: s.u64big('fh'),
      offset: s.u64('offset'),
      size: s.u32('size'),
      writeFlags: s.u32('write_flags'),
      lockOwner: s.u64big('lock_owner'),
      flags: s.u32('flags'),
    };
    s.skip('padding', 4);
    return v;
  });
  if (w.size !== r.remaining) {
    throw r.fail('fuse_write_in.size', `size ${w.size} but ${r.remaining} data bytes follow`, WriteInLayout.SIZE_FIELD);
  }
  return { ...w, data: r.bytesView('data', w.size) };
};

const decodeRelease: Decoder<ReleaseIn> = (r) =>
  only(
    r,
    'body',
    r.struct('fuse_release_in', ReleaseInLayout.SIZE, (s) => ({
      fh: s.u64big('fh'),
      flags: s.u32('flags'),
      releaseFlags: s.u32('release_flags'),
      lockOwner: s.u64big('lock_owner'),
    })),
  );

const decodeFlush: Decoder<FlushIn> = (r) =>
  only(
    r,
    'body',
    r.struct('fuse_flush_in', FlushInLayout.SIZE, (s) => {
      const fh = s.u64big('fh');
      s.skip('unused', 4);
      s.skip('padding', 4);
      return { fh, lockOwner: s.u64big('lock_owner') };
    }),
  );

const decodeFsync: Decoder<FsyncIn> = (r) =>
  only(
    r,
    'body',
    r.struct('fuse_fsync_in', FsyncInLayout.SIZE, (s) => {
      const v = { fh: s.u64big('fh'), fsyncFlags: s.u32('fsync_flags') };
      s.skip('padding', 4);
      return v;
    }),
  );

function getxattrSize(r: Reader): number {
  return r.struct('fuse_getxattr_in', GetxattrInLayout.SIZE, (s) => {
    const size = s.u32('size');
    s.skip('padding', 4);
    return size;
  });
}

const decodeGetxattr: Decoder<GetxattrIn> = (r) => {
  const size = getxattrSize(r);
  return only(r, 'name', { size, name: entryName(r, 'name') });
};

const decodeListxattr: Decoder<ListxattrIn> = (r) => only(r, 'body', { size: getxattrSize(r) });

const decodeRemovexattr: Decoder<NameIn> = (r) => only(r, 'name', { name: entryName(r, 'name') });

const decodeAccess: Decoder<AccessIn> = (r) =>
  only(
    r,
    'body',
    r.struct('fuse_access_in', AccessInLayout.SIZE, (s) => {
      const mask = s.u32('mask');
      s.skip('padding', 4);
      return { mask };
    }),
  );

const decodeCreate: Decoder<CreateIn> = (r) => {
  const s = r.struct('fuse_create_in', CreateInLayout.SIZE, (t) => ({
    flags: t.u32('flags'),
    mode: t.u32('mode'),
    umask: t.u32('umask'),
    openFlags: t.u32('open_flags'),
  }));
  return only(r, 'name', { ...s, name: componentName(r, 'name') });
};

const decodeInterrupt: Decoder<InterruptIn> = (r) =>
  only(r, 'body', r.struct('fuse_interrupt_in', InterruptInLayout.SIZE, (s) => ({ unique: s.u64big('unique') })));

const decodeSyncfs: Decoder<EmptyIn> = (r) => {
  r.struct('fuse_syncfs_in', SyncfsInLayout.SIZE, (s) => s.skip('padding', 8));
  return only(r, 'body', {});
};

const decodeSetupmapping: Decoder<SetupmappingIn> = (r) =>
  only(
    r,
    'body',
    r.struct('fuse_setupmapping_in', SetupmappingInLayout.SIZE, (s) => ({
      fh: s.u64big('fh'),
      foffset: s.u64('foffset'),
      len: s.u64('len'),
      flags: s.u64('flags'),
      moffset: s.u64('moffset'),
    })),
  );

const ALL_ONES = 0xffff_ffff_ffff_ffffn;

const decodeRemovemapping: Decoder<RemovemappingIn> = (r) => {
  const count = r.struct('fuse_removemapping_in', RemovemappingInLayout.SIZE, (s) => s.u32('count'));
  // Check the whole array against the body before reading any of it.
  if (count * RemovemappingOneLayout.SIZE !== r.remaining) {
    throw r.fail(
      'fuse_removemapping_in.count',
      `count ${count} needs ${count * RemovemappingOneLayout.SIZE} bytes, ${r.remaining} remain`,
      0,
    );
  }
  const mappings: RemovemappingOne[] = [];
  for (let i = 0; i < count; i++) {
    mappings.push(
      r.struct(`fuse_removemapping_one[${i}]`, RemovemappingOneLayout.SIZE, (s) => {
        const moffset = s.u64('moffset');
        const at = s.offset;
        const raw = s.u64big('len');
        if (raw === ALL_ONES) return { moffset, len: Number.POSITIVE_INFINITY };
        if (raw > BigInt(Number.MAX_SAFE_INTEGER)) throw s.fail('len', `value ${raw} exceeds 2^53-1`, at);
        return { moffset, len: Number(raw) };
      }),
    );
  }
  return { mappings };
};

// The kernel series differ: the newest sends fuse_getxattr_in (8 bytes) with
// the reply room, V2–V4 sent no body and gave the reply one page.
const decodeGetFmap: Decoder<GetFmapIn> = (r) => {
  if (r.remaining === 0) return { size: FAMFS_LEGACY_FMAP_BUFSIZE, sizeFromBody: false };
  return only(r, 'body', { size: getxattrSize(r), sizeFromBody: true });
};

// Most series put the index in the header's nodeid and send no body; others
// send fuse_get_daxdev_in (and nodeid 0).
const decodeGetDaxdev: Decoder<GetDaxdevIn> = (r, h) => {
  if (r.remaining === 0) {
    if (h.nodeid > 0xffff_ffffn) {
      throw new ProtocolError('fuse_in_header.nodeid', InHeaderLayout.NODEID, `daxdev index ${h.nodeid} exceeds u32`, h.opcode);
    }
    return { daxdevNum: Number(h.nodeid), from: 'nodeid' };
  }
  return only(
    r,
    'body',
    r.struct('fuse_get_daxdev_in', GetDaxdevInLayout.SIZE, (s) => ({ daxdevNum: s.u32('daxdev_num'), from: 'body' as const })),
  );
};

/** opflags, a reserved word that must be zero, attr_ino, pos, count: the head of both iomap requests */
function iomapHead(s: Reader): IomapBeginIn {
  const opflags = s.u32('opflags');
  const at = s.offset;
  if (s.u32('reserved') !== 0) throw s.fail('reserved', 'must be zero', at);
  return { opflags, attrIno: s.u64big('attr_ino'), pos: s.u64big('pos'), count: s.u64big('count') };
}

const decodeIomapBegin: Decoder<IomapBeginIn> = (r) =>
  only(r, 'body', r.struct('fuse_iomap_begin_in', IomapBeginInLayout.SIZE, iomapHead));

const decodeIomapEnd: Decoder<IomapEndIn> = (r) =>
  only(
    r,
    'body',
    r.struct('fuse_iomap_end_in', IomapEndInLayout.SIZE, (s) => {
      const head = iomapHead(s);
      const written = s.i64big('written');
      const map = s.struct('map', IomapIoLayout.SIZE, (m): IomapIo => ({
        offset: m.u64big('offset'),
        length: m.u64big('length'),
        addr: m.u64big('addr'),
        type: m.u16('type'),
        flags: m.u16('flags'),
        dev: m.u32('dev'),
      }));
      return { ...head, written, map };
    }),
  );

const DECODERS: { [K in DecodedOp]: Decoder<RequestArgs[K]> } = {
  INIT: decodeInit,
  LOOKUP: decodeNameIn,
  FORGET: decodeForget,
  BATCH_FORGET: decodeBatchForget,
  GETATTR: decodeGetattr,
  SETATTR: decodeSetattr,
  SYMLINK: decodeSymlink,
  MKNOD: decodeMknod,
  MKDIR: decodeMkdir,
  UNLINK: decodeNameIn,
  RMDIR: decodeNameIn,
  RENAME: decodeRename,
  RENAME2: decodeRename2,
  LINK: decodeLink,
  OPEN: decodeOpen,
  OPENDIR: decodeOpen,
  READ: decodeRead,
  READDIR: decodeRead,
  READDIRPLUS: decodeRead,
  WRITE: decodeWrite,
  STATFS: decodeEmpty,
  RELEASE: decodeRelease,
  RELEASEDIR: decodeRelease,
  FSYNC: decodeFsync,
  FSYNCDIR: decodeFsync,
  GETXATTR: decodeGetxattr,
  LISTXATTR: decodeListxattr,
  REMOVEXATTR: decodeRemovexattr,
  FLUSH: decodeFlush,
  ACCESS: decodeAccess,
  CREATE: decodeCreate,
  INTERRUPT: decodeInterrupt,
  DESTROY: decodeEmpty,
  SYNCFS: decodeSyncfs,
  SETUPMAPPING: decodeSetupmapping,
  REMOVEMAPPING: decodeRemovemapping,
  GET_FMAP: decodeGetFmap,
  GET_DAXDEV: decodeGetDaxdev,
  IOMAP_BEGIN: decodeIomapBegin,
  IOMAP_END: decodeIomapEnd,
};

function isDecodedOp(name: string): name is DecodedOp {
  return Object.prototype.hasOwnProperty.call(DECODERS, name);
}

export interface DecodeOptions {
  /**
   * The famfs profile, only once DAX_FMAP has been negotiated. Without it the
   * famfs opcode numbers are not famfs (54 may be FUSE_COMPOUND, 53 is
   * COPY_FILE_RANGE_64) and decode as OTHER or as their upstream meaning.
   */
  famfs?: FamfsProfile | null;
  /** The fuse-iomap profile, only once FUSE_IOMAP has been negotiated (4094/4095 mean nothing otherwise). */
  iomap?: IomapProfile | null;
}

/** Which operation an opcode number means under the given options. */
export function operationOf(opcode: number, opts: DecodeOptions = {}): DecodedOp | undefined {
  const famfs = opts.famfs;
  if (famfs) {
    if (opcode === famfs.getFmapOpcode) return 'GET_FMAP';
    if (opcode === famfs.getDaxdevOpcode) return 'GET_DAXDEV';
  }
  const iomap = opts.iomap;
  if (iomap) {
    if (opcode === iomap.beginOpcode) return 'IOMAP_BEGIN';
    if (opcode === iomap.endOpcode) return 'IOMAP_END';
  }
  const name = upstreamOpcodeName(opcode);
  return name !== undefined && isDecodedOp(name) ? name : undefined;
}

/**
 * Decode one request read from /dev/fuse. `buf` must be exactly the bytes
 * the read returned. Throws only `ProtocolError`. The returned `data` of a
 * WRITE and `extensions` are views into `buf`: keep `buf` alive and unchanged
 * while using them.
 */
export function decodeRequest(buf: Uint8Array, opts: DecodeOptions = {}): FuseRequest {
  const header = decodeInHeader(buf);
  const bodyEnd = header.len - header.totalExtlen * 8;
  const body = buf.subarray(InHeaderLayout.SIZE, bodyEnd);
  const extensions = buf.subarray(bodyEnd, header.len);
  const op = operationOf(header.opcode, opts);
  if (op === undefined) {
    return { op: 'OTHER', name: opcodeName(header.opcode), header, body, extensions };
  }
  const r = new Reader(body, { opcode: header.opcode, base: InHeaderLayout.SIZE });
  const arg = DECODERS[op](r, header);
  return { op, header, arg, extensions } as KnownRequest;
}

// -------------------------------------------------------------- the READ hot path

/** A READ with no extensions: fuse_in_header + fuse_read_in, the shape of every READ the kernel sends. */
export const PLAIN_READ_LEN = InHeaderLayout.SIZE + ReadInLayout.SIZE;

/** What a READ handler needs of a plain READ. */
export interface PlainRead {
  unique: bigint;
  nodeid: bigint;
  fh: bigint;
  offset: number;
  size: number;
}

/** hi word of a u64 at or above this is past 2^53 */
const SAFE_HI = 0x20_0000;

/**
 * The READ hot path: decode a plain READ straight from the bytes, through
 * the layout constants, without the generic decoder's objects. It accepts
 * exactly what decodeRequest accepts for such a READ (a test checks the two
 * agree) and returns undefined for anything else — another opcode, another
 * length, extensions, an offset past 2^53 — which then goes through
 * decodeRequest and is reported there.
 */
export function decodePlainRead(msg: Uint8Array): PlainRead | undefined {
  if (msg.length !== PLAIN_READ_LEN) return undefined;
  const dv = new DataView(msg.buffer, msg.byteOffset, PLAIN_READ_LEN);
  if (dv.getUint32(InHeaderLayout.OPCODE, true) !== Opcode.READ) return undefined;
  if (dv.getUint32(InHeaderLayout.LEN, true) !== PLAIN_READ_LEN || dv.getUint16(InHeaderLayout.TOTAL_EXTLEN, true) !== 0) return undefined;
  const body = InHeaderLayout.SIZE;
  const offHi = dv.getUint32(body + ReadInLayout.OFFSET + 4, true);
  if (offHi >= SAFE_HI) return undefined;
  return {
    unique: dv.getBigUint64(InHeaderLayout.UNIQUE, true),
    nodeid: dv.getBigUint64(InHeaderLayout.NODEID, true),
    fh: dv.getBigUint64(body + ReadInLayout.FH, true),
    offset: offHi * 0x1_0000_0000 + dv.getUint32(body + ReadInLayout.OFFSET, true),
    size: dv.getUint32(body + ReadInLayout.SIZE_FIELD, true),
  };
}
