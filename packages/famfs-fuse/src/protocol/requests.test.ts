/**
 * Request decoders against requests built BY HAND: a DataView and literal
 * offsets from fuse.h (header fields at 0..39, the body from 40). Opcodes are
 * literal numbers too. Nothing here uses an encoder from this package.
 */
import { describe, expect, it } from 'vitest';
import { FamfsProfiles, IomapProfiles } from './constants.js';
import { ProtocolError } from './cursor.js';
import { decodeInHeader, decodePlainRead, decodeRequest, type FuseRequest, type KnownRequest } from './requests.js';
import { thrown } from '../../../../test/thrown.js';
import { seeded } from '../../../../test/random.js';

const UNIQUE = 0x1122334455667788n;

/** A request of `len` bytes with its header filled in (len, opcode, unique, nodeid, uid 1000, gid 1001, pid 4242). */
function msg(len: number, opcode: number, nodeid = 0n): { b: Uint8Array; v: DataView } {
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, len, true);
  v.setUint32(4, opcode, true);
  v.setBigUint64(8, UNIQUE, true);
  v.setBigUint64(16, nodeid, true);
  v.setUint32(24, 1000, true);
  v.setUint32(28, 1001, true);
  v.setUint32(32, 4242, true);
  return { b, v };
}

/** Write ASCII `s` and a NUL at `off`; returns the offset after the NUL. */
function put(b: Uint8Array, off: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[off + i] = s.charCodeAt(i);
  b[off + s.length] = 0;
  return off + s.length + 1;
}

function ok(b: Uint8Array, opts?: Parameters<typeof decodeRequest>[1]): KnownRequest {
  const r: FuseRequest = decodeRequest(b, opts);
  if (r.op === 'OTHER') throw new Error(`decoded as OTHER (${r.name})`);
  return r;
}

const protocolError = (fn: () => unknown): ProtocolError => thrown(fn, ProtocolError);

const kv10 = { famfs: FamfsProfiles['kernel-v10'] };
const lff = { famfs: FamfsProfiles['libfuse-famfs'] };

describe('fuse_in_header', () => {
  it('decodes every field at its offset', () => {
    const { b, v } = msg(48, 3, 0xaabbccdd00112233n);
    v.setUint16(36, 0, true);
    expect(decodeInHeader(b)).toEqual({
      len: 48, opcode: 3, unique: UNIQUE, nodeid: 0xaabbccdd00112233n, uid: 1000, gid: 1001, pid: 4242, totalExtlen: 0,
    });
  });

  it('rejects a buffer shorter than the header', () => {
    const e = protocolError(() => decodeInHeader(new Uint8Array(39)));
    expect(e.field).toBe('fuse_in_header');
    expect(e.offset).toBe(0);
  });

  it('rejects len < 40', () => {
    const { b, v } = msg(40, 38);
    v.setUint32(0, 39, true);
    expect(protocolError(() => decodeInHeader(b)).field).toBe('fuse_in_header.len');
  });

  it('rejects len that is not the number of bytes read (both directions)', () => {
    const { b, v } = msg(44, 1);
    put(b, 40, 'abc');
    v.setUint32(0, 48, true);
    const e = protocolError(() => decodeRequest(b));
    expect(e.field).toBe('fuse_in_header.len');
    expect(e.offset).toBe(0);
    expect(e.opcode).toBe(1);
    v.setUint32(0, 43, true);
    expect(protocolError(() => decodeRequest(b)).field).toBe('fuse_in_header.len');
  });

  it('rejects extensions that do not fit', () => {
    const { b, v } = msg(56, 1);
    v.setUint16(36, 3, true); // 24 bytes of extensions, only 16 after the header
    const e = protocolError(() => decodeRequest(b));
    expect(e.field).toBe('fuse_in_header.total_extlen');
    expect(e.offset).toBe(36);
  });

  it('strips extensions before decoding the body', () => {
    // MKDIR with a supplementary-groups extension: mkdir_in, "d\0", pad? no — ext follows the args directly
    const { b, v } = msg(40 + 8 + 2 + 16, 9, 1n);
    v.setUint32(40, 0o755, true);
    v.setUint32(44, 0o022, true);
    put(b, 48, 'd');
    v.setUint16(36, 2, true);
    v.setUint32(50, 16, true); // fuse_ext_header.size
    v.setUint32(54, 32, true); // type GROUPS
    v.setUint32(58, 1, true); // nr_groups
    v.setUint32(62, 27, true); // gid
    const r = ok(b);
    expect(r.op).toBe('MKDIR');
    expect(r.arg).toEqual({ mode: 0o755, umask: 0o022, name: 'd' });
    expect(r.extensions.length).toBe(16);
    // handed on raw (nothing here uses supplementary groups or security contexts)
    expect(new DataView(r.extensions.buffer, r.extensions.byteOffset).getUint32(12, true)).toBe(27);
  });

  it('opcodes without a decoder come back as OTHER', () => {
    const { b } = msg(40 + 32, 31); // GETLK
    const r = decodeRequest(b);
    expect(r.op).toBe('OTHER');
    if (r.op === 'OTHER') {
      expect(r.name).toBe('GETLK');
      expect(r.body.length).toBe(32);
    }
    const u = decodeRequest(msg(40, 999).b);
    expect(u.op === 'OTHER' && u.name).toBe('OPCODE_999');
  });
});

