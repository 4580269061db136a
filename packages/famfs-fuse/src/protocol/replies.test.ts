/**
 * Reply encoders compared with bytes built BY HAND (DataView, literal
 * offsets from fuse.h), never with another encoder of this package.
 */
import { describe, expect, it } from 'vitest';
import { EncodeError } from './cursor.js';
import {
  encodeAttrOut,
  encodeEntryOut,
  encodeErrorReply,
  encodeNotifyInvalEntry,
  encodeNotifyInvalInode,
  encodeOpenOut,
  encodeOutHeader,
  encodeReply,
  encodeReplyIov,
  encodeStatfsOut,
  encodeWriteOut,
  packDirentplus,
  packDirents,
  type Attr,
  type EntryOut,
} from './replies.js';
import { thrown } from '../../../../test/thrown.js';

function hand(n: number): { b: Uint8Array; v: DataView } {
  const b = new Uint8Array(n);
  return { b, v: new DataView(b.buffer) };
}

function ascii(b: Uint8Array, off: number, s: string): void {
  for (let i = 0; i < s.length; i++) b[off + i] = s.charCodeAt(i);
}

const encodeError = (fn: () => unknown): EncodeError => thrown(fn, EncodeError);

const attr: Attr = {
  ino: 0x10n,
  size: 12345,
  blocks: 24,
  atime: 1700000000,
  mtime: -5,
  ctime: 1700000002,
  atimensec: 1,
  mtimensec: 2,
  ctimensec: 999_999_999,
  mode: 0o100644,
  nlink: 1,
  uid: 1000,
  gid: 1001,
  rdev: 0x0801,
  blksize: 4096,
  flags: 2,
};

/** fuse_attr by hand at `base`. */
function handAttr(v: DataView, base: number): void {
  v.setBigUint64(base + 0, 0x10n, true);
  v.setBigUint64(base + 8, 12345n, true);
  v.setBigUint64(base + 16, 24n, true);
  v.setBigUint64(base + 24, 1700000000n, true);
  v.setBigInt64(base + 32, -5n, true);
  v.setBigUint64(base + 40, 1700000002n, true);
  v.setUint32(base + 48, 1, true);
  v.setUint32(base + 52, 2, true);
  v.setUint32(base + 56, 999_999_999, true);
  v.setUint32(base + 60, 0o100644, true);
  v.setUint32(base + 64, 1, true);
  v.setUint32(base + 68, 1000, true);
  v.setUint32(base + 72, 1001, true);
  v.setUint32(base + 76, 0x0801, true);
  v.setUint32(base + 80, 4096, true);
  v.setUint32(base + 84, 2, true);
}

const entry: EntryOut = {
  nodeid: 7n,
  generation: 3,
  entryValid: 1,
  entryValidNsec: 500,
  attrValid: 2,
  attrValidNsec: 600,
  attr,
};

/** fuse_entry_out by hand at `base`. */
function handEntry(v: DataView, base: number): void {
  v.setBigUint64(base + 0, 7n, true);
  v.setBigUint64(base + 8, 3n, true);
  v.setBigUint64(base + 16, 1n, true);
  v.setBigUint64(base + 24, 2n, true);
  v.setUint32(base + 32, 500, true);
  v.setUint32(base + 36, 600, true);
  handAttr(v, base + 40);
}

describe('fuse_out_header and reply framing', () => {
  it('header: len@0 error@4 unique@8', () => {
    const { b, v } = hand(16);
    v.setUint32(0, 16, true);
    v.setInt32(4, -2, true);
    v.setBigUint64(8, 0x0102030405060708n, true);
    expect(encodeOutHeader({ len: 16, error: -2, unique: 0x0102030405060708n })).toEqual(b);
  });

  it('an error reply is the header alone with -errno', () => {
    const { b, v } = hand(16);
    v.setUint32(0, 16, true);
    v.setInt32(4, -2, true);
    v.setBigUint64(8, 99n, true);
    expect(encodeErrorReply(99n, 2)).toEqual(b);
    expect(encodeError(() => encodeErrorReply(1n, 0)).field).toBe('fuse_out_header.error');
    expect(() => encodeErrorReply(1n, 512)).toThrow(EncodeError);
    expect(() => encodeErrorReply(1n, -2)).toThrow(EncodeError);
  });

  it('encodeReply puts len = 16 + body in front', () => {
    const { b, v } = hand(16 + 8);
    v.setUint32(0, 24, true);
    v.setBigUint64(8, 5n, true);
    v.setUint32(16, 4096, true);
    expect(encodeReply(5n, encodeWriteOut(4096))).toEqual(b);
    // several parts (CREATE = entry_out + open_out)
    expect(encodeReply(5n, new Uint8Array([1, 2]), new Uint8Array([3]))).toEqual(
      Uint8Array.from([19, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]),
    );
  });

  it('encodeReplyIov keeps the parts as they are', () => {
    const data = new Uint8Array(100);
    const iov = encodeReplyIov(6n, data);
    expect(iov[1]).toBe(data);
    expect(new DataView(iov[0]!.buffer).getUint32(0, true)).toBe(116);
    expect(encodeReplyIov(6n).length).toBe(1);
  });
});

