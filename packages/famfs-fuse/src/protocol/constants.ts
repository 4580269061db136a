/**
 * FUSE kernel protocol constants: opcodes, flag bits, struct layouts.
 *
 * Source of the facts: docs/fuse-protocol.md and the C layouts of
 * include/uapi/linux/fuse.h (protocol 7.45; libfuse mirrors it as
 * include/fuse_kernel.h). Every size and offset below is asserted against
 * literal numbers in constants.test.ts, like libfuse's test_abi.c.
 *
 * Conventions: all integers are little-endian. A `SIZE` is the C sizeof of
 * the struct. A field literally called `size` in C is `SIZE_FIELD` here so it
 * cannot be confused with the struct size.
 */

// ------------------------------------------------------------------ versions

/** Major protocol version this server speaks. */
export const FUSE_KERNEL_VERSION = 7;
/** Highest minor version this server speaks (Linux 6.18 speaks 45). */
export const FUSE_OUR_MINOR = 45;
/**
 * Oldest kernel minor we accept. 7.31 brought SETUPMAPPING and map_alignment,
 * and from 7.23 on every struct we decode has its current size (mknod_in,
 * create_in, init_out …), so no compat-size branches are needed.
 */
export const FUSE_MIN_KERNEL_MINOR = 31;
/** nodeid of the root directory. */
export const FUSE_ROOT_ID = 1n;
/** A read of /dev/fuse needs at least this many bytes of buffer. */
export const FUSE_MIN_READ_BUFFER = 8192;
/** The page size the kernel counts max_pages in (x86-64). */
export const PAGE_SIZE = 4096;
/** Upper bound of init_out.max_pages the kernel accepts (FUSE_MAX_MAX_PAGES: 1 MiB requests). */
export const FUSE_MAX_MAX_PAGES = 256;
/** Requests per page the kernel uses when MAX_PAGES is not negotiated. */
export const FUSE_DEFAULT_MAX_PAGES_PER_REQ = 32;
/** Longest directory entry name (Linux NAME_MAX); the kernel refuses longer dirent names. */
export const NAME_MAX = 255;
/** Largest errno a reply may carry: the kernel rejects error <= -512 (ERESTARTSYS and up). */
export const MAX_REPLY_ERRNO = 511;
/** The kernel sends at most one page of removemapping entries (PAGE_SIZE / 16). */
export const FUSE_REMOVEMAPPING_MAX_ENTRY = 256;

/** Buffer a /dev/fuse read needs for a given max_write: one WRITE must fit whole. */
export function requestBufferSize(maxWrite: number): number {
  return Math.max(FUSE_MIN_READ_BUFFER, InHeaderLayout.SIZE + WriteInLayout.SIZE + maxWrite);
}

// ------------------------------------------------------------------- opcodes

/**
 * Upstream opcodes (enum fuse_opcode, protocol 7.45). The famfs opcodes are
 * NOT here: their numbers depend on which famfs proposal the kernel runs —
 * see `FamfsProfiles`.
 */
export const Opcode = {
  LOOKUP: 1,
  /** no reply */
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  /** may be answered with EAGAIN or not at all */
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  /** no reply */
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  /** 7.31, virtio-fs DAX window */
  SETUPMAPPING: 48,
  /** 7.31, virtio-fs DAX window */
  REMOVEMAPPING: 49,
  /** 7.34 */
  SYNCFS: 50,
  /** 7.37 */
  TMPFILE: 51,
  /** 7.39 */
  STATX: 52,
  /** 7.45 */
  COPY_FILE_RANGE_64: 53,
  CUSE_INIT: 4096,
} as const;

export type OpcodeName = keyof typeof Opcode;

const OPCODE_BY_NUMBER: ReadonlyMap<number, OpcodeName> = new Map(
  (Object.keys(Opcode) as OpcodeName[]).map((k) => [Opcode[k], k]),
);

/** The upstream name of an opcode number, or undefined. */
export function upstreamOpcodeName(opcode: number): OpcodeName | undefined {
  return OPCODE_BY_NUMBER.get(opcode);
}

/**
 * A name for logs: the famfs (or fuse-iomap) name when that profile is
 * active and claims the number, else the upstream name, else `OPCODE_<n>`.
 */