describe('INIT (26)', () => {
  it('64-byte body: flags2 joins flags when INIT_EXT is set', () => {
    const { b, v } = msg(104, 26);
    v.setUint32(40, 7, true);
    v.setUint32(44, 45, true);
    v.setUint32(48, 131072, true);
    v.setUint32(52, 0x4040_0001, true); // INIT_EXT | MAX_PAGES | ASYNC_READ
    v.setUint32(56, 0x0000_0820, true); // bit 37 PASSTHROUGH, bit 43
    expect(ok(b).arg).toEqual({ major: 7, minor: 45, maxReadahead: 131072, flags: 0x820_4040_0001n });
  });

  it('flags2 is ignored without INIT_EXT', () => {
    const { b, v } = msg(104, 26);
    v.setUint32(40, 7, true);
    v.setUint32(44, 45, true);
    v.setUint32(52, 0x1, true);
    v.setUint32(56, 0xffff_ffff, true);
    expect(ok(b).arg).toEqual({ major: 7, minor: 45, maxReadahead: 0, flags: 1n });
  });

  it('16-byte body (kernels before 7.36)', () => {
    const { b, v } = msg(56, 26);
    v.setUint32(40, 7, true);
    v.setUint32(44, 31, true);
    v.setUint32(48, 4096, true);
    v.setUint32(52, 0x4000_0000, true); // INIT_EXT without the room for flags2: still no flags2
    expect(ok(b).arg).toEqual({ major: 7, minor: 31, maxReadahead: 4096, flags: 0x4000_0000n });
  });

  it('other body sizes are refused', () => {
    for (const n of [0, 8, 15, 20, 63, 65]) {
      expect(() => decodeRequest(msg(40 + n, 26).b)).toThrow(ProtocolError);
    }
  });
});

