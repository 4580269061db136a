/**
 * mkfs on an in-memory device. What it wrote is read back FROM THE RAW BYTES
 * with a DataView and offsets typed from the spec (not with the production
 * decoder), CRCs with node:zlib. Refusals must leave every byte unchanged.
 */
import { randomFillSync } from 'node:crypto';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from './device.js';
import { FamfsError } from './errors.js';
import { encodeSuperblock } from './format/superblock.js';
import { checkLogHeader } from './format/log.js';
import { checkSuperblock } from './format/superblock.js';
import { killSuperblock, minDeviceSize, mkfs } from './mkfs.js';
import { thrown } from '../../../test/thrown.js';

const MiB = 1024 * 1024;
const SYS = '6b6515ee-fdad-4435-a362-b44c974c2d16';
const OTHER = '0e0e0e0e-1111-2222-3333-444444444444';
const FS_UUID = '38936ce5-a1a2-4959-8318-4877746a937e';
const DEV_UUID = '0381f82f-9bba-4996-9d71-fe53d972868f';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const uuidHex = (u: string): string => u.replace(/-/g, '');
const crc = (b: Uint8Array): bigint => BigInt(zlib.crc32(b) >>> 0);

/** A device full of random bytes: writes of zeros show up too. */
function noisyDevice(size: number, path = '/dev/dax0.0'): MemoryDevice {
  const b = new Uint8Array(size);
  randomFillSync(b);
  return new MemoryDevice(b, path);
}

function expectFamfsError(fn: () => void, code: string, match?: RegExp): FamfsError {
  const e = thrown(fn, FamfsError);
  expect(e.code).toBe(code);
  if (match) expect(e.message).toMatch(match);
  return e;
}

/** mkfs must refuse and leave every byte as it was. */
function expectRefusedUntouched(dev: MemoryDevice, run: () => void, code: string, match?: RegExp): void {
  const before = Buffer.from(dev.bytes);
  const flushesBefore = dev.flushes.length;
  expectFamfsError(run, code, match);
  expect(Buffer.from(dev.bytes).equals(before)).toBe(true);
  expect(dev.flushes.length).toBe(flushesBefore);
}

describe('mkfs writes the spec layout (read back by hand)', () => {
  const size = 64 * MiB;
  const dev = noisyDevice(size, '/dev/dax3.1');
  mkfs(dev, { systemUuid: SYS, fsUuid: FS_UUID, devUuid: DEV_UUID });
  const b = dev.bytes;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);

  it('superblock fields', () => {
    expect(v.getBigUint64(0, true)).toBe(0x87b282ffn); // ts_magic
    expect(v.getBigUint64(8, true)).toBe(48n); // ts_version
    expect(v.getBigUint64(16, true)).toBe(2n * 1024n * 1024n); // ts_log_offset
    expect(v.getBigUint64(24, true)).toBe(8n * 1024n * 1024n); // ts_log_len
    expect(v.getBigUint64(32, true)).toBe(0x200000n); // ts_alloc_unit
    expect(v.getUint32(40, true)).toBe(2); // OMF major
    expect(v.getUint32(44, true)).toBe(2); // OMF minor
    expect(hex(b.subarray(48, 64))).toBe(uuidHex(FS_UUID));
    expect(hex(b.subarray(64, 80))).toBe(uuidHex(DEV_UUID));
    expect(hex(b.subarray(80, 96))).toBe(uuidHex(SYS)); // the master: the host that ran mkfs
    expect(v.getBigUint64(96, true)).toBe(crc(b.subarray(0, 96))); // ts_crc, zero-extended
    expect(v.getUint32(104, true)).toBe(0); // ts_sb_flags: upstream mkfs never sets them
    expect(v.getBigUint64(112, true)).toBe(BigInt(size)); // dd_size
    expect(b.subarray(120, 136).every((x) => x === 0)).toBe(true); // dd_uuid: not set
    expect(Buffer.from(b.subarray(136, 136 + 11)).toString('latin1')).toBe('/dev/dax3.1');
    expect(b.subarray(147, 200).every((x) => x === 0)).toBe(true); // NUL-padded device name
  });

  it('log header: magic, len, last_index, crc over [0, 24), next_seqnum 0, next_index 0', () => {
    const L = 2 * MiB;
    expect(v.getBigUint64(L + 0, true)).toBe(0xbadcafef00dn);
    expect(v.getBigUint64(L + 8, true)).toBe(8388608n);
    expect(v.getBigUint64(L + 16, true)).toBe(15419n);
    expect(v.getBigUint64(L + 24, true)).toBe(crc(b.subarray(L, L + 24)));
    expect(v.getBigUint64(L + 32, true)).toBe(0n);
    expect(v.getBigUint64(L + 40, true)).toBe(0n);
  });

  it('the rest of the log is zero', () => {
    expect(b.subarray(2 * MiB + 48, 10 * MiB).every((x) => x === 0)).toBe(true);
  });

  it('the data area is not touched', () => {
    // the random fill survives right after the log (a zero byte run of 64 KiB would be a miracle)
    expect(b.subarray(10 * MiB, 10 * MiB + 65536).some((x) => x !== 0)).toBe(true);
    expect(b.subarray(size - 65536).some((x) => x !== 0)).toBe(true);
  });

  it('the production validators accept what was written', () => {
    expect(checkSuperblock(b, size).ok).toBe(true);
    expect(checkLogHeader(b, 2 * MiB, 8 * MiB).ok).toBe(true);
  });
});