export function opcodeName(opcode: number, famfs?: FamfsProfile | null, iomap?: IomapProfile | null): string {
  if (famfs) {
    if (opcode === famfs.getFmapOpcode) return 'GET_FMAP';
    if (opcode === famfs.getDaxdevOpcode) return 'GET_DAXDEV';
  }
  if (iomap) {
    if (opcode === iomap.beginOpcode) return 'IOMAP_BEGIN';
    if (opcode === iomap.endOpcode) return 'IOMAP_END';
  }
  return OPCODE_BY_NUMBER.get(opcode) ?? `OPCODE_${opcode}`;
}

// ---------------------------------------------------------------- INIT flags

/**
 * INIT flags as one 64-bit bigint. On the wire bits 0–31 travel in
 * `flags` and bits 32–63 in `flags2` (read only when INIT_EXT is set).
 * The famfs DAX_FMAP bit is not here: it lives in `FamfsProfiles` because the
 * proposals disagree on its position (and fuse-iomap claims bit 43 too).
 */
export const InitFlag = {
  ASYNC_READ: 1n << 0n,
  POSIX_LOCKS: 1n << 1n,
  FILE_OPS: 1n << 2n,
  ATOMIC_O_TRUNC: 1n << 3n,
  EXPORT_SUPPORT: 1n << 4n,
  BIG_WRITES: 1n << 5n,
  DONT_MASK: 1n << 6n,
  SPLICE_WRITE: 1n << 7n,
  SPLICE_MOVE: 1n << 8n,
  SPLICE_READ: 1n << 9n,
  FLOCK_LOCKS: 1n << 10n,
  HAS_IOCTL_DIR: 1n << 11n,
  AUTO_INVAL_DATA: 1n << 12n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n,
  WRITEBACK_CACHE: 1n << 16n,
  NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n,
  HANDLE_KILLPRIV: 1n << 19n,
  POSIX_ACL: 1n << 20n,
  ABORT_ERROR: 1n << 21n,
  /** init_out.max_pages is valid */
  MAX_PAGES: 1n << 22n,
  CACHE_SYMLINKS: 1n << 23n,
  NO_OPENDIR_SUPPORT: 1n << 24n,
  EXPLICIT_INVAL_DATA: 1n << 25n,
  /** init_out.map_alignment is valid */
  MAP_ALIGNMENT: 1n << 26n,
  SUBMOUNTS: 1n << 27n,
  HANDLE_KILLPRIV_V2: 1n << 28n,
  /** setxattr_in grows to 16 bytes */
  SETXATTR_EXT: 1n << 29n,
  /** flags2 is valid (in both directions) */
  INIT_EXT: 1n << 30n,
  INIT_RESERVED: 1n << 31n,
  SECURITY_CTX: 1n << 32n,
  HAS_INODE_DAX: 1n << 33n,
  CREATE_SUPP_GROUP: 1n << 34n,
  HAS_EXPIRE_ONLY: 1n << 35n,
  DIRECT_IO_ALLOW_MMAP: 1n << 36n,
  PASSTHROUGH: 1n << 37n,
  NO_EXPORT_SUPPORT: 1n << 38n,
  HAS_RESEND: 1n << 39n,
  ALLOW_IDMAP: 1n << 40n,
  OVER_IO_URING: 1n << 41n,
  /** init_out.request_timeout is valid (7.43) */
  REQUEST_TIMEOUT: 1n << 42n,
} as const;

/** Every upstream INIT flag bit we know (protocol 7.45). */
export const KNOWN_INIT_FLAGS: bigint = Object.values(InitFlag).reduce((a, b) => a | b, 0n);

/**
 * Flags whose wire consequences this protocol layer handles. Left out:
 * OVER_IO_URING (a different transport), SETXATTR_EXT (changes setxattr_in,
 * which we do not decode), INIT_RESERVED and FILE_OPS (never used).
 */
export const PROTOCOL_SUPPORTED_FLAGS: bigint =
  KNOWN_INIT_FLAGS & ~(InitFlag.OVER_IO_URING | InitFlag.SETXATTR_EXT | InitFlag.INIT_RESERVED | InitFlag.FILE_OPS);

/** Split a 64-bit flag set into the wire's `flags` (bits 0–31) and `flags2` (bits 32–63). */
export function splitInitFlags(flags: bigint): { flags: number; flags2: number } {
  return { flags: Number(flags & 0xffff_ffffn), flags2: Number((flags >> 32n) & 0xffff_ffffn) };
}

/** Join the wire's `flags` and `flags2` into one 64-bit flag set. */
export function joinInitFlags(flags: number, flags2: number): bigint {
  return (BigInt(flags2 >>> 0) << 32n) | BigInt(flags >>> 0);
}