describe('names', () => {
  it('LOOKUP, UNLINK, RMDIR, REMOVEXATTR', () => {
    for (const [op, name] of [[1, 'LOOKUP'], [10, 'UNLINK'], [11, 'RMDIR'], [24, 'REMOVEXATTR']] as const) {
      const { b } = msg(46, op, 5n);
      put(b, 40, 'hello');
      const r = ok(b);
      expect(r.op).toBe(name);
      expect(r.header.nodeid).toBe(5n);
      expect(r.arg).toEqual({ name: 'hello' });
    }
  });

  it('a name without its NUL', () => {
    const { b } = msg(45, 1);
    b.set([0x68, 0x65, 0x6c, 0x6c, 0x6f], 40);
    const e = protocolError(() => decodeRequest(b));
    expect(e.field).toBe('name');
    expect(e.offset).toBe(40);
    expect(e.opcode).toBe(1);
  });

  it('empty names, names with "/", bytes after the NUL, invalid UTF-8', () => {
    const empty = msg(41, 1);
    expect(() => decodeRequest(empty.b)).toThrow(ProtocolError);
    const slash = msg(44, 1);
    put(slash.b, 40, 'a/b');
    expect(() => decodeRequest(slash.b)).toThrow(ProtocolError);
    const trailing = msg(44, 10);
    put(trailing.b, 40, 'ab'); // "ab\0" then one stray byte
    expect(() => decodeRequest(trailing.b)).toThrow(ProtocolError);
    const bad = msg(43, 1);
    bad.b.set([0xff, 0xfe, 0x00], 40);
    expect(protocolError(() => decodeRequest(bad.b)).detail).toContain('UTF-8');
  });

  it('SYMLINK (6): entry name first, then the target', () => {
    const { b } = msg(40 + 5 + 10, 6, 1n);
    put(b, put(b, 40, 'link'), '../a/file');
    expect(ok(b).arg).toEqual({ name: 'link', target: '../a/file' });
    const { b: b2 } = msg(40 + 5 + 3, 6);
    put(b2, 40, 'link');
    b2.set([0x61, 0x62, 0x63], 45); // target without NUL
    expect(protocolError(() => decodeRequest(b2)).field).toBe('target');
  });

  it('MKNOD (8): mode@40 rdev@44 umask@48, name@56', () => {
    const { b, v } = msg(60, 8);
    v.setUint32(40, 0o10644, true);
    v.setUint32(44, 0x0801, true);
    v.setUint32(48, 0o022, true);
    v.setUint32(52, 0xdead, true); // padding is ignored
    put(b, 56, 'fif');
    expect(ok(b).arg).toEqual({ mode: 0o10644, rdev: 0x0801, umask: 0o022, name: 'fif' });
  });

  it('MKDIR (9): mode@40 umask@44, name@48', () => {
    const { b, v } = msg(52, 9);
    v.setUint32(40, 0o40755, true);
    v.setUint32(44, 0o002, true);
    put(b, 48, 'dir');
    expect(ok(b).arg).toEqual({ mode: 0o40755, umask: 0o002, name: 'dir' });
  });

  it('MKDIR truncated inside mkdir_in', () => {
    const { b } = msg(46, 9);
    const e = protocolError(() => decodeRequest(b));
    expect(e.field).toBe('fuse_mkdir_in');
    expect(e.offset).toBe(40);
  });

  it('RENAME (12): newdir@40, two names@48', () => {
    const { b, v } = msg(40 + 8 + 4 + 4, 12, 2n);
    v.setBigUint64(40, 77n, true);
    put(b, put(b, 48, 'old'), 'new');
    expect(ok(b).arg).toEqual({ newdir: 77n, flags: 0, oldname: 'old', newname: 'new' });
  });

  it('RENAME2 (45): newdir@40 flags@48, two names@56', () => {
    const { b, v } = msg(40 + 16 + 2 + 2, 45);
    v.setBigUint64(40, 3n, true);
    v.setUint32(48, 1, true); // RENAME_NOREPLACE
    put(b, put(b, 56, 'a'), 'b');
    expect(ok(b).arg).toEqual({ newdir: 3n, flags: 1, oldname: 'a', newname: 'b' });
  });

  it('RENAME with the second name missing its NUL', () => {
    const { b, v } = msg(40 + 8 + 4 + 3, 12);
    v.setBigUint64(40, 1n, true);
    put(b, 48, 'old');
    b.set([0x6e, 0x65, 0x77], 52);
    const e = protocolError(() => decodeRequest(b));
    expect(e.field).toBe('newname');
    expect(e.offset).toBe(52);
  });

  it('LINK (13): oldnodeid@40, name@48', () => {
    const { b, v } = msg(40 + 8 + 5, 13);
    v.setBigUint64(40, 0xfedcba9876543210n, true);
    put(b, 48, 'hard');
    expect(ok(b).arg).toEqual({ oldnodeid: 0xfedcba9876543210n, newname: 'hard' });
  });

  it('CREATE (35): flags@40 mode@44 umask@48 open_flags@52, name@56', () => {
    const { b, v } = msg(40 + 16 + 2, 35);
    v.setUint32(40, 0o100101, true);
    v.setUint32(44, 0o100644, true);
    v.setUint32(48, 0o022, true);
    v.setUint32(52, 1, true);
    put(b, 56, 'f');
    expect(ok(b).arg).toEqual({ flags: 0o100101, mode: 0o100644, umask: 0o022, openFlags: 1, name: 'f' });
  });
});