describe('attributes', () => {
  it('fuse_entry_out, 128 bytes', () => {
    const { b, v } = hand(128);
    handEntry(v, 0);
    expect(encodeEntryOut(entry)).toEqual(b);
  });

  it('a negative entry has nodeid 0', () => {
    const out = encodeEntryOut({ ...entry, nodeid: 0n });
    expect(new DataView(out.buffer).getBigUint64(0, true)).toBe(0n);
  });

  it('fuse_attr_out, 104 bytes: attr_valid@0 nsec@8 attr@16', () => {
    const { b, v } = hand(104);
    v.setBigUint64(0, 30n, true);
    v.setUint32(8, 7, true);
    handAttr(v, 16);
    expect(encodeAttrOut({ attrValid: 30, attrValidNsec: 7, attr })).toEqual(b);
  });

  it('rejects values that do not fit their field', () => {
    expect(encodeError(() => encodeAttrOut({ attrValid: 1, attrValidNsec: 1e9, attr })).field).toBe('fuse_attr_out.attr_valid_nsec');
    expect(encodeError(() => encodeEntryOut({ ...entry, attr: { ...attr, uid: 2 ** 32 } })).field).toBe('fuse_entry_out.fuse_attr.uid');
    expect(() => encodeEntryOut({ ...entry, attr: { ...attr, size: -1 } })).toThrow(EncodeError);
  });
});

describe('small replies', () => {
  it('fuse_open_out: fh@0 open_flags@8 backing_id@12', () => {
    const { b, v } = hand(16);
    v.setBigUint64(0, 0xdeadbeefcafen, true);
    v.setUint32(8, 0b101, true);
    v.setInt32(12, -1, true);
    expect(encodeOpenOut({ fh: 0xdeadbeefcafen, openFlags: 0b101, backingId: -1 })).toEqual(b);
    expect(encodeOpenOut({ fh: 1, openFlags: 0 }).subarray(12)).toEqual(new Uint8Array(4));
  });

  it('fuse_write_out', () => {
    const w = hand(8);
    w.v.setUint32(0, 131072, true);
    expect(encodeWriteOut(131072)).toEqual(w.b);
  });

  it('fuse_statfs_out, 80 bytes', () => {
    const { b, v } = hand(80);
    v.setBigUint64(0, 1000n, true);
    v.setBigUint64(8, 900n, true);
    v.setBigUint64(16, 800n, true);
    v.setBigUint64(24, 50n, true);
    v.setBigUint64(32, 40n, true);
    v.setUint32(40, 2097152, true);
    v.setUint32(44, 255, true);
    v.setUint32(48, 2097152, true);
    expect(
      encodeStatfsOut({ blocks: 1000, bfree: 900, bavail: 800, files: 50, ffree: 40, bsize: 2097152, namelen: 255, frsize: 2097152 }),
    ).toEqual(b);
  });
});