describe('mkfs options', () => {
  it('fresh random UUIDs by default, different on every mkfs', () => {
    const a = MemoryDevice.ofSize(16 * MiB);
    const c = MemoryDevice.ofSize(16 * MiB);
    mkfs(a, { systemUuid: SYS });
    mkfs(c, { systemUuid: SYS });
    expect(hex(a.bytes.subarray(48, 64))).not.toBe(hex(c.bytes.subarray(48, 64)));
    expect(hex(a.bytes.subarray(48, 64))).not.toBe(hex(a.bytes.subarray(64, 80)));
    expect(hex(a.bytes.subarray(48, 64))).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/); // a v4 UUID
  });

  it('a 16 MiB log: len and last_index follow it; the device path defaults to dev.path', () => {
    const dev = MemoryDevice.ofSize(64 * MiB, '/tmp/img');
    mkfs(dev, { systemUuid: SYS, logLen: 16 * MiB });
    const v = new DataView(dev.bytes.buffer);
    expect(v.getBigUint64(24, true)).toBe(16n * 1024n * 1024n);
    expect(v.getBigUint64(2 * MiB + 8, true)).toBe(16n * 1024n * 1024n);
    expect(v.getBigUint64(2 * MiB + 16, true)).toBe(30839n);
    expect(Buffer.from(dev.bytes.subarray(136, 145)).toString('latin1')).toBe('/tmp/img\0');
  });

  it('devicePath overrides the recorded path', () => {
    const dev = MemoryDevice.ofSize(16 * MiB, '/dev/memory');
    mkfs(dev, { systemUuid: SYS, devicePath: '/dev/loop7' });
    expect(Buffer.from(dev.bytes.subarray(136, 147)).toString('latin1')).toBe('/dev/loop7\0');
  });

  it('the smallest device: superblock + log + one 2 MiB unit', () => {
    expect(minDeviceSize(8 * MiB)).toBe(12 * MiB);
    const dev = MemoryDevice.ofSize(12 * MiB);
    mkfs(dev, { systemUuid: SYS });
    expect(checkSuperblock(dev.bytes, dev.size).ok).toBe(true);
  });
});

describe('write ordering', () => {
  /** A MemoryDevice that also records, at every flush, whether bytes [0, 200) held a valid superblock. */
  class OrderedDevice extends MemoryDevice {
    readonly sbValidAtFlush: boolean[] = [];
    override flush(view: Uint8Array): void {
      super.flush(view);
      this.sbValidAtFlush.push(checkSuperblock(this.bytes, this.size).ok);
    }
  }

  it('the superblock is flushed after the log, and no valid superblock exists while the log is written', () => {
    const bytes = new Uint8Array(32 * MiB);
    // start from an old, valid famfs on the device
    const old = MemoryDevice.ofSize(32 * MiB);
    mkfs(old, { systemUuid: OTHER });
    bytes.set(old.bytes);
    const dev = new OrderedDevice(bytes, '/dev/dax0.0');
    mkfs(dev, { systemUuid: SYS, force: true });

    const f = dev.flushes;
    const covers = (i: number, lo: number, hi: number): boolean => f[i]!.offset <= lo && f[i]!.offset + f[i]!.length >= hi;
    const logFlush = f.findIndex((_x, i) => covers(i, 2 * MiB, 2 * MiB + 48));
    const lastSbFlush = f.length - 1;
    expect(logFlush).toBeGreaterThanOrEqual(0);
    expect(covers(lastSbFlush, 0, 200)).toBe(true);
    expect(lastSbFlush).toBeGreaterThan(logFlush);
    // whole log flushed
    expect(covers(logFlush, 2 * MiB, 10 * MiB)).toBe(true);
    // the old superblock was gone before the new log went out; the new one appears only with the last flush
    expect(dev.sbValidAtFlush.slice(0, -1).every((ok) => !ok)).toBe(true);
    expect(dev.sbValidAtFlush.at(-1)).toBe(true);
    expect(hex(dev.bytes.subarray(80, 96))).toBe(uuidHex(SYS));
  });
});