describe('fixed bodies', () => {
  it('FORGET (2): nlookup@40', () => {
    const { b, v } = msg(48, 2, 9n);
    v.setBigUint64(40, 3n, true);
    expect(ok(b).arg).toEqual({ nlookup: 3 });
  });

  it('BATCH_FORGET (42): count@40, entries@48 of 16 bytes', () => {
    const { b, v } = msg(40 + 8 + 32, 42);
    v.setUint32(40, 2, true);
    v.setBigUint64(48, 10n, true);
    v.setBigUint64(56, 1n, true);
    v.setBigUint64(64, 11n, true);
    v.setBigUint64(72, 5n, true);
    expect(ok(b).arg).toEqual({ forgets: [{ nodeid: 10n, nlookup: 1 }, { nodeid: 11n, nlookup: 5 }] });
  });

  it('BATCH_FORGET whose count runs past the end', () => {
    const { b, v } = msg(40 + 8 + 32, 42);
    v.setUint32(40, 3, true);
    const e = protocolError(() => decodeRequest(b));
    expect(e.field).toBe('fuse_batch_forget_in.count');
    expect(e.offset).toBe(40);
    v.setUint32(40, 0xffff_ffff, true);
    expect(() => decodeRequest(b)).toThrow(ProtocolError);
  });

  it('GETATTR (3): getattr_flags@40, fh@48', () => {
    const { b, v } = msg(56, 3);
    v.setUint32(40, 1, true);
    v.setBigUint64(48, 0x8000_0000_0000_0001n, true);
    expect(ok(b).arg).toEqual({ getattrFlags: 1, fh: 0x8000_0000_0000_0001n });
  });

  it('SETATTR (4): every field at its offset', () => {
    const { b, v } = msg(40 + 88, 4);
    v.setUint32(40, 0x0fff, true);
    v.setBigUint64(48, 12n, true);
    v.setBigUint64(56, 1048576n, true);
    v.setBigUint64(64, 0xabcdefn, true);
    v.setBigInt64(72, -1n, true); // atime before the epoch
    v.setBigInt64(80, 1700000000n, true);
    v.setBigInt64(88, 1700000001n, true);
    v.setUint32(96, 1, true);
    v.setUint32(100, 2, true);
    v.setUint32(104, 999_999_999, true);
    v.setUint32(108, 0o100600, true);
    v.setUint32(116, 1000, true);
    v.setUint32(120, 100, true);
    expect(ok(b).arg).toEqual({
      valid: 0x0fff, fh: 12n, size: 1048576, lockOwner: 0xabcdefn, atime: -1, mtime: 1700000000, ctime: 1700000001,
      atimensec: 1, mtimensec: 2, ctimensec: 999_999_999, mode: 0o100600, uid: 1000, gid: 100,
    });
  });

  it('empty bodies: STATFS (17), DESTROY (38)', () => {
    for (const [op, name] of [[17, 'STATFS'], [38, 'DESTROY']] as const) {
      const r = ok(msg(40, op).b);
      expect(r.op).toBe(name);
      expect(r.arg).toEqual({});
      expect(() => decodeRequest(msg(41, op).b)).toThrow(ProtocolError);
    }
  });

  it('OPEN (14), OPENDIR (27): flags@40 open_flags@44', () => {
    for (const op of [14, 27]) {
      const { b, v } = msg(48, op);
      v.setUint32(40, 0o2, true);
      v.setUint32(44, 1, true);
      expect(ok(b).arg).toEqual({ flags: 2, openFlags: 1 });
    }
  });

  it('READ (15), READDIR (28), READDIRPLUS (44): fh@40 offset@48 size@56 read_flags@60 lock_owner@64 flags@72', () => {
    for (const [op, name] of [[15, 'READ'], [28, 'READDIR'], [44, 'READDIRPLUS']] as const) {
      const { b, v } = msg(80, op);
      v.setBigUint64(40, 4n, true);
      v.setBigUint64(48, 8192n, true);
      v.setUint32(56, 4096, true);
      v.setUint32(60, 2, true);
      v.setBigUint64(64, 0x55n, true);
      v.setUint32(72, 0o100000, true);
      v.setUint32(76, 0xffff_ffff, true); // padding is ignored
      const r = ok(b);
      expect(r.op).toBe(name);
      expect(r.arg).toEqual({ fh: 4n, offset: 8192, size: 4096, readFlags: 2, lockOwner: 0x55n, flags: 0o100000 });
    }
  });

  it('READ with an offset past 2^53', () => {
    const { b, v } = msg(80, 15);
    v.setBigUint64(48, 1n << 60n, true);
    const e = protocolError(() => decodeRequest(b));
    expect(e.field).toBe('fuse_read_in.offset');
    expect(e.offset).toBe(48);
  });

  it('RELEASE (18), RELEASEDIR (29): fh@40 flags@48 release_flags@52 lock_owner@56', () => {
    for (const op of [18, 29]) {
      const { b, v } = msg(64, op);
      v.setBigUint64(40, 6n, true);
      v.setUint32(48, 0o2, true);
      v.setUint32(52, 1, true);
      v.setBigUint64(56, 0x99n, true);
      expect(ok(b).arg).toEqual({ fh: 6n, flags: 2, releaseFlags: 1, lockOwner: 0x99n });
    }
  });

  it('FLUSH (25): fh@40, lock_owner@56', () => {
    const { b, v } = msg(64, 25);
    v.setBigUint64(40, 6n, true);
    v.setUint32(48, 0x1234, true); // unused
    v.setBigUint64(56, 0x77n, true);
    expect(ok(b).arg).toEqual({ fh: 6n, lockOwner: 0x77n });
  });

  it('FSYNC (20), FSYNCDIR (30): fh@40 fsync_flags@48', () => {
    for (const op of [20, 30]) {
      const { b, v } = msg(56, op);
      v.setBigUint64(40, 2n, true);
      v.setUint32(48, 1, true);
      expect(ok(b).arg).toEqual({ fh: 2n, fsyncFlags: 1 });
    }
  });

  it('GETXATTR (22): size@40, name@48', () => {
    const { b, v } = msg(40 + 8 + 9, 22);
    v.setUint32(40, 256, true);
    put(b, 48, 'user.abc');
    expect(ok(b).arg).toEqual({ size: 256, name: 'user.abc' });
  });

  it('GETXATTR with a name missing its NUL', () => {
    const { b, v } = msg(40 + 8 + 8, 22);
    v.setUint32(40, 0, true);
    b.set(Array.from('user.abc', (c) => c.charCodeAt(0)), 48);
    const e = protocolError(() => decodeRequest(b));
    expect(e.field).toBe('name');
    expect(e.offset).toBe(48);
    expect(e.opcode).toBe(22);
  });

  it('LISTXATTR (23): size@40', () => {
    const { b, v } = msg(48, 23);
    v.setUint32(40, 4096, true);
    expect(ok(b).arg).toEqual({ size: 4096 });
  });

  it('ACCESS (34): mask@40', () => {
    const { b, v } = msg(48, 34);
    v.setUint32(40, 4, true);
    expect(ok(b).arg).toEqual({ mask: 4 });
  });

  it('INTERRUPT (36): unique@40', () => {
    const { b, v } = msg(48, 36);
    v.setBigUint64(40, 0x8000_0000_0000_0002n, true);
    expect(ok(b).arg).toEqual({ unique: 0x8000_0000_0000_0002n });
  });

  it('SYNCFS (50): 8 bytes of padding', () => {
    expect(ok(msg(48, 50).b).arg).toEqual({});
    expect(() => decodeRequest(msg(40, 50).b)).toThrow(ProtocolError);
  });
});