// ------------------------------------------------------------ famfs profiles

/**
 * Which famfs proposal the kernel speaks: the GET_FMAP / GET_DAXDEV opcode
 * numbers and the DAX_FMAP INIT bit. None of this is upstream, the proposals
 * renumbered as upstream grew, and the numbers collide with other users, so
 * the server chooses a profile by configuration and the negotiation only
 * believes the bit for kernel minors the profile names.
 */
export interface FamfsProfile {
  readonly name: string;
  readonly getFmapOpcode: number;
  readonly getDaxdevOpcode: number;
  /** the FUSE_DAX_FMAP bit, as a 64-bit flag */
  readonly daxFmapFlag: bigint;
  /** kernel minors for which the bit means DAX_FMAP (inclusive) */
  readonly minKernelMinor: number;
  readonly maxKernelMinor: number;
  /**
   * Daxdev indexes the kernel accepts in an fmap (0 .. n-1): the V10 series
   * refuses an extent on any daxdev but 0 (famfs_check_ext_alignment) and
   * fails the open; the RFC series, whose libfuse had a one-slot table, is
   * taken to do the same.
   */
  readonly fmapDaxdevs: number;
}

export const FamfsProfiles = {
  /**
   * The current famfs kernel series and its libfuse (found in the V4 libfuse
   * patch "fuse_kernel.h: add famfs DAX fmap protocol definitions", Jan 2026,
   * and jagalactic/libfuse): GET_FMAP 54, GET_DAXDEV 55, DAX_FMAP bit 43,
   * built on 7.45 and proposing 7.46 (its header still says minor 45).
   * Collisions: a proposed upstream FUSE_COMPOUND also takes opcode 54, and
   * fuse-iomap (experimental minor 99) also takes bit 43 — hence the minor
   * range 45–46.
   */
  'kernel-v10': {
    name: 'kernel-v10',
    getFmapOpcode: 54,
    getDaxdevOpcode: 55,
    daxFmapFlag: 1n << 43n,
    minKernelMinor: 45,
    maxKernelMinor: 46,
    fmapDaxdevs: 1,
  },
  /**
   * The first famfs-over-FUSE RFC (April 2025, "famfs_fuse: Basic fuse kernel
   * ABI enablement") and the libfuse famfs branch of that time, built on 7.42:
   * GET_FMAP 53, GET_DAXDEV 54, DAX_FMAP bit 42. Upstream later gave 53 to
   * COPY_FILE_RANGE_64 (7.45) and bit 42 to REQUEST_TIMEOUT (7.43), so the bit
   * is only believed from a 7.42 kernel.
   */
  'libfuse-famfs': {
    name: 'libfuse-famfs',
    getFmapOpcode: 53,
    getDaxdevOpcode: 54,
    daxFmapFlag: 1n << 42n,
    minKernelMinor: 42,
    maxKernelMinor: 42,
    fmapDaxdevs: 1,
  },
} as const satisfies Record<string, FamfsProfile>;

export type FamfsProfileName = keyof typeof FamfsProfiles;
export const DEFAULT_FAMFS_PROFILE: FamfsProfileName = 'kernel-v10';

// ------------------------------------------------------------ fuse-iomap profiles

/**
 * Which fuse-iomap series the kernel speaks: its opcode numbers, INIT bit,
 * the kernel minor it announces, and the fuse_attr flag that puts a regular
 * file on the iomap path. Like famfs, fuse-iomap is not upstream and its
 * numbers have moved between revisions; the INIT bit (43) is the one famfs's
 * kernel-v10 DAX_FMAP uses, so the bit is only believed for the minors the
 * profile names and a configuration where both profiles claim it for the
 * same minor is refused.
 */
export interface IomapProfile {
  readonly name: string;
  readonly beginOpcode: number;
  readonly endOpcode: number;
  /** the FUSE_IOMAP bit, as a 64-bit flag */
  readonly iomapFlag: bigint;
  /** kernel minors for which the bit means FUSE_IOMAP (inclusive) */
  readonly minKernelMinor: number;
  readonly maxKernelMinor: number;
  /** FUSE_ATTR_IOMAP: set in fuse_attr.flags of regular files while iomap is in force */
  readonly attrIomapFlag: number;
}

