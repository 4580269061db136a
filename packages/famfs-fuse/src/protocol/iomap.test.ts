/**
 * The IOMAP_BEGIN reply against bytes built by hand from the seed's
 * fuse_iomap_begin_out (read mapping @0, write mapping @32; each
 * fuse_iomap_io: offset 0, length 8, addr 16, type 24 (u16), flags 26
 * (u16), dev 28 (u32)).
 */
import { describe, expect, it } from 'vitest';
import { EncodeError } from './cursor.js';
import { encodeIomapBeginOut } from './iomap.js';
import { thrown } from '../../../../test/thrown.js';

describe('fuse_iomap_begin_out', () => {
  it('every field at its offset', () => {
    const got = encodeIomapBeginOut({
      read: { offset: 0x20_0000n, length: 0x40_0000n, addr: 0x1_0000_0000n, type: 2, flags: 0x80, dev: 3 },
      write: { offset: 0x20_0000n, length: 0x40_0000n, addr: 0xffff_ffff_ffff_ffffn, type: 255, flags: 0, dev: 0 },
    });
    const b = new Uint8Array(64);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, 0x20_0000n, true);
    v.setBigUint64(8, 0x40_0000n, true);
    v.setBigUint64(16, 0x1_0000_0000n, true);
    v.setUint16(24, 2, true);
    v.setUint16(26, 0x80, true);
    v.setUint32(28, 3, true);
    v.setBigUint64(32, 0x20_0000n, true);
    v.setBigUint64(40, 0x40_0000n, true);
    v.setBigUint64(48, 0xffff_ffff_ffff_ffffn, true);
    v.setUint16(56, 255, true);
    expect(got).toEqual(b);
  });

  it('a value that does not fit its field is an EncodeError, not a wrap', () => {
    const m = { offset: 0n, length: 4096n, addr: 0n, type: 2, flags: 0, dev: 1 };
    expect(thrown(() => encodeIomapBeginOut({ read: { ...m, type: 0x1_0000 }, write: m }), EncodeError).field).toBe('fuse_iomap_begin_out.read.type');
    expect(thrown(() => encodeIomapBeginOut({ read: m, write: { ...m, offset: -1n } }), EncodeError).field).toBe('fuse_iomap_begin_out.write.offset');
  });
});