describe('WRITE (16)', () => {
  function write(size: number, dataBytes: number) {
    const m = msg(80 + dataBytes, 16);
    m.v.setBigUint64(40, 9n, true);
    m.v.setBigUint64(48, 4096n, true);
    m.v.setUint32(56, size, true);
    m.v.setUint32(60, 1, true);
    m.v.setBigUint64(64, 0x42n, true);
    m.v.setUint32(72, 2, true);
    for (let i = 0; i < dataBytes; i++) m.b[80 + i] = i + 1;
    return m;
  }

  it('header fields at their offsets, data from body offset 40, not copied', () => {
    const { b } = write(5, 5);
    const r = ok(b);
    if (r.op !== 'WRITE') throw new Error(r.op);
    const { data, ...rest } = r.arg;
    expect(rest).toEqual({ fh: 9n, offset: 4096, size: 5, writeFlags: 1, lockOwner: 0x42n, flags: 2 });
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5]);
    expect(data.buffer).toBe(b.buffer);
    expect(data.byteOffset).toBe(80);
  });

  it('size larger than the data that follows', () => {
    const e = protocolError(() => decodeRequest(write(6, 5).b));
    expect(e.field).toBe('fuse_write_in.size');
    expect(e.offset).toBe(56);
    expect(e.opcode).toBe(16);
  });

  it('size smaller than the data that follows', () => {
    expect(() => decodeRequest(write(4, 5).b)).toThrow(ProtocolError);
  });

  it('zero-length write', () => {
    const r = ok(write(0, 0).b);
    expect(r.op === 'WRITE' && r.arg.data.length).toBe(0);
  });
});