export const IomapProfiles = {
  /**
   * Darrick Wong's fuse-iomap RFC series (linux-fsdevel 2025; libfuse
   * "add fuse commands for iomap_begin and end", 28 Oct 2025): IOMAP_BEGIN
   * 4094, IOMAP_END 4095, FUSE_IOMAP bit 43, announced with the experimental
   * minor 99, FUSE_ATTR_IOMAP 1 << 2 (the September 2025 revision; a later
   * one moved it to 1 << 3 — a one-line change here).
   */
  'iomap-2025': {
    name: 'iomap-2025',
    beginOpcode: 4094,
    endOpcode: 4095,
    iomapFlag: 1n << 43n,
    minKernelMinor: 99,
    maxKernelMinor: 99,
    attrIomapFlag: 1 << 2,
  },
} as const satisfies Record<string, IomapProfile>;

export type IomapProfileName = keyof typeof IomapProfiles;
export const DEFAULT_IOMAP_PROFILE: IomapProfileName = 'iomap-2025';

/** fuse_iomap_io.type */
export const IomapType = {
  HOLE: 0,
  DELALLOC: 1,
  MAPPED: 2,
  UNWRITTEN: 3,
  INLINE: 4,
  /** write slot only: writes go where the read mapping points (nothing to allocate) */
  PURE_OVERWRITE: 255,
} as const;

/** fuse_iomap_io.flags (FUSE_IOMAP_F_*) */
export const IomapMapFlag = {
  NEW: 1 << 0,
  DIRTY: 1 << 1,
  SHARED: 1 << 2,
  MERGED: 1 << 3,
  BOUNDARY: 1 << 4,
  ANON_WRITE: 1 << 5,
  ATOMIC_BIO: 1 << 6,
  /** the server asks for an IOMAP_END call */
  WANT_IOMAP_END: 1 << 7,
  /** END only (kernel → server) */
  SIZE_CHANGED: 1 << 8,
  STALE: 1 << 9,
} as const;

/** fuse_iomap_begin_in.opflags (FUSE_IOMAP_OP_*) */
export const IomapOp = {
  WRITE: 1 << 0,
  ZERO: 1 << 1,
  /** FIEMAP / SEEK_DATA: report the mapping, no I/O */
  REPORT: 1 << 2,
  FAULT: 1 << 3,
  DIRECT: 1 << 4,
  NOWAIT: 1 << 5,
  OVERWRITE_ONLY: 1 << 6,
  UNSHARE: 1 << 7,
  DAX: 1 << 8,
  ATOMIC: 1 << 9,
  DONTCACHE: 1 << 10,
  /** page-cache writeback */
  WRITEBACK: 2 ** 31,
} as const;

/** opflags that make an operation a write for the kernel (fuse_iomap_is_write) */
export const IOMAP_WRITE_OPS = (IomapOp.WRITE | IomapOp.ZERO | IomapOp.UNSHARE | IomapOp.WRITEBACK) >>> 0;
/** flags a BEGIN reply may carry (bits 0–7; SIZE_CHANGED and STALE are the kernel's) */
export const IOMAP_BEGIN_REPLY_FLAGS = 0xff;
/** fuse_iomap_io.addr when the mapping has no device address */
export const IOMAP_NULL_ADDR = 0xffff_ffff_ffff_ffffn;
/** fuse_iomap_io.dev: no device */
export const IOMAP_DEV_NULL = 0;

// ------------------------------------------------------------ per-op flags

/** fuse_open_out.open_flags */
export const FopenFlag = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
  STREAM: 1 << 4,
  NOFLUSH: 1 << 5,
  PARALLEL_DIRECT_WRITES: 1 << 6,
  PASSTHROUGH: 1 << 7,
} as const;

/** fuse_open_in.open_flags / fuse_create_in.open_flags */
export const OpenInFlag = {
  KILL_SUIDGID: 1 << 0,
} as const;

/** Notification codes: the `error` field of an out header whose unique is 0. */
export const NotifyCode = {
  POLL: 1,
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
  RETRIEVE: 5,
  DELETE: 6,
  RESEND: 7,
  INC_EPOCH: 8,
  PRUNE: 9,
} as const;

/** fuse_notify_inval_entry_out.flags */
export const NotifyInvalEntryFlag = {
  EXPIRE_ONLY: 1 << 0,
} as const;

/** fuse_setattr_in.valid (FATTR_*) */
export const SetattrValid = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  LOCKOWNER: 1 << 9,
  CTIME: 1 << 10,
  KILL_SUIDGID: 1 << 11,
} as const;

