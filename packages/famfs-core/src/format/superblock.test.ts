/**
 * The superblock codec against the upstream fixture (a device the C tools
 * formatted) and against superblocks corrupted one field at a time.
 */
import * as zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from './codec.js';
import { checkSuperblock, decodeSuperblock, encodeSuperblock, superblockCrc, type SuperblockFields } from './superblock.js';
import { fixtureDevsize, fixtureHead, fixtureText } from '../../../../test/fixture.js';

// read in beforeAll: a missing fixture fails these tests with one line, not the import
let head: Uint8Array = new Uint8Array(0);
let fsckV = '';
let devsize = 0;
beforeAll(() => {
  head = fixtureHead();
  fsckV = fixtureText('fsck-v.out');
  devsize = fixtureDevsize();
});

/** A value from upstream's `famfs fsck -v` report: the text after `label`. */
function reported(label: string): string {
  const line = fsckV.split('\n').find((l) => l.startsWith(`  ${label}`));
  if (line === undefined) throw new Error(`fsck-v.out has no line '${label}'`);
  return line.slice(label.length + 2).trim();
}

/** A copy of the fixture's 200-byte superblock with `patch` applied (and the CRC redone if asked). */
function patched(patch: (v: DataView, b: Uint8Array) => void, recrc = false): Uint8Array {
  const b = head.slice(0, 200);
  const v = new DataView(b.buffer);
  patch(v, b);
  if (recrc) v.setBigUint64(96, BigInt(zlib.crc32(b.subarray(0, 96)) >>> 0), true);
  return b;
}

const sample: SuperblockFields = {
  logOffset: 2 * 1024 * 1024,
  logLen: 16 * 1024 * 1024,
  allocUnit: 2 * 1024 * 1024,
  uuid: '01234567-89ab-cdef-0123-456789abcdef',
  devUuid: 'fedcba98-7654-3210-fedc-ba9876543210',
  systemUuid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  flags: 3,
  daxdev: { size: 64 * 1024 * 1024 * 1024, uuid: '11111111-2222-3333-4444-555555555555', path: '/dev/dax0.0' },
};

describe('decodeSuperblock on the upstream fixture', () => {
  let sb: ReturnType<typeof decodeSuperblock>;
  beforeAll(() => {
    sb = decodeSuperblock(head);
  });

  it('matches what upstream fsck -v printed', () => {
    expect(sb.uuid).toBe(reported('Filesystem UUID:'));
    expect(sb.devUuid).toBe(reported('Device UUID:'));
    expect(sb.systemUuid).toBe(reported('System UUID:'));
    expect(`0x${sb.allocUnit.toString(16)}`).toBe(reported('alloc_unit:'));
    expect(String(sb.omfMajor)).toBe(reported('OMF major version:'));
    expect(String(sb.omfMinor)).toBe(reported('OMF minor version:'));
    expect(String(sb.logLen)).toBe(reported('log size (bytes):'));
    expect(`${sb.daxdev.path}   ${sb.daxdev.size}`).toBe(reported('primary:'));
    expect(String(sb.logOffset)).toBe(reported('log_offset:'));
  });

  it('has the literal values of an upstream mkfs with defaults', () => {
    expect(sb).toEqual({
      magic: 0x87b282ffn,
      version: 48,
      logOffset: 0x200000,
      logLen: 0x800000,
      allocUnit: 0x200000,
      omfMajor: 2,
      omfMinor: 2,
      uuid: '38936ce5-a1a2-4959-8318-4877746a937e',
      devUuid: '0381f82f-9bba-4996-9d71-fe53d972868f',
      systemUuid: '6b6515ee-fdad-4435-a362-b44c974c2d16',
      crc: BigInt(zlib.crc32(head.subarray(0, 96)) >>> 0),
      flags: 0,
      daxdev: { size: devsize, uuid: '00000000-0000-0000-0000-000000000000', path: '/dev/loop0' },
    });
  });

  it('stores UUIDs as raw bytes in text order (no GUID byte swapping)', () => {
    expect(Buffer.from(head.subarray(48, 64)).toString('hex')).toBe('38936ce5a1a2495983184877746a937e');
  });

  it('is valid', () => {
    const st = checkSuperblock(head, devsize);
    expect(st.ok).toBe(true);
  });

  it('re-encoding reproduces the fixture bytes exactly', () => {
    const enc = encodeSuperblock(sb);
    expect(enc.length).toBe(200);
    expect(Buffer.from(enc).equals(Buffer.from(head.subarray(0, 200)))).toBe(true);
  });
});

