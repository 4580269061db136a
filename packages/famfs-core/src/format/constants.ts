/**
 * famfs on-media format constants (OMF 2.2, superblock version 48). Every
 * offset and size here is asserted against the spec in constants.test.ts.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** The superblock region: the struct at offset 0, the rest of the 2 MiB unused. */
export const SUPERBLOCK_SIZE = 2 * MiB;
/** The log starts right after the superblock region. */
export const LOG_OFFSET = SUPERBLOCK_SIZE;
export const DEFAULT_LOG_LEN = 8 * MiB;
export const MIN_LOG_LEN = 8 * MiB;
export const ALLOC_UNIT = 2 * MiB;
/** A reader must also accept 4 KiB allocation units (older/test file systems). */
export const VALID_ALLOC_UNITS: readonly number[] = [4096, ALLOC_UNIT];
export const SB_MAGIC = 0x87b282ffn;
export const SB_VERSION = 48;
export const OMF_MAJOR = 2;
export const OMF_MINOR = 2;
export const LOG_MAGIC = 0x00000badcafef00dn;

export const MAX_SIMPLE_EXTENTS = 16;
export const MAX_INTERLEAVED_EXTENTS = 1;
export const MAX_STRIPS = 16;
export const MAX_BUCKETS = 64;
/** relpath fields are 80 bytes, NUL-terminated: 79 bytes of path at most. */
export const RELPATH_FIELD_LEN = 80;
export const MAX_RELPATH_LEN = RELPATH_FIELD_LEN - 1;
export const DEVNAME_FIELD_LEN = 64;

export const SbFlag = { PRIMARY: 1 << 0, SECONDARY: 1 << 1 } as const;
export const FileFlag = { ALL_HOSTS_RO: 1 << 0, ALL_HOSTS_RW: 1 << 1 } as const;

/** struct famfs_superblock: 200 bytes at device offset 0. */
export const SuperblockLayout = {
  SIZE: 200,
  MAGIC: 0,
  VERSION: 8,
  LOG_OFFSET: 16,
  LOG_LEN: 24,
  ALLOC_UNIT: 32,
  OMF_MAJOR: 40,
  OMF_MINOR: 44,
  UUID: 48,
  DEV_UUID: 64,
  SYSTEM_UUID: 80,
  /** CRC-32 over bytes [0, CRC), stored zero-extended in a u64 */
  CRC: 96,
  FLAGS: 104,
  /** struct famfs_daxdev (88 bytes) */
  DAXDEV: 112,
  DAXDEV_SIZE: 112,
  DAXDEV_UUID: 120,
  DAXDEV_NAME: 136,
} as const;

/** struct famfs_log header: 48 bytes at the log offset, entries follow. */
export const LogHeaderLayout = {
  SIZE: 48,
  MAGIC: 0,
  LEN: 8,
  LAST_INDEX: 16,
  /** CRC-32 over header bytes [0, CRC) */
  CRC: 24,
  NEXT_SEQNUM: 32,
  NEXT_INDEX: 40,
} as const;

/** struct famfs_log_entry: 544 bytes. */
export const LogEntryLayout = {
  SIZE: 544,
  SEQNUM: 0,
  TYPE: 8,
  /** the union body: 520 bytes, zero-filled beyond the member in use */
  BODY: 16,
  BODY_SIZE: 520,
  /** CRC-32 over entry bytes [0, CRC), padding included */
  CRC: 536,
} as const;

export const LogEntryType = { FILE: 0, MKDIR: 1, DELETE: 2, ADD_DAXDEV: 3 } as const;

/** struct famfs_log_file_meta: offsets within the entry body. */
export const FileMetaLayout = {
  SIZE: 520,
  FM_SIZE: 0,
  FM_FLAGS: 8,
  FM_UID: 12,
  FM_GID: 16,
  FM_MODE: 20,
  FM_RELPATH: 24,
  FM_FMAP: 104,
} as const;

/** struct famfs_log_fmap: offsets within fm_fmap. */
export const FmapLayout = {
  SIZE: 416,
  EXT_TYPE: 0,
  /** fmap_nextents (SIMPLE) or fmap_niext (INTERLEAVE) */
  NEXTENTS: 8,
  EXTENTS: 16,
} as const;

export const FmapExtType = { SIMPLE: 0, INTERLEAVE: 1 } as const;

/** struct famfs_simple_extent */
export const SimpleExtLayout = { SIZE: 24, DEVINDEX: 0, OFFSET: 8, LEN: 16 } as const;

/** struct famfs_interleaved_ext: header then MAX_STRIPS simple extents */
export const InterleavedExtLayout = { SIZE: 400, NSTRIPS: 0, CHUNK_SIZE: 8, STRIPS: 16 } as const;

/** struct famfs_log_mkdir: offsets within the entry body. */
export const MkdirLayout = { SIZE: 92, UID: 0, GID: 4, MODE: 8, RELPATH: 12 } as const;

/** struct famfs_log_daxdev (ADD_DAXDEV): offsets within the entry body. */
export const DaxdevLayout = { SIZE: 32, DD_SIZE: 0, DD_UUID: 8, DD_INDEX: 24 } as const;

/** Index of the last usable entry of a log of `logLen` bytes. */
export function logLastIndex(logLen: number): number {
  return Math.floor((logLen - LogHeaderLayout.SIZE) / LogEntryLayout.SIZE) - 1;
}