/** fuse_getattr_in.getattr_flags */
export const GetattrFlag = {
  /** fuse_getattr_in.fh is valid */
  FH: 1 << 0,
} as const;

/** fuse_attr.flags */
export const AttrFlag = {
  SUBMOUNT: 1 << 0,
  DAX: 1 << 1,
} as const;

/** fuse_setupmapping_in.flags */
export const SetupmappingFlag = {
  WRITE: 1 << 0,
  READ: 1 << 1,
} as const;

/** d_type values for fuse_dirent.type (from <dirent.h>) */
export const DirentType = {
  UNKNOWN: 0,
  FIFO: 1,
  CHR: 2,
  DIR: 4,
  BLK: 6,
  REG: 8,
  LNK: 10,
  SOCK: 12,
} as const;

// ------------------------------------------------------------ famfs values

/** fuse_famfs_fmap_header.file_type */
export const FamfsFileType = {
  REG: 0,
  SUPERBLOCK: 1,
  LOG: 2,
} as const;

/** fuse_famfs_fmap_header.ext_type */
export const FamfsExtType = {
  SIMPLE: 0,
  INTERLEAVE: 1,
} as const;

/** fuse_famfs_fmap_header.fmap_version */
export const FAMFS_FMAP_VERSION = 1;
/** Largest GET_FMAP reply the kernel series accepts. */
export const FAMFS_FMAP_MAX = 32768;
/** Extent and strip limits of the kernel series. */
export const FUSE_FAMFS_MAX_EXTENTS = 32;
export const FUSE_FAMFS_MAX_STRIPS = 32;
/** fuse_daxdev_out.name: the device path, NUL-terminated within these bytes. */
export const DAXDEV_NAME_MAX = 256;
/**
 * Reply room a GET_FMAP request without a body implies: the V2–V4 kernel
 * series sent no fuse_getxattr_in and gave the reply one page.
 */
export const FAMFS_LEGACY_FMAP_BUFSIZE = PAGE_SIZE;

// ------------------------------------------------------------ struct layouts

/** struct fuse_in_header: `len` counts the header, the body and any extensions. */
export const InHeaderLayout = {
  SIZE: 40,
  LEN: 0,
  OPCODE: 4,
  UNIQUE: 8,
  NODEID: 16,
  UID: 24,
  GID: 28,
  PID: 32,
  /** extension bytes at the end of the request, in units of 8 bytes (7.38) */
  TOTAL_EXTLEN: 36,
  PADDING: 38,
} as const;

/** struct fuse_out_header: `len` counts the header and the body. */
export const OutHeaderLayout = {
  SIZE: 16,
  LEN: 0,
  /** 0 or -errno; for a notification (unique 0) the notify code */
  ERROR: 4,
  UNIQUE: 8,
} as const;

/** struct fuse_init_in. Kernels before 7.36 send only the first 16 bytes. */
export const InitInLayout = {
  SIZE: 64,
  COMPAT_SIZE: 16,
  MAJOR: 0,
  MINOR: 4,
  MAX_READAHEAD: 8,
  FLAGS: 12,
  FLAGS2: 16,
  /** u32 unused[11] */
  UNUSED: 20,
} as const;

/** struct fuse_init_out */
export const InitOutLayout = {
  SIZE: 64,
  MAJOR: 0,
  MINOR: 4,
  MAX_READAHEAD: 8,
  FLAGS: 12,
  MAX_BACKGROUND: 16,
  CONGESTION_THRESHOLD: 18,
  MAX_WRITE: 20,
  TIME_GRAN: 24,
  MAX_PAGES: 28,
  MAP_ALIGNMENT: 30,
  FLAGS2: 32,
  MAX_STACK_DEPTH: 36,
  REQUEST_TIMEOUT: 40,
  /** u16 unused[11] */
  UNUSED: 42,
} as const;

/** struct fuse_attr */
export const AttrLayout = {
  SIZE: 88,
  INO: 0,
  SIZE_FIELD: 8,
  BLOCKS: 16,
  ATIME: 24,
  MTIME: 32,
  CTIME: 40,
  ATIMENSEC: 48,
  MTIMENSEC: 52,
  CTIMENSEC: 56,
  MODE: 60,
  NLINK: 64,
  UID: 68,
  GID: 72,
  RDEV: 76,
  BLKSIZE: 80,
  FLAGS: 84,
} as const;

