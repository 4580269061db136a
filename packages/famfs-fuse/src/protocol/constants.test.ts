/**
 * Every struct size and field offset, typed here as literal numbers from
 * include/uapi/linux/fuse.h (7.45) and the famfs series' fuse_kernel.h —
 * never computed from the constants under test (cf. libfuse's test_abi.c).
 */
import { describe, expect, it } from 'vitest';
import {
  AccessInLayout,
  AttrLayout,
  AttrOutLayout,
  BatchForgetInLayout,
  CreateInLayout,
  DaxdevOutLayout,
  DirentLayout,
  DirentplusLayout,
  EntryOutLayout,
  FamfsFmapHeaderLayout,
  FamfsIextLayout,
  FamfsProfiles,
  FamfsSimpleExtLayout,
  FlushInLayout,
  FopenFlag,
  ForgetInLayout,
  ForgetOneLayout,
  FsyncInLayout,
  GetattrFlag,
  GetattrInLayout,
  GetDaxdevInLayout,
  GetxattrInLayout,
  InHeaderLayout,
  InitFlag,
  InitInLayout,
  InitOutLayout,
  InterruptInLayout,
  IOMAP_BEGIN_REPLY_FLAGS,
  IOMAP_DEV_NULL,
  IOMAP_NULL_ADDR,
  IOMAP_WRITE_OPS,
  IomapBeginInLayout,
  IomapBeginOutLayout,
  IomapEndInLayout,
  IomapIoLayout,
  IomapMapFlag,
  IomapOp,
  IomapProfiles,
  IomapType,
  KNOWN_INIT_FLAGS,
  KstatfsLayout,
  LinkInLayout,
  MkdirInLayout,
  MknodInLayout,
  NotifyCode,
  NotifyInvalEntryOutLayout,
  NotifyInvalInodeOutLayout,
  Opcode,
  OpenInLayout,
  OpenOutLayout,
  OutHeaderLayout,
  ReadInLayout,
  ReleaseInLayout,
  RemovemappingInLayout,
  RemovemappingOneLayout,
  Rename2InLayout,
  RenameInLayout,
  SetattrInLayout,
  SetattrValid,
  SetupmappingInLayout,
  StructSize,
  SyncfsInLayout,
  WriteInLayout,
  WriteOutLayout,
  joinInitFlags,
  opcodeName,
  requestBufferSize,
  splitInitFlags,
} from './constants.js';