describe('mkfs refusals write nothing', () => {
  it('a log length that is not a power of two, or below 8 MiB', () => {
    for (const logLen of [12 * MiB, 8 * MiB + 4096, 4 * MiB, 0, -8 * MiB, 8.5 * MiB, Number.NaN]) {
      const dev = noisyDevice(16 * MiB);
      expectRefusedUntouched(dev, () => mkfs(dev, { systemUuid: SYS, logLen }), 'EINVAL', /log length/);
    }
  });

  it('a device too small for superblock + log + one allocation unit', () => {
    for (const size of [12 * MiB - 1, 10 * MiB, 4096, 100]) {
      const dev = noisyDevice(size);
      expectRefusedUntouched(dev, () => mkfs(dev, { systemUuid: SYS }), 'ENOSPC', /too small/);
    }
    const dev = noisyDevice(20 * MiB - 4096);
    expectRefusedUntouched(dev, () => mkfs(dev, { systemUuid: SYS, logLen: 16 * MiB }), 'ENOSPC', /too small/);
  });

  it('an existing valid superblock without force (ours or another host\'s); force works', () => {
    for (const owner of [SYS, OTHER]) {
      const dev = noisyDevice(32 * MiB);
      mkfs(dev, { systemUuid: owner, fsUuid: FS_UUID });
      expectRefusedUntouched(dev, () => mkfs(dev, { systemUuid: SYS }), 'EEXIST', owner === OTHER ? /another host/ : /already has a famfs superblock/);
      mkfs(dev, { systemUuid: SYS, force: true });
      expect(checkSuperblock(dev.bytes, dev.size).ok).toBe(true);
      expect(hex(dev.bytes.subarray(48, 64))).not.toBe(uuidHex(FS_UUID));
      expect(hex(dev.bytes.subarray(80, 96))).toBe(uuidHex(SYS));
    }
  });

  it('a superblock of another version without force (not blank); force works', () => {
    const dev = noisyDevice(32 * MiB);
    dev.bytes.set(encodeSuperblock({
      version: 47, logOffset: 2 * MiB, logLen: 8 * MiB, allocUnit: 2 * MiB, uuid: FS_UUID, devUuid: DEV_UUID,
      systemUuid: OTHER, flags: 0, daxdev: { size: 32 * MiB, uuid: '00000000-0000-0000-0000-000000000000', path: '/dev/x' },
    }));
    expectRefusedUntouched(dev, () => mkfs(dev, { systemUuid: SYS }), 'EEXIST', /version/);
    mkfs(dev, { systemUuid: SYS, force: true });
    expect(new DataView(dev.bytes.buffer).getBigUint64(8, true)).toBe(48n);
  });

  it('a famfs superblock with a bad CRC without force', () => {
    const dev = noisyDevice(32 * MiB);
    mkfs(dev, { systemUuid: SYS });
    dev.bytes[50]! ^= 1;
    expectRefusedUntouched(dev, () => mkfs(dev, { systemUuid: SYS }), 'EEXIST');
  });

  it('a device path that does not fit the 64-byte name field (regression: it threw a FormatError after the checks)', () => {
    const p63 = `/${'d'.repeat(62)}`;
    const dev = noisyDevice(16 * MiB, `${p63}x`);
    expectRefusedUntouched(dev, () => mkfs(dev, { systemUuid: SYS }), 'ENAMETOOLONG', /longer than 63 bytes/);
    const other = noisyDevice(16 * MiB);
    expectRefusedUntouched(other, () => mkfs(other, { systemUuid: SYS, devicePath: `${p63}x` }), 'ENAMETOOLONG');
    mkfs(other, { systemUuid: SYS, devicePath: p63 });
    expect(Buffer.from(other.bytes.subarray(136, 200)).toString('latin1')).toBe(`${p63}\0`);
  });

  it('random bytes without the famfs magic count as blank', () => {
    const dev = noisyDevice(16 * MiB);
    dev.bytes[0] = 0; // make sure the magic is not there by chance
    mkfs(dev, { systemUuid: SYS });
    expect(checkSuperblock(dev.bytes, dev.size).ok).toBe(true);
  });
});

describe('killSuperblock (mkfs -f -k)', () => {
  it('zeroes the magic and nothing else', () => {
    const dev = noisyDevice(16 * MiB);
    mkfs(dev, { systemUuid: SYS });
    const before = Buffer.from(dev.bytes);
    killSuperblock(dev);
    expect(dev.bytes.subarray(0, 8).every((x) => x === 0)).toBe(true);
    expect(Buffer.from(dev.bytes.subarray(8)).equals(before.subarray(8))).toBe(true);
    expect(checkSuperblock(dev.bytes)).toMatchObject({ ok: false, reason: 'no-magic' });
  });

  it('on a device without a superblock: writes nothing', () => {
    const dev = noisyDevice(16 * MiB);
    dev.bytes[0] = 0;
    const before = Buffer.from(dev.bytes);
    killSuperblock(dev);
    expect(Buffer.from(dev.bytes).equals(before)).toBe(true);
  });
});