describe('READDIR packing', () => {
  const a = { ino: 2n, off: 1, type: 8, name: 'a' }; // 24 + 1 → 32
  const long = { ino: 3, off: 2n, type: 4, name: 'bcdefghij' }; // 24 + 9 → 40

  /** the two records by hand */
  function handTwo(): Uint8Array {
    const { b, v } = hand(72);
    v.setBigUint64(0, 2n, true);
    v.setBigUint64(8, 1n, true);
    v.setUint32(16, 1, true);
    v.setUint32(20, 8, true);
    ascii(b, 24, 'a'); // 25..31 zero padding
    v.setBigUint64(32, 3n, true);
    v.setBigUint64(40, 2n, true);
    v.setUint32(48, 9, true);
    v.setUint32(52, 4, true);
    ascii(b, 56, 'bcdefghij'); // 65..71 zero padding
    return b;
  }

  it('exact fit', () => {
    const p = packDirents([a, long], 72);
    expect(p.count).toBe(2);
    expect(p.bytes).toEqual(handTwo());
  });

  it('one byte short drops the last whole record', () => {
    const p = packDirents([a, long], 71);
    expect(p.count).toBe(1);
    expect(p.bytes).toEqual(handTwo().subarray(0, 32));
  });

  it('room for nothing, and nothing to pack', () => {
    expect(packDirents([a], 31)).toEqual({ bytes: new Uint8Array(0), count: 0 });
    expect(packDirents([], 4096)).toEqual({ bytes: new Uint8Array(0), count: 0 });
    expect(packDirents([a], 0).count).toBe(0);
  });

  it('a name of a multiple of 8 minus 24 needs no padding', () => {
    const p = packDirents([{ ino: 1, off: 1, type: 8, name: '12345678' }], 32);
    expect(p.count).toBe(1);
    expect(p.bytes.length).toBe(32);
  });

  it('stops at the first record that does not fit, even if a later one would', () => {
    const p = packDirents([a, long, a], 64 + 8);
    expect(p.count).toBe(2);
    expect(packDirents([long, a], 39).count).toBe(0);
  });

  it('refuses names the kernel would refuse', () => {
    expect(() => packDirents([{ ...a, name: '' }], 4096)).toThrow(EncodeError);
    expect(() => packDirents([{ ...a, name: 'x/y' }], 4096)).toThrow(EncodeError);
    expect(() => packDirents([{ ...a, name: 'x\0y' }], 4096)).toThrow(EncodeError);
    expect(encodeError(() => packDirents([{ ...a, name: 'n'.repeat(256) }], 65536)).errno).toBe('ENAMETOOLONG');
    expect(packDirents([{ ...a, name: 'n'.repeat(255) }], 65536).count).toBe(1);
  });

  it('names are UTF-8 bytes: namelen counts bytes', () => {
    const p = packDirents([{ ...a, name: 'é' }], 4096);
    expect(new DataView(p.bytes.buffer).getUint32(16, true)).toBe(2);
    expect(Array.from(p.bytes.subarray(24, 26))).toEqual([0xc3, 0xa9]);
  });
});

describe('READDIRPLUS packing', () => {
  const x = { ino: 7n, off: 1, type: 8, name: 'x', entry }; // 152 + 1 → 160

  function handOne(): Uint8Array {
    const { b, v } = hand(160);
    handEntry(v, 0);
    v.setBigUint64(128, 7n, true);
    v.setBigUint64(136, 1n, true);
    v.setUint32(144, 1, true);
    v.setUint32(148, 8, true);
    ascii(b, 152, 'x');
    return b;
  }

  it('one record: entry_out@0, dirent@128, name@152, padded to 160', () => {
    expect(packDirentplus([x], 160)).toEqual({ bytes: handOne(), count: 1 });
  });

  it('exact fit and one byte short', () => {
    const two = packDirentplus([x, { ...x, off: 2 }], 320);
    expect(two.count).toBe(2);
    expect(two.bytes.subarray(0, 160)).toEqual(handOne());
    expect(new DataView(two.bytes.buffer).getBigUint64(160 + 136, true)).toBe(2n);
    const one = packDirentplus([x, { ...x, off: 2 }], 319);
    expect(one.count).toBe(1);
    expect(one.bytes).toEqual(handOne());
    expect(packDirentplus([x], 159).count).toBe(0);
  });
});

describe('notifications', () => {
  it('INVAL_INODE: unique 0, error = 2, ino@16 off@24 len@32', () => {
    const { b, v } = hand(40);
    v.setUint32(0, 40, true);
    v.setInt32(4, 2, true);
    v.setBigUint64(16, 99n, true);
    v.setBigInt64(24, -1n, true);
    v.setBigInt64(32, 0n, true);
    expect(encodeNotifyInvalInode({ ino: 99n, off: -1, len: 0 })).toEqual(b);
  });

  it('INVAL_ENTRY: unique 0, error = 3, parent@16 namelen@24 flags@28, name and NUL@32', () => {
    const { b, v } = hand(16 + 16 + 4);
    v.setUint32(0, 36, true);
    v.setInt32(4, 3, true);
    v.setBigUint64(16, 1n, true);
    v.setUint32(24, 3, true);
    v.setUint32(28, 1, true);
    ascii(b, 32, 'abc');
    expect(encodeNotifyInvalEntry({ parent: 1n, name: 'abc', flags: 1 })).toEqual(b);
    expect(() => encodeNotifyInvalEntry({ parent: 1n, name: 'a/b' })).toThrow(EncodeError);
  });
});