describe('DAX window', () => {
  it('SETUPMAPPING (48): fh@40 foffset@48 len@56 flags@64 moffset@72', () => {
    const { b, v } = msg(80, 48);
    v.setBigUint64(40, 3n, true);
    v.setBigUint64(48, 0x200000n, true);
    v.setBigUint64(56, 0x400000n, true);
    v.setBigUint64(64, 3n, true);
    v.setBigUint64(72, 0x600000n, true);
    expect(ok(b).arg).toEqual({ fh: 3n, foffset: 0x200000, len: 0x400000, flags: 3, moffset: 0x600000 });
  });

  it('REMOVEMAPPING (49): count@40, entries@44 (4-byte aligned); all-ones len = whole window', () => {
    const { b, v } = msg(40 + 4 + 32, 49);
    v.setUint32(40, 2, true);
    v.setBigUint64(44, 0x200000n, true);
    v.setBigUint64(52, 0x200000n, true);
    v.setBigUint64(60, 0n, true);
    v.setBigUint64(68, 0xffff_ffff_ffff_ffffn, true);
    expect(ok(b).arg).toEqual({
      mappings: [{ moffset: 0x200000, len: 0x200000 }, { moffset: 0, len: Number.POSITIVE_INFINITY }],
    });
  });

  it('REMOVEMAPPING whose count runs past the end', () => {
    const { b, v } = msg(40 + 4 + 32, 49);
    v.setUint32(40, 3, true);
    const e = protocolError(() => decodeRequest(b));
    expect(e.field).toBe('fuse_removemapping_in.count');
    expect(e.offset).toBe(40);
    v.setUint32(40, 0x1000_0000, true);
    expect(() => decodeRequest(b)).toThrow(ProtocolError);
    v.setUint32(40, 1, true); // fewer than there are
    expect(() => decodeRequest(b)).toThrow(ProtocolError);
  });

  it('REMOVEMAPPING with a len past 2^53 that is not all ones', () => {
    const { b, v } = msg(40 + 4 + 16, 49);
    v.setUint32(40, 1, true);
    v.setBigUint64(52, 0xffff_ffff_ffff_fffen, true);
    const e = protocolError(() => decodeRequest(b));
    expect(e.field).toBe('fuse_removemapping_one[0].len');
    expect(e.offset).toBe(52);
  });
});

describe('fuse-iomap', () => {
  const iomap = { iomap: IomapProfiles['iomap-2025'] };

  it('IOMAP_BEGIN and IOMAP_END are OTHER until the profile is negotiated', () => {
    expect(decodeRequest(msg(72, 4094).b).op).toBe('OTHER');
    expect(decodeRequest(msg(112, 4095).b).op).toBe('OTHER');
  });

  it('IOMAP_BEGIN (4094): opflags@40 reserved@44 attr_ino@48 pos@56 count@64; a count near 2^63 stays exact', () => {
    const { b, v } = msg(72, 4094, 17n);
    v.setUint32(40, 0x8000_0005, true);
    v.setBigUint64(48, 17n, true);
    v.setBigUint64(56, 0x20_0000n, true);
    v.setBigUint64(64, 0x7fff_ffff_ffff_ffffn, true);
    expect(ok(b, iomap)).toMatchObject({
      op: 'IOMAP_BEGIN',
      arg: { opflags: 0x8000_0005, attrIno: 17n, pos: 0x20_0000n, count: 0x7fff_ffff_ffff_ffffn },
    });
  });

  it('IOMAP_BEGIN: a non-zero reserved word, a short body, a long body', () => {
    const { b, v } = msg(72, 4094, 17n);
    v.setUint32(44, 1, true);
    const e = protocolError(() => decodeRequest(b, iomap));
    expect(e.field).toBe('fuse_iomap_begin_in.reserved');
    expect(e.offset).toBe(44);
    expect(() => decodeRequest(msg(71, 4094).b, iomap)).toThrow(ProtocolError);
    expect(() => decodeRequest(msg(73, 4094).b, iomap)).toThrow(ProtocolError);
  });

  it('IOMAP_END (4095): the head, written@72 (signed), map@80 {offset, length, addr, type@104, flags@106, dev@108}', () => {
    const { b, v } = msg(112, 4095, 18n);
    v.setUint32(40, 1, true);
    v.setBigUint64(48, 18n, true);
    v.setBigUint64(56, 4096n, true);
    v.setBigUint64(64, 8192n, true);
    v.setBigInt64(72, -5n, true);
    v.setBigUint64(80, 0n, true);
    v.setBigUint64(88, 0x40_0000n, true);
    v.setBigUint64(96, 0x1_2340_0000n, true);
    v.setUint16(104, 2, true);
    v.setUint16(106, 0x80, true);
    v.setUint32(108, 7, true);
    expect(ok(b, iomap).arg).toEqual({
      opflags: 1, attrIno: 18n, pos: 4096n, count: 8192n, written: -5n,
      map: { offset: 0n, length: 0x40_0000n, addr: 0x1_2340_0000n, type: 2, flags: 0x80, dev: 7 },
    });
    const e = protocolError(() => decodeRequest(msg(111, 4095).b, iomap));
    expect(e.field).toBe('fuse_iomap_end_in');
  });
});