/** struct fuse_entry_out */
export const EntryOutLayout = {
  SIZE: 128,
  NODEID: 0,
  GENERATION: 8,
  ENTRY_VALID: 16,
  ATTR_VALID: 24,
  ENTRY_VALID_NSEC: 32,
  ATTR_VALID_NSEC: 36,
  ATTR: 40,
} as const;

/** struct fuse_attr_out */
export const AttrOutLayout = {
  SIZE: 104,
  ATTR_VALID: 0,
  ATTR_VALID_NSEC: 8,
  DUMMY: 12,
  ATTR: 16,
} as const;

/** struct fuse_getattr_in */
export const GetattrInLayout = { SIZE: 16, GETATTR_FLAGS: 0, DUMMY: 4, FH: 8 } as const;

/** struct fuse_setattr_in */
export const SetattrInLayout = {
  SIZE: 88,
  VALID: 0,
  PADDING: 4,
  FH: 8,
  SIZE_FIELD: 16,
  LOCK_OWNER: 24,
  ATIME: 32,
  MTIME: 40,
  CTIME: 48,
  ATIMENSEC: 56,
  MTIMENSEC: 60,
  CTIMENSEC: 64,
  MODE: 68,
  UNUSED4: 72,
  UID: 76,
  GID: 80,
  UNUSED5: 84,
} as const;

/** struct fuse_open_in (OPEN, OPENDIR) */
export const OpenInLayout = { SIZE: 8, FLAGS: 0, OPEN_FLAGS: 4 } as const;

/** struct fuse_open_out */
export const OpenOutLayout = { SIZE: 16, FH: 0, OPEN_FLAGS: 8, BACKING_ID: 12 } as const;

/** struct fuse_create_in; the new entry's name follows */
export const CreateInLayout = { SIZE: 16, FLAGS: 0, MODE: 4, UMASK: 8, OPEN_FLAGS: 12 } as const;

/** struct fuse_mknod_in; the name follows */
export const MknodInLayout = { SIZE: 16, MODE: 0, RDEV: 4, UMASK: 8, PADDING: 12 } as const;

/** struct fuse_mkdir_in; the name follows */
export const MkdirInLayout = { SIZE: 8, MODE: 0, UMASK: 4 } as const;

/** struct fuse_rename_in; old name and new name follow */
export const RenameInLayout = { SIZE: 8, NEWDIR: 0 } as const;

/** struct fuse_rename2_in; old name and new name follow */
export const Rename2InLayout = { SIZE: 16, NEWDIR: 0, FLAGS: 8, PADDING: 12 } as const;

/** struct fuse_link_in; the new name follows */
export const LinkInLayout = { SIZE: 8, OLDNODEID: 0 } as const;

/** struct fuse_release_in (RELEASE, RELEASEDIR) */
export const ReleaseInLayout = { SIZE: 24, FH: 0, FLAGS: 8, RELEASE_FLAGS: 12, LOCK_OWNER: 16 } as const;

/** struct fuse_flush_in */
export const FlushInLayout = { SIZE: 24, FH: 0, UNUSED: 8, PADDING: 12, LOCK_OWNER: 16 } as const;

/** struct fuse_read_in (READ, READDIR, READDIRPLUS); `size` is the most bytes the reply may carry */
export const ReadInLayout = {
  SIZE: 40,
  FH: 0,
  OFFSET: 8,
  SIZE_FIELD: 16,
  READ_FLAGS: 20,
  LOCK_OWNER: 24,
  FLAGS: 32,
  PADDING: 36,
} as const;

/** struct fuse_write_in; `size` bytes of data follow at body offset 40 */
export const WriteInLayout = {
  SIZE: 40,
  FH: 0,
  OFFSET: 8,
  SIZE_FIELD: 16,
  WRITE_FLAGS: 20,
  LOCK_OWNER: 24,
  FLAGS: 32,
  PADDING: 36,
} as const;

/** struct fuse_write_out */
export const WriteOutLayout = { SIZE: 8, SIZE_FIELD: 0, PADDING: 4 } as const;

/** struct fuse_kstatfs (= struct fuse_statfs_out) */
export const KstatfsLayout = {
  SIZE: 80,
  BLOCKS: 0,
  BFREE: 8,
  BAVAIL: 16,
  FILES: 24,
  FFREE: 32,
  BSIZE: 40,
  NAMELEN: 44,
  FRSIZE: 48,
  PADDING: 52,
  /** u32 spare[6] */
  SPARE: 56,
} as const;