describe('struct layouts (fuse.h 7.45)', () => {
  it('headers', () => {
    expect(InHeaderLayout).toEqual({ SIZE: 40, LEN: 0, OPCODE: 4, UNIQUE: 8, NODEID: 16, UID: 24, GID: 28, PID: 32, TOTAL_EXTLEN: 36, PADDING: 38 });
    expect(OutHeaderLayout).toEqual({ SIZE: 16, LEN: 0, ERROR: 4, UNIQUE: 8 });
  });

  it('init', () => {
    expect(InitInLayout).toEqual({ SIZE: 64, COMPAT_SIZE: 16, MAJOR: 0, MINOR: 4, MAX_READAHEAD: 8, FLAGS: 12, FLAGS2: 16, UNUSED: 20 });
    expect(InitOutLayout).toEqual({
      SIZE: 64, MAJOR: 0, MINOR: 4, MAX_READAHEAD: 8, FLAGS: 12, MAX_BACKGROUND: 16, CONGESTION_THRESHOLD: 18,
      MAX_WRITE: 20, TIME_GRAN: 24, MAX_PAGES: 28, MAP_ALIGNMENT: 30, FLAGS2: 32, MAX_STACK_DEPTH: 36,
      REQUEST_TIMEOUT: 40, UNUSED: 42,
    });
  });

  it('attributes and entries', () => {
    expect(AttrLayout).toEqual({
      SIZE: 88, INO: 0, SIZE_FIELD: 8, BLOCKS: 16, ATIME: 24, MTIME: 32, CTIME: 40, ATIMENSEC: 48, MTIMENSEC: 52,
      CTIMENSEC: 56, MODE: 60, NLINK: 64, UID: 68, GID: 72, RDEV: 76, BLKSIZE: 80, FLAGS: 84,
    });
    expect(EntryOutLayout).toEqual({ SIZE: 128, NODEID: 0, GENERATION: 8, ENTRY_VALID: 16, ATTR_VALID: 24, ENTRY_VALID_NSEC: 32, ATTR_VALID_NSEC: 36, ATTR: 40 });
    expect(AttrOutLayout).toEqual({ SIZE: 104, ATTR_VALID: 0, ATTR_VALID_NSEC: 8, DUMMY: 12, ATTR: 16 });
    expect(GetattrInLayout).toEqual({ SIZE: 16, GETATTR_FLAGS: 0, DUMMY: 4, FH: 8 });
    expect(SetattrInLayout).toEqual({
      SIZE: 88, VALID: 0, PADDING: 4, FH: 8, SIZE_FIELD: 16, LOCK_OWNER: 24, ATIME: 32, MTIME: 40, CTIME: 48,
      ATIMENSEC: 56, MTIMENSEC: 60, CTIMENSEC: 64, MODE: 68, UNUSED4: 72, UID: 76, GID: 80, UNUSED5: 84,
    });
  });

  it('files', () => {
    expect(OpenInLayout).toEqual({ SIZE: 8, FLAGS: 0, OPEN_FLAGS: 4 });
    expect(OpenOutLayout).toEqual({ SIZE: 16, FH: 0, OPEN_FLAGS: 8, BACKING_ID: 12 });
    expect(CreateInLayout).toEqual({ SIZE: 16, FLAGS: 0, MODE: 4, UMASK: 8, OPEN_FLAGS: 12 });
    expect(ReadInLayout).toEqual({ SIZE: 40, FH: 0, OFFSET: 8, SIZE_FIELD: 16, READ_FLAGS: 20, LOCK_OWNER: 24, FLAGS: 32, PADDING: 36 });
    expect(WriteInLayout).toEqual({ SIZE: 40, FH: 0, OFFSET: 8, SIZE_FIELD: 16, WRITE_FLAGS: 20, LOCK_OWNER: 24, FLAGS: 32, PADDING: 36 });
    expect(WriteOutLayout).toEqual({ SIZE: 8, SIZE_FIELD: 0, PADDING: 4 });
    expect(ReleaseInLayout).toEqual({ SIZE: 24, FH: 0, FLAGS: 8, RELEASE_FLAGS: 12, LOCK_OWNER: 16 });
    expect(FlushInLayout).toEqual({ SIZE: 24, FH: 0, UNUSED: 8, PADDING: 12, LOCK_OWNER: 16 });
    expect(FsyncInLayout).toEqual({ SIZE: 16, FH: 0, FSYNC_FLAGS: 8, PADDING: 12 });
  });

  it('namespace operations', () => {
    expect(MknodInLayout).toEqual({ SIZE: 16, MODE: 0, RDEV: 4, UMASK: 8, PADDING: 12 });
    expect(MkdirInLayout).toEqual({ SIZE: 8, MODE: 0, UMASK: 4 });
    expect(RenameInLayout).toEqual({ SIZE: 8, NEWDIR: 0 });
    expect(Rename2InLayout).toEqual({ SIZE: 16, NEWDIR: 0, FLAGS: 8, PADDING: 12 });
    expect(LinkInLayout).toEqual({ SIZE: 8, OLDNODEID: 0 });
    expect(AccessInLayout).toEqual({ SIZE: 8, MASK: 0, PADDING: 4 });
    expect(ForgetInLayout).toEqual({ SIZE: 8, NLOOKUP: 0 });
    expect(ForgetOneLayout).toEqual({ SIZE: 16, NODEID: 0, NLOOKUP: 8 });
    expect(BatchForgetInLayout).toEqual({ SIZE: 8, COUNT: 0, DUMMY: 4 });
    expect(InterruptInLayout).toEqual({ SIZE: 8, UNIQUE: 0 });
    expect(SyncfsInLayout).toEqual({ SIZE: 8, PADDING: 0 });
  });

  it('xattr, statfs, dirents, notifications, extensions', () => {
    expect(GetxattrInLayout).toEqual({ SIZE: 8, SIZE_FIELD: 0, PADDING: 4 });
    expect(KstatfsLayout).toEqual({
      SIZE: 80, BLOCKS: 0, BFREE: 8, BAVAIL: 16, FILES: 24, FFREE: 32, BSIZE: 40, NAMELEN: 44, FRSIZE: 48, PADDING: 52, SPARE: 56,
    });
    expect(DirentLayout).toEqual({ SIZE: 24, INO: 0, OFF: 8, NAMELEN: 16, TYPE: 20, NAME: 24 });
    expect(DirentplusLayout).toEqual({ SIZE: 152, ENTRY_OUT: 0, DIRENT: 128, NAME: 152 });
    expect(NotifyInvalInodeOutLayout).toEqual({ SIZE: 24, INO: 0, OFF: 8, LEN: 16 });
    expect(NotifyInvalEntryOutLayout).toEqual({ SIZE: 16, PARENT: 0, NAMELEN: 8, FLAGS: 12 });
  });

  it('DAX window', () => {
    expect(SetupmappingInLayout).toEqual({ SIZE: 40, FH: 0, FOFFSET: 8, LEN: 16, FLAGS: 24, MOFFSET: 32 });
    expect(RemovemappingInLayout).toEqual({ SIZE: 4, COUNT: 0 });
    expect(RemovemappingOneLayout).toEqual({ SIZE: 16, MOFFSET: 0, LEN: 8 });
  });

  it('famfs', () => {
    expect(FamfsFmapHeaderLayout).toEqual({
      SIZE: 32, FILE_TYPE: 0, RESERVED: 1, FMAP_VERSION: 2, EXT_TYPE: 4, NEXTENTS: 8, RESERVED0: 12, FILE_SIZE: 16, RESERVED1: 24,
    });
    expect(FamfsSimpleExtLayout).toEqual({ SIZE: 24, DEVINDEX: 0, RESERVED: 4, OFFSET: 8, LEN: 16 });
    expect(FamfsIextLayout).toEqual({ SIZE: 24, NSTRIPS: 0, CHUNK_SIZE: 4, NBYTES: 8, RESERVED: 16 });
    expect(GetDaxdevInLayout).toEqual({ SIZE: 4, DAXDEV_NUM: 0 });
    expect(DaxdevOutLayout).toEqual({ SIZE: 280, INDEX: 0, RESERVED: 2, RESERVED2: 4, RESERVED3: 8, RESERVED4: 16, NAME: 24 });
  });

  it('fuse-iomap (seed 002: fuse_iomap_io, begin_in, begin_out, end_in)', () => {
    expect(IomapIoLayout).toEqual({ SIZE: 32, OFFSET: 0, LENGTH: 8, ADDR: 16, TYPE: 24, FLAGS: 26, DEV: 28 });
    expect(IomapBeginInLayout).toEqual({ SIZE: 32, OPFLAGS: 0, RESERVED: 4, ATTR_INO: 8, POS: 16, COUNT: 24 });
    expect(IomapBeginOutLayout).toEqual({ SIZE: 64, READ: 0, WRITE: 32 });
    expect(IomapEndInLayout).toEqual({ SIZE: 72, OPFLAGS: 0, RESERVED: 4, ATTR_INO: 8, POS: 16, COUNT: 24, WRITTEN: 32, MAP: 40 });
  });

  it('StructSize summary', () => {
    expect(StructSize).toEqual({
      IN_HEADER: 40, OUT_HEADER: 16, INIT_IN: 64, INIT_OUT: 64, ATTR: 88, ENTRY_OUT: 128, ATTR_OUT: 104, OPEN_IN: 8,
      OPEN_OUT: 16, READ_IN: 40, WRITE_IN: 40, WRITE_OUT: 8, KSTATFS: 80, STATFS_OUT: 80, GETXATTR_IN: 8,
      SETATTR_IN: 88, GETATTR_IN: 16, RELEASE_IN: 24, FLUSH_IN: 24, FSYNC_IN: 16, FORGET_IN: 8, FORGET_ONE: 16,
      BATCH_FORGET_IN: 8, INTERRUPT_IN: 8, ACCESS_IN: 8, MKDIR_IN: 8, MKNOD_IN: 16, CREATE_IN: 16, RENAME_IN: 8,
      RENAME2_IN: 16, LINK_IN: 8, DIRENT: 24, DIRENTPLUS: 152, NOTIFY_INVAL_INODE_OUT: 24, NOTIFY_INVAL_ENTRY_OUT: 16,
      SYNCFS_IN: 8, FMAP_HEADER: 32, SIMPLE_EXT: 24, IEXT: 24,
      DAXDEV_OUT: 280, GET_DAXDEV_IN: 4, SETUPMAPPING_IN: 40, REMOVEMAPPING_IN: 4, REMOVEMAPPING_ONE: 16,
      IOMAP_IO: 32, IOMAP_BEGIN_IN: 32, IOMAP_BEGIN_OUT: 64, IOMAP_END_IN: 72,
    });
  });
});