describe('famfs', () => {
  it('GET_FMAP and GET_DAXDEV are OTHER until a profile is negotiated', () => {
    expect(decodeRequest(msg(48, 54).b).op).toBe('OTHER');
    expect(decodeRequest(msg(44, 55).b).op).toBe('OTHER');
  });

  it('GET_FMAP (54 under kernel-v10): fuse_getxattr_in size@40', () => {
    const { b, v } = msg(48, 54, 12n);
    v.setUint32(40, 32768, true);
    const r = ok(b, kv10);
    expect(r.op).toBe('GET_FMAP');
    expect(r.header.nodeid).toBe(12n);
    expect(r.arg).toEqual({ size: 32768, sizeFromBody: true });
  });

  it('GET_FMAP without a body (V2–V4 kernels): one page', () => {
    expect(ok(msg(40, 54, 12n).b, kv10).arg).toEqual({ size: 4096, sizeFromBody: false });
  });

  it('GET_FMAP with a short or long body', () => {
    expect(() => decodeRequest(msg(44, 54).b, kv10)).toThrow(ProtocolError);
    expect(() => decodeRequest(msg(52, 54).b, kv10)).toThrow(ProtocolError);
  });

  it('GET_DAXDEV (55 under kernel-v10): daxdev_num@40, or the header nodeid when there is no body', () => {
    const { b, v } = msg(44, 55);
    v.setUint32(40, 3, true);
    expect(ok(b, kv10).arg).toEqual({ daxdevNum: 3, from: 'body' });
    expect(ok(msg(40, 55, 2n).b, kv10).arg).toEqual({ daxdevNum: 2, from: 'nodeid' });
    expect(() => decodeRequest(msg(40, 55, 1n << 32n).b, kv10)).toThrow(ProtocolError);
    expect(() => decodeRequest(msg(42, 55).b, kv10)).toThrow(ProtocolError);
  });

  it('libfuse-famfs numbers: 53 GET_FMAP, 54 GET_DAXDEV', () => {
    const { b, v } = msg(48, 53);
    v.setUint32(40, 4096, true);
    expect(ok(b, lff).op).toBe('GET_FMAP');
    expect(ok(msg(40, 54, 1n).b, lff).op).toBe('GET_DAXDEV');
    // and 53 is COPY_FILE_RANGE_64 (undecoded) without that profile
    expect(decodeRequest(b).op).toBe('OTHER');
  });
});