/** struct fuse_fsync_in (FSYNC, FSYNCDIR) */
export const FsyncInLayout = { SIZE: 16, FH: 0, FSYNC_FLAGS: 8, PADDING: 12 } as const;

/** struct fuse_getxattr_in (GETXATTR: name follows; LISTXATTR; famfs GET_FMAP) */
export const GetxattrInLayout = { SIZE: 8, SIZE_FIELD: 0, PADDING: 4 } as const;

/** struct fuse_access_in */
export const AccessInLayout = { SIZE: 8, MASK: 0, PADDING: 4 } as const;

/** struct fuse_forget_in */
export const ForgetInLayout = { SIZE: 8, NLOOKUP: 0 } as const;

/** struct fuse_forget_one: BATCH_FORGET's array element */
export const ForgetOneLayout = { SIZE: 16, NODEID: 0, NLOOKUP: 8 } as const;

/** struct fuse_batch_forget_in; `count` fuse_forget_one follow */
export const BatchForgetInLayout = { SIZE: 8, COUNT: 0, DUMMY: 4 } as const;

/** struct fuse_interrupt_in */
export const InterruptInLayout = { SIZE: 8, UNIQUE: 0 } as const;

/** struct fuse_syncfs_in */
export const SyncfsInLayout = { SIZE: 8, PADDING: 0 } as const;

/**
 * struct fuse_dirent: a 24-byte header, then `namelen` name bytes (no NUL),
 * the record zero-padded to a multiple of 8.
 */
export const DirentLayout = { SIZE: 24, INO: 0, OFF: 8, NAMELEN: 16, TYPE: 20, NAME: 24 } as const;

/** struct fuse_direntplus: fuse_entry_out then fuse_dirent; name at 152, padded to 8 */
export const DirentplusLayout = { SIZE: 152, ENTRY_OUT: 0, DIRENT: 128, NAME: 152 } as const;

/** struct fuse_notify_inval_inode_out; off < 0 invalidates attributes only, len <= 0 means to the end */
export const NotifyInvalInodeOutLayout = { SIZE: 24, INO: 0, OFF: 8, LEN: 16 } as const;

/** struct fuse_notify_inval_entry_out; the name and a NUL follow (namelen excludes the NUL) */
export const NotifyInvalEntryOutLayout = { SIZE: 16, PARENT: 0, NAMELEN: 8, FLAGS: 12 } as const;

/** struct fuse_setupmapping_in */
export const SetupmappingInLayout = { SIZE: 40, FH: 0, FOFFSET: 8, LEN: 16, FLAGS: 24, MOFFSET: 32 } as const;

/** struct fuse_removemapping_in; `count` entries follow at body offset 4 (only 4-byte aligned) */
export const RemovemappingInLayout = { SIZE: 4, COUNT: 0 } as const;

/** struct fuse_removemapping_one; len of all ones = the whole window */
export const RemovemappingOneLayout = { SIZE: 16, MOFFSET: 0, LEN: 8 } as const;

/** struct fuse_iomap_io: one mapping (fuse-iomap series) */
export const IomapIoLayout = { SIZE: 32, OFFSET: 0, LENGTH: 8, ADDR: 16, TYPE: 24, FLAGS: 26, DEV: 28 } as const;

/** struct fuse_iomap_begin_in; attr_ino is the fuse_attr.ino the server reported */
export const IomapBeginInLayout = { SIZE: 32, OPFLAGS: 0, RESERVED: 4, ATTR_INO: 8, POS: 16, COUNT: 24 } as const;

/** struct fuse_iomap_begin_out: the read mapping, then the write mapping */
export const IomapBeginOutLayout = { SIZE: 64, READ: 0, WRITE: 32 } as const;

/** struct fuse_iomap_end_in; `written` is bytes processed or a negative errno; `map` the mapping acted upon */
export const IomapEndInLayout = { SIZE: 72, OPFLAGS: 0, RESERVED: 4, ATTR_INO: 8, POS: 16, COUNT: 24, WRITTEN: 32, MAP: 40 } as const;

/** struct fuse_famfs_fmap_header: the start of a GET_FMAP reply */
export const FamfsFmapHeaderLayout = {
  SIZE: 32,
  FILE_TYPE: 0,
  RESERVED: 1,
  FMAP_VERSION: 2,
  EXT_TYPE: 4,
  /** SIMPLE: simple extents; INTERLEAVE: interleaved extents */
  NEXTENTS: 8,
  /** reserved0 — the newest famfs tree puts the whole reply's size (fmap_size) here */
  RESERVED0: 12,
  FILE_SIZE: 16,
  RESERVED1: 24,
} as const;

