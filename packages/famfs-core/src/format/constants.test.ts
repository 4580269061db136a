/**
 * Every struct size and field offset of docs/on-media-format.md,
 * typed here as literal numbers from the spec's tables (never computed from
 * the constants under test), like libfuse's test_abi.c.
 */
import { describe, expect, it } from 'vitest';
import {
  ALLOC_UNIT, DEFAULT_LOG_LEN, DEVNAME_FIELD_LEN, DaxdevLayout, FileFlag, FileMetaLayout,
  FmapExtType, FmapLayout, InterleavedExtLayout, LOG_MAGIC, LOG_OFFSET, LogEntryLayout, LogEntryType, LogHeaderLayout,
  MAX_BUCKETS, MAX_INTERLEAVED_EXTENTS, MAX_RELPATH_LEN, MAX_SIMPLE_EXTENTS, MAX_STRIPS, MIN_LOG_LEN, MkdirLayout,
  OMF_MAJOR, OMF_MINOR, RELPATH_FIELD_LEN, SB_MAGIC, SB_VERSION, SUPERBLOCK_SIZE, SbFlag, SimpleExtLayout,
  SuperblockLayout, VALID_ALLOC_UNITS, logLastIndex,
} from './constants.js';

describe('device layout and constants (spec: Device layout, Constants)', () => {
  it('regions', () => {
    expect(SUPERBLOCK_SIZE).toBe(2097152);
    expect(LOG_OFFSET).toBe(2097152);
    expect(DEFAULT_LOG_LEN).toBe(8388608);
    expect(MIN_LOG_LEN).toBe(8388608);
    expect(ALLOC_UNIT).toBe(0x200000);
    expect([...VALID_ALLOC_UNITS].sort((a, b) => a - b)).toEqual([4096, 2097152]);
  });

  it('magic numbers and versions', () => {
    expect(SB_MAGIC).toBe(0x87b282ffn);
    expect(SB_VERSION).toBe(48);
    expect(OMF_MAJOR).toBe(2);
    expect(OMF_MINOR).toBe(2);
    expect(LOG_MAGIC).toBe(0x00000badcafef00dn);
  });

  it('limits and field widths', () => {
    expect(MAX_SIMPLE_EXTENTS).toBe(16);
    expect(MAX_INTERLEAVED_EXTENTS).toBe(1);
    expect(MAX_STRIPS).toBe(16);
    expect(MAX_BUCKETS).toBe(64);
    expect(RELPATH_FIELD_LEN).toBe(80);
    expect(MAX_RELPATH_LEN).toBe(79);
    expect(DEVNAME_FIELD_LEN).toBe(64);
  });

  it('flags and type codes', () => {
    expect(SbFlag).toEqual({ PRIMARY: 1, SECONDARY: 2 });
    expect(FileFlag).toEqual({ ALL_HOSTS_RO: 1, ALL_HOSTS_RW: 2 });
    expect(LogEntryType).toEqual({ FILE: 0, MKDIR: 1, DELETE: 2, ADD_DAXDEV: 3 });
    expect(FmapExtType).toEqual({ SIMPLE: 0, INTERLEAVE: 1 });
  });
});

describe('struct layouts (spec tables)', () => {
  it('struct superblock: 200 bytes', () => {
    expect(SuperblockLayout).toEqual({
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
      CRC: 96,
      FLAGS: 104,
      DAXDEV: 112,
      DAXDEV_SIZE: 112,
      DAXDEV_UUID: 120,
      DAXDEV_NAME: 136,
    });
    // the last field (64-byte device name at 136) ends the struct
    expect(SuperblockLayout.DAXDEV_NAME + DEVNAME_FIELD_LEN).toBe(200);
  });

  it('struct log header: 48 bytes', () => {
    expect(LogHeaderLayout).toEqual({ SIZE: 48, MAGIC: 0, LEN: 8, LAST_INDEX: 16, CRC: 24, NEXT_SEQNUM: 32, NEXT_INDEX: 40 });
  });

  it('struct log entry: 544 bytes', () => {
    expect(LogEntryLayout).toEqual({ SIZE: 544, SEQNUM: 0, TYPE: 8, BODY: 16, BODY_SIZE: 520, CRC: 536 });
  });

  it('FILE body (file_meta): 520 bytes', () => {
    expect(FileMetaLayout).toEqual({
      SIZE: 520, FM_SIZE: 0, FM_FLAGS: 8, FM_UID: 12, FM_GID: 16, FM_MODE: 20, FM_RELPATH: 24, FM_FMAP: 104,
    });
  });

  it('fmap: 416 bytes', () => {
    expect(FmapLayout).toEqual({ SIZE: 416, EXT_TYPE: 0, NEXTENTS: 8, EXTENTS: 16 });
  });

  it('simple extent: 24 bytes; interleaved extent: 400 bytes', () => {
    expect(SimpleExtLayout).toEqual({ SIZE: 24, DEVINDEX: 0, OFFSET: 8, LEN: 16 });
    expect(InterleavedExtLayout).toEqual({ SIZE: 400, NSTRIPS: 0, CHUNK_SIZE: 8, STRIPS: 16 });
  });

  it('MKDIR body: 92 bytes; ADD_DAXDEV body: 32 bytes', () => {
    expect(MkdirLayout).toEqual({ SIZE: 92, UID: 0, GID: 4, MODE: 8, RELPATH: 12 });
    expect(DaxdevLayout).toEqual({ SIZE: 32, DD_SIZE: 0, DD_UUID: 8, DD_INDEX: 24 });
  });

  it('the structs nest without overflowing their containers', () => {
    // 16 simple extents after the 16-byte fmap header fill 400 of 416 bytes
    expect(FmapLayout.EXTENTS + MAX_SIMPLE_EXTENTS * SimpleExtLayout.SIZE).toBe(400);
    expect(FmapLayout.EXTENTS + InterleavedExtLayout.SIZE).toBe(416);
    expect(InterleavedExtLayout.STRIPS + MAX_STRIPS * SimpleExtLayout.SIZE).toBe(400);
    expect(FileMetaLayout.FM_FMAP + FmapLayout.SIZE).toBe(520);
    expect(MkdirLayout.RELPATH + RELPATH_FIELD_LEN).toBe(92);
    expect(LogEntryLayout.BODY + LogEntryLayout.BODY_SIZE).toBe(536);
  });
});

describe('logLastIndex', () => {
  it('an 8 MiB log holds 15,420 entries: last index 15419', () => {
    expect(logLastIndex(8388608)).toBe(15419);
  });

  it('other sizes: (len - 48) / 544 - 1, rounded down', () => {
    expect(logLastIndex(16777216)).toBe(30839); // 30840 slots
    expect(logLastIndex(268435456)).toBe(493446);
    expect(logLastIndex(48 + 544)).toBe(0);
    expect(logLastIndex(48 + 2 * 544 - 1)).toBe(0);
  });
});