describe('encodeSuperblock', () => {
  it('round-trips through decodeSuperblock', () => {
    const enc = encodeSuperblock(sample);
    const dec = decodeSuperblock(enc);
    expect(dec).toEqual({ ...sample, magic: 0x87b282ffn, version: 48, omfMajor: 2, omfMinor: 2, crc: BigInt(zlib.crc32(enc.subarray(0, 96)) >>> 0) });
    expect(checkSuperblock(enc).ok).toBe(true);
  });

  it('puts each field at its spec offset (checked by hand with a DataView)', () => {
    const b = encodeSuperblock(sample);
    const v = new DataView(b.buffer, b.byteOffset);
    expect(v.getBigUint64(0, true)).toBe(0x87b282ffn);
    expect(v.getBigUint64(8, true)).toBe(48n);
    expect(v.getBigUint64(16, true)).toBe(0x200000n);
    expect(v.getBigUint64(24, true)).toBe(0x1000000n);
    expect(v.getBigUint64(32, true)).toBe(0x200000n);
    expect(v.getUint32(40, true)).toBe(2);
    expect(v.getUint32(44, true)).toBe(2);
    expect(Buffer.from(b.subarray(48, 64)).toString('hex')).toBe('0123456789abcdef0123456789abcdef');
    expect(Buffer.from(b.subarray(64, 80)).toString('hex')).toBe('fedcba9876543210fedcba9876543210');
    expect(Buffer.from(b.subarray(80, 96)).toString('hex')).toBe('aaaaaaaabbbbccccddddeeeeeeeeeeee');
    expect(v.getBigUint64(96, true)).toBe(BigInt(zlib.crc32(b.subarray(0, 96)) >>> 0));
    expect(v.getUint32(104, true)).toBe(3);
    expect(v.getUint32(108, true)).toBe(0);
    expect(v.getBigUint64(112, true)).toBe(64n << 30n);
    expect(Buffer.from(b.subarray(120, 136)).toString('hex')).toBe('11111111222233334444555555555555');
    expect(Buffer.from(b.subarray(136, 147)).toString()).toBe('/dev/dax0.0');
    expect(b.subarray(147, 200).every((x) => x === 0)).toBe(true);
  });

  it('superblockCrc is zlib crc32 over [0, 96)', () => {
    const b = encodeSuperblock(sample);
    expect(superblockCrc(b)).toBe(zlib.crc32(b.subarray(0, 96)) >>> 0);
  });

  it('accepts a 63-byte device path and refuses a 64-byte one (the field keeps a NUL)', () => {
    const p63 = `/${'d'.repeat(62)}`;
    expect(decodeSuperblock(encodeSuperblock({ ...sample, daxdev: { ...sample.daxdev, path: p63 } })).daxdev.path).toBe(p63);
    expect(() => encodeSuperblock({ ...sample, daxdev: { ...sample.daxdev, path: `${p63}x` } })).toThrow(FormatError);
  });

  it('refuses a malformed UUID', () => {
    expect(() => encodeSuperblock({ ...sample, uuid: 'not-a-uuid' })).toThrow();
  });
});

describe('decodeSuperblock input checks', () => {
  it('needs 200 bytes', () => {
    expect(() => decodeSuperblock(head.subarray(0, 199))).toThrow(FormatError);
    expect(() => decodeSuperblock(head.subarray(0, 200))).not.toThrow();
  });

  it('decodes u64 fields past 2^53 as NaN instead of throwing (so they can be reported)', () => {
    const b = patched((v) => v.setBigUint64(24, 0xffff_ffff_ffff_ffffn, true));
    expect(decodeSuperblock(b).logLen).toBeNaN();
  });
});