describe('truncation at every byte', () => {
  // One valid instance of each decoder, and the body lengths at which a
  // prefix is itself valid (INIT's 16-byte form, bodiless famfs requests).
  const cases: Array<{ name: string; b: Uint8Array; validLens: number[]; opts?: Parameters<typeof decodeRequest>[1] }> = [];
  const add = (name: string, m: { b: Uint8Array }, validLens: number[] = [], opts?: Parameters<typeof decodeRequest>[1]) =>
    cases.push({ name, b: m.b, validLens, ...(opts ? { opts } : {}) });
  {
    const m = msg(104, 26);
    m.v.setUint32(40, 7, true);
    m.v.setUint32(44, 45, true);
    m.v.setUint32(52, 0x4000_0000, true);
    add('INIT', m, [56]);
  }
  {
    const m = msg(46, 1);
    put(m.b, 40, 'hello');
    add('LOOKUP', m);
  }
  {
    const m = msg(40 + 8 + 32, 42);
    m.v.setUint32(40, 2, true);
    add('BATCH_FORGET', m);
  }
  add('SETATTR', msg(128, 4));
  {
    const m = msg(40 + 8 + 8, 12);
    put(m.b, put(m.b, 48, 'old'), 'new');
    add('RENAME', m);
  }
  {
    const m = msg(40 + 5 + 10, 6);
    put(m.b, put(m.b, 40, 'link'), '../a/file');
    add('SYMLINK', m);
  }
  {
    const m = msg(40 + 16 + 4, 35);
    put(m.b, 56, 'new');
    add('CREATE', m);
  }
  {
    const m = msg(80 + 7, 16);
    m.v.setUint32(56, 7, true);
    add('WRITE', m);
  }
  {
    const m = msg(40 + 8 + 9, 22);
    put(m.b, 48, 'user.abc');
    add('GETXATTR', m);
  }
  {
    const m = msg(40 + 4 + 32, 49);
    m.v.setUint32(40, 2, true);
    add('REMOVEMAPPING', m);
  }
  add('READ', msg(80, 15));
  {
    const m = msg(48, 54);
    m.v.setUint32(40, 4096, true);
    add('GET_FMAP', m, [40], kv10);
  }

  it.each(cases)('$name: every shorter prefix fails with a ProtocolError', ({ b, validLens, opts }) => {
    expect(() => decodeRequest(b, opts)).not.toThrow();
    for (let k = 0; k < b.length; k++) {
      const prefix = b.slice(0, k);
      // as read: the header still claims the full length
      expect(() => decodeRequest(prefix, opts)).toThrow(ProtocolError);
      // with a header that agrees with the prefix: the body itself is short
      if (k >= 40) {
        new DataView(prefix.buffer).setUint32(0, k, true);
        if (validLens.includes(k)) expect(() => decodeRequest(prefix, opts)).not.toThrow();
        else expect(() => decodeRequest(prefix, opts)).toThrow(ProtocolError);
      }
    }
  });
});

describe('the READ hot path (decodePlainRead)', () => {
  it('agrees with decodeRequest on every plain READ, seeded: fh, offset, size, unique, nodeid', () => {
    const R = seeded('plain READ');
    for (let i = 0; i < 2000; i++) {
      const { b, v } = msg(80, 15, BigInt(R.next()) << BigInt(R.int(32)));
      v.setBigUint64(8, (BigInt(R.next()) << 32n) | BigInt(R.next()), true);
      v.setBigUint64(40, (BigInt(R.next()) << 32n) | BigInt(R.next()), true);
      v.setBigUint64(48, BigInt(R.int(2 ** 21)) * 2n ** 32n + BigInt(R.next()), true); // up to 2^53 - 1
      v.setUint32(56, R.next(), true);
      v.setUint32(60, R.next(), true);
      const full = ok(b);
      if (full.op !== 'READ') throw new Error('not a READ');
      expect(decodePlainRead(b), `#${i}`).toEqual({
        unique: full.header.unique, nodeid: full.header.nodeid, fh: full.arg.fh, offset: full.arg.offset, size: full.arg.size,
      });
    }
  });

  it('declines what is not a plain READ, which decodeRequest then judges', () => {
    const read = () => msg(80, 15);
    const cases: Array<[string, Uint8Array]> = [];
    cases.push(['another opcode', msg(80, 28).b]);
    cases.push(['a longer message', msg(88, 15).b]);
    const lenLies = read();
    lenLies.v.setUint32(0, 81, true);
    cases.push(['len that is not the bytes read', lenLies.b]);
    const ext = read();
    ext.v.setUint16(36, 1, true);
    cases.push(['extensions', ext.b]);
    const far = read();
    far.v.setBigUint64(48, 2n ** 53n, true);
    cases.push(['an offset of 2^53', far.b]);
    for (const [what, b] of cases) {
      expect(decodePlainRead(b), what).toBeUndefined();
      if (what !== 'another opcode' && what !== 'a longer message') expect(() => decodeRequest(b), what).toThrow(ProtocolError);
    }
  });
});