/** struct fuse_famfs_simple_ext (also each strip of an interleaved extent) */
export const FamfsSimpleExtLayout = { SIZE: 24, DEVINDEX: 0, RESERVED: 4, OFFSET: 8, LEN: 16 } as const;

/** struct fuse_famfs_iext; ie_nstrips simple extents follow */
export const FamfsIextLayout = { SIZE: 24, NSTRIPS: 0, CHUNK_SIZE: 4, NBYTES: 8, RESERVED: 16 } as const;

/** struct fuse_get_daxdev_in */
export const GetDaxdevInLayout = { SIZE: 4, DAXDEV_NUM: 0 } as const;

/** struct fuse_daxdev_out */
export const DaxdevOutLayout = {
  SIZE: 280,
  INDEX: 0,
  RESERVED: 2,
  RESERVED2: 4,
  RESERVED3: 8,
  RESERVED4: 16,
  /** char name[256], NUL-terminated */
  NAME: 24,
} as const;

/** Struct sizes in one place (each the SIZE of its layout above). */
export const StructSize = {
  IN_HEADER: InHeaderLayout.SIZE,
  OUT_HEADER: OutHeaderLayout.SIZE,
  INIT_IN: InitInLayout.SIZE,
  INIT_OUT: InitOutLayout.SIZE,
  ATTR: AttrLayout.SIZE,
  ENTRY_OUT: EntryOutLayout.SIZE,
  ATTR_OUT: AttrOutLayout.SIZE,
  OPEN_IN: OpenInLayout.SIZE,
  OPEN_OUT: OpenOutLayout.SIZE,
  READ_IN: ReadInLayout.SIZE,
  WRITE_IN: WriteInLayout.SIZE,
  WRITE_OUT: WriteOutLayout.SIZE,
  KSTATFS: KstatfsLayout.SIZE,
  STATFS_OUT: KstatfsLayout.SIZE,
  GETXATTR_IN: GetxattrInLayout.SIZE,
  SETATTR_IN: SetattrInLayout.SIZE,
  GETATTR_IN: GetattrInLayout.SIZE,
  RELEASE_IN: ReleaseInLayout.SIZE,
  FLUSH_IN: FlushInLayout.SIZE,
  FSYNC_IN: FsyncInLayout.SIZE,
  FORGET_IN: ForgetInLayout.SIZE,
  FORGET_ONE: ForgetOneLayout.SIZE,
  BATCH_FORGET_IN: BatchForgetInLayout.SIZE,
  INTERRUPT_IN: InterruptInLayout.SIZE,
  ACCESS_IN: AccessInLayout.SIZE,
  MKDIR_IN: MkdirInLayout.SIZE,
  MKNOD_IN: MknodInLayout.SIZE,
  CREATE_IN: CreateInLayout.SIZE,
  RENAME_IN: RenameInLayout.SIZE,
  RENAME2_IN: Rename2InLayout.SIZE,
  LINK_IN: LinkInLayout.SIZE,
  DIRENT: DirentLayout.SIZE,
  DIRENTPLUS: DirentplusLayout.SIZE,
  NOTIFY_INVAL_INODE_OUT: NotifyInvalInodeOutLayout.SIZE,
  NOTIFY_INVAL_ENTRY_OUT: NotifyInvalEntryOutLayout.SIZE,
  SYNCFS_IN: SyncfsInLayout.SIZE,
  FMAP_HEADER: FamfsFmapHeaderLayout.SIZE,
  SIMPLE_EXT: FamfsSimpleExtLayout.SIZE,
  IEXT: FamfsIextLayout.SIZE,
  DAXDEV_OUT: DaxdevOutLayout.SIZE,
  GET_DAXDEV_IN: GetDaxdevInLayout.SIZE,
  SETUPMAPPING_IN: SetupmappingInLayout.SIZE,
  REMOVEMAPPING_IN: RemovemappingInLayout.SIZE,
  REMOVEMAPPING_ONE: RemovemappingOneLayout.SIZE,
  IOMAP_IO: IomapIoLayout.SIZE,
  IOMAP_BEGIN_IN: IomapBeginInLayout.SIZE,
  IOMAP_BEGIN_OUT: IomapBeginOutLayout.SIZE,
  IOMAP_END_IN: IomapEndInLayout.SIZE,
} as const;