describe('checkSuperblock faults, in upstream order', () => {
  it('bad magic: no-magic (not a famfs device)', () => {
    const st = checkSuperblock(patched((v) => v.setBigUint64(0, 0x87b282fen, true)));
    expect(st).toMatchObject({ ok: false, reason: 'no-magic' });
  });

  it('an all-zero superblock is no-magic', () => {
    expect(checkSuperblock(new Uint8Array(200))).toMatchObject({ ok: false, reason: 'no-magic' });
  });

  it('another version (even with a valid CRC): wrong-version', () => {
    const st = checkSuperblock(patched((v) => v.setBigUint64(8, 47n, true), true));
    expect(st).toMatchObject({ ok: false, reason: 'wrong-version' });
    if (!st.ok) expect(st.message).toMatch(/47/);
  });

  it('magic is checked before version, version before CRC', () => {
    expect(checkSuperblock(patched((v) => { v.setUint8(0, 0); v.setBigUint64(8, 1n, true); }))).toMatchObject({ reason: 'no-magic' });
    expect(checkSuperblock(patched((v) => v.setBigUint64(8, 1n, true)))).toMatchObject({ reason: 'wrong-version' });
  });

  it('every byte of [16, 104) flipped: bad-crc', () => {
    for (let i = 16; i < 104; i++) {
      const st = checkSuperblock(patched((_v, b) => { b[i]! ^= 0x01; }));
      expect(st, `byte ${i}`).toMatchObject({ ok: false, reason: 'bad-crc' });
    }
  });

  it('bytes past the CRC-covered range do not invalidate it (flags, daxdev)', () => {
    expect(checkSuperblock(patched((v) => v.setUint32(104, 1, true))).ok).toBe(true);
    expect(checkSuperblock(patched((_v, b) => { b[150] = 0x41; })).ok).toBe(true);
  });

  it('alloc unit 4096 is accepted; anything but 4096 or 2 MiB is bad-alloc-unit', () => {
    expect(checkSuperblock(patched((v) => v.setBigUint64(32, 4096n, true), true)).ok).toBe(true);
    for (const au of [0n, 512n, 8192n, 0x100000n, 0x400000n]) {
      expect(checkSuperblock(patched((v) => v.setBigUint64(32, au, true), true)), `alloc unit ${au}`).toMatchObject({ ok: false, reason: 'bad-alloc-unit' });
    }
  });

  it('a log that is not a power of two, or lies past the device end: bad-geometry', () => {
    expect(checkSuperblock(patched((v) => v.setBigUint64(24, 0x900000n, true), true))).toMatchObject({ ok: false, reason: 'bad-geometry' });
    expect(checkSuperblock(patched((v) => v.setBigUint64(16, 100n, true), true))).toMatchObject({ ok: false, reason: 'bad-geometry' });
    expect(checkSuperblock(head, 10 * 1024 * 1024).ok).toBe(true);
    expect(checkSuperblock(head, 10 * 1024 * 1024 - 1)).toMatchObject({ ok: false, reason: 'bad-geometry' });
  });

  it('regression (found by the fuzzer): a recorded device size past 2^53, or too small for the log, is bad-geometry, not a NaN-sized file system', () => {
    for (const size of [2n ** 53n, 2n ** 64n - 1n, 0n, BigInt(10 * 1024 * 1024 - 1)]) {
      // dd_size (112) is outside the CRC: no re-CRC needed for it to reach the geometry check
      expect(checkSuperblock(patched((v) => v.setBigUint64(112, size, true))), `dd_size ${size}`).toMatchObject({ ok: false, reason: 'bad-geometry' });
    }
    expect(checkSuperblock(patched((v) => v.setBigUint64(112, BigInt(10 * 1024 * 1024), true))).ok).toBe(true);
  });
});