describe('opcodes', () => {
  it('upstream numbers through 7.45', () => {
    expect(Opcode).toEqual({
      LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8, MKDIR: 9, UNLINK: 10, RMDIR: 11,
      RENAME: 12, LINK: 13, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17, RELEASE: 18, FSYNC: 20, SETXATTR: 21,
      GETXATTR: 22, LISTXATTR: 23, REMOVEXATTR: 24, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29,
      FSYNCDIR: 30, GETLK: 31, SETLK: 32, SETLKW: 33, ACCESS: 34, CREATE: 35, INTERRUPT: 36, BMAP: 37, DESTROY: 38,
      IOCTL: 39, POLL: 40, NOTIFY_REPLY: 41, BATCH_FORGET: 42, FALLOCATE: 43, READDIRPLUS: 44, RENAME2: 45,
      LSEEK: 46, COPY_FILE_RANGE: 47, SETUPMAPPING: 48, REMOVEMAPPING: 49, SYNCFS: 50, TMPFILE: 51, STATX: 52,
      COPY_FILE_RANGE_64: 53, CUSE_INIT: 4096,
    });
  });

  it('names for logs depend on the famfs profile', () => {
    expect(opcodeName(26)).toBe('INIT');
    expect(opcodeName(54)).toBe('OPCODE_54');
    expect(opcodeName(54, FamfsProfiles['kernel-v10'])).toBe('GET_FMAP');
    expect(opcodeName(55, FamfsProfiles['kernel-v10'])).toBe('GET_DAXDEV');
    expect(opcodeName(53)).toBe('COPY_FILE_RANGE_64');
    expect(opcodeName(53, FamfsProfiles['libfuse-famfs'])).toBe('GET_FMAP');
    expect(opcodeName(54, FamfsProfiles['libfuse-famfs'])).toBe('GET_DAXDEV');
  });

  it('names for logs depend on the fuse-iomap profile', () => {
    expect(opcodeName(4094)).toBe('OPCODE_4094');
    expect(opcodeName(4094, null, IomapProfiles['iomap-2025'])).toBe('IOMAP_BEGIN');
    expect(opcodeName(4095, null, IomapProfiles['iomap-2025'])).toBe('IOMAP_END');
  });

  it('fuse-iomap profiles, types, flags and opflags (seed 002)', () => {
    expect(IomapProfiles['iomap-2025']).toEqual({
      name: 'iomap-2025', beginOpcode: 4094, endOpcode: 4095, iomapFlag: 8796093022208n, minKernelMinor: 99, maxKernelMinor: 99, attrIomapFlag: 4,
    });
    expect(IomapType).toEqual({ HOLE: 0, DELALLOC: 1, MAPPED: 2, UNWRITTEN: 3, INLINE: 4, PURE_OVERWRITE: 255 });
    expect(IomapMapFlag).toEqual({
      NEW: 1, DIRTY: 2, SHARED: 4, MERGED: 8, BOUNDARY: 16, ANON_WRITE: 32, ATOMIC_BIO: 64, WANT_IOMAP_END: 128, SIZE_CHANGED: 256, STALE: 512,
    });
    expect(IomapOp).toEqual({
      WRITE: 1, ZERO: 2, REPORT: 4, FAULT: 8, DIRECT: 16, NOWAIT: 32, OVERWRITE_ONLY: 64, UNSHARE: 128, DAX: 256, ATOMIC: 512,
      DONTCACHE: 1024, WRITEBACK: 0x8000_0000,
    });
    expect(IOMAP_WRITE_OPS).toBe(0x8000_0083);
    expect(IOMAP_BEGIN_REPLY_FLAGS).toBe(0xff);
    expect(IOMAP_NULL_ADDR).toBe(0xffff_ffff_ffff_ffffn);
    expect(IOMAP_DEV_NULL).toBe(0);
  });

  it('famfs profiles', () => {
    expect(FamfsProfiles['kernel-v10']).toEqual({
      name: 'kernel-v10', getFmapOpcode: 54, getDaxdevOpcode: 55, daxFmapFlag: 8796093022208n, minKernelMinor: 45, maxKernelMinor: 46, fmapDaxdevs: 1,
    });
    expect(FamfsProfiles['libfuse-famfs']).toEqual({
      name: 'libfuse-famfs', getFmapOpcode: 53, getDaxdevOpcode: 54, daxFmapFlag: 4398046511104n, minKernelMinor: 42, maxKernelMinor: 42, fmapDaxdevs: 1,
    });
  });
});

describe('flag bits', () => {
  it('INIT flags (as 64-bit values)', () => {
    expect(InitFlag.ASYNC_READ).toBe(0x1n);
    expect(InitFlag.POSIX_LOCKS).toBe(0x2n);
    expect(InitFlag.ATOMIC_O_TRUNC).toBe(0x8n);
    expect(InitFlag.EXPORT_SUPPORT).toBe(0x10n);
    expect(InitFlag.BIG_WRITES).toBe(0x20n);
    expect(InitFlag.DONT_MASK).toBe(0x40n);
    expect(InitFlag.AUTO_INVAL_DATA).toBe(0x1000n);
    expect(InitFlag.DO_READDIRPLUS).toBe(0x2000n);
    expect(InitFlag.READDIRPLUS_AUTO).toBe(0x4000n);
    expect(InitFlag.ASYNC_DIO).toBe(0x8000n);
    expect(InitFlag.WRITEBACK_CACHE).toBe(0x10000n);
    expect(InitFlag.PARALLEL_DIROPS).toBe(0x40000n);
    expect(InitFlag.MAX_PAGES).toBe(0x400000n);
    expect(InitFlag.CACHE_SYMLINKS).toBe(0x800000n);
    expect(InitFlag.MAP_ALIGNMENT).toBe(0x4000000n);
    expect(InitFlag.INIT_EXT).toBe(0x40000000n);
    expect(InitFlag.SECURITY_CTX).toBe(0x1_0000_0000n);
    expect(InitFlag.DIRECT_IO_ALLOW_MMAP).toBe(0x10_0000_0000n);
    expect(InitFlag.PASSTHROUGH).toBe(0x20_0000_0000n);
    expect(InitFlag.OVER_IO_URING).toBe(0x200_0000_0000n);
    expect(InitFlag.REQUEST_TIMEOUT).toBe(0x400_0000_0000n);
    // bits 0..42, every one named
    expect(KNOWN_INIT_FLAGS).toBe(0x7ff_ffff_ffffn);
  });

  it('splits and joins flags/flags2', () => {
    expect(splitInitFlags(0x800_4000_0001n)).toEqual({ flags: 0x4000_0001, flags2: 0x800 });
    expect(joinInitFlags(0xc000_0000, 0xffff_ffff)).toBe(0xffff_ffff_c000_0000n);
  });

  it('per-operation flags', () => {
    expect(FopenFlag).toEqual({
      DIRECT_IO: 1, KEEP_CACHE: 2, NONSEEKABLE: 4, CACHE_DIR: 8, STREAM: 16, NOFLUSH: 32, PARALLEL_DIRECT_WRITES: 64, PASSTHROUGH: 128,
    });
    expect(NotifyCode).toEqual({ POLL: 1, INVAL_INODE: 2, INVAL_ENTRY: 3, STORE: 4, RETRIEVE: 5, DELETE: 6, RESEND: 7, INC_EPOCH: 8, PRUNE: 9 });
    expect(SetattrValid).toEqual({
      MODE: 1, UID: 2, GID: 4, SIZE: 8, ATIME: 16, MTIME: 32, FH: 64, ATIME_NOW: 128, MTIME_NOW: 256, LOCKOWNER: 512,
      CTIME: 1024, KILL_SUIDGID: 2048,
    });
    expect(GetattrFlag).toEqual({ FH: 1 });
  });

  it('read buffer size', () => {
    expect(requestBufferSize(4096)).toBe(8192);
    expect(requestBufferSize(1048576)).toBe(1048656);
  });
});
