/**
 * famfs GET_FMAP / GET_DAXDEV replies against bytes built by hand from the
 * famfs series' layouts (header 32, simple ext 24, iext 24, daxdev_out 280).
 */
import { describe, expect, it } from 'vitest';
import { EncodeError } from './cursor.js';
import { encodeDaxdevOut, encodeGetFmapReply, getFmapReplySize, type FmapSimpleExt, type GetFmapReply } from './famfs.js';
import { thrown } from '../../../../test/thrown.js';

const MiB = 1024 * 1024;

function hand(n: number): { b: Uint8Array; v: DataView } {
  const b = new Uint8Array(n);
  return { b, v: new DataView(b.buffer) };
}

const encodeError = (fn: () => unknown): EncodeError => thrown(fn, EncodeError);

/** fuse_famfs_fmap_header by hand */
function handHeader(v: DataView, fileType: number, extType: number, nextents: number, fileSize: bigint, reserved0 = 0): void {
  v.setUint8(0, fileType);
  v.setUint16(2, 1, true); // fmap_version
  v.setUint32(4, extType, true);
  v.setUint32(8, nextents, true);
  v.setUint32(12, reserved0, true);
  v.setBigUint64(16, fileSize, true);
}

/** fuse_famfs_simple_ext by hand at `at` */
function handExt(v: DataView, at: number, dev: number, off: bigint, len: bigint): void {
  v.setUint32(at, dev, true);
  v.setBigUint64(at + 8, off, true);
  v.setBigUint64(at + 16, len, true);
}

const twoExtents: GetFmapReply = {
  fileType: 0,
  fileSize: 3 * MiB + 100,
  fmap: {
    type: 'simple',
    extents: [
      { devIndex: 0, offset: 10 * MiB, len: 2 * MiB },
      { devIndex: 1, offset: 64 * MiB, len: 2 * MiB },
    ],
  },
};

describe('GET_FMAP reply', () => {
  it('a simple 2-extent file, byte-exact (32 + 2 × 24 = 80 bytes)', () => {
    const { b, v } = hand(80);
    handHeader(v, 0, 0, 2, BigInt(3 * MiB + 100));
    handExt(v, 32, 0, BigInt(10 * MiB), BigInt(2 * MiB));
    handExt(v, 56, 1, BigInt(64 * MiB), BigInt(2 * MiB));
    expect(getFmapReplySize(twoExtents.fmap)).toBe(80);
    expect(encodeGetFmapReply(twoExtents, { maxSize: 32768 })).toEqual(b);
  });

  it('a 4-strip interleaved file, byte-exact (32 + 24 + 4 × 24 = 152 bytes)', () => {
    const strips: FmapSimpleExt[] = [0, 1, 2, 3].map((i) => ({ devIndex: i, offset: (100 + i) * 2 * MiB, len: 8 * MiB }));
    const reply: GetFmapReply = {
      fileType: 0,
      fileSize: 30 * MiB,
      fmap: { type: 'interleave', extents: [{ chunkSize: 2 * MiB, nbytes: 32 * MiB, strips }] },
    };
    const { b, v } = hand(152);
    handHeader(v, 0, 1, 1, BigInt(30 * MiB));
    v.setUint32(32, 4, true); // ie_nstrips
    v.setUint32(36, 2 * MiB, true); // ie_chunk_size
    v.setBigUint64(40, BigInt(32 * MiB), true); // ie_nbytes
    for (let i = 0; i < 4; i++) handExt(v, 56 + i * 24, i, BigInt((100 + i) * 2 * MiB), BigInt(8 * MiB));
    expect(encodeGetFmapReply(reply, { maxSize: 4096 })).toEqual(b);
  });

  it('two interleaved extents: each iext is followed by its own strips', () => {
    const s = (d: number): FmapSimpleExt => ({ devIndex: d, offset: d * 4 * MiB, len: 2 * MiB });
    const reply: GetFmapReply = {
      fileType: 2, // LOG
      fileSize: 6 * MiB,
      fmap: {
        type: 'interleave',
        extents: [
          { chunkSize: 2 * MiB, nbytes: 4 * MiB, strips: [s(0), s(1)] },
          { chunkSize: 2 * MiB, nbytes: 2 * MiB, strips: [s(2)] },
        ],
      },
    };
    const { b, v } = hand(32 + 24 + 48 + 24 + 24);
    handHeader(v, 2, 1, 2, BigInt(6 * MiB));
    v.setUint32(32, 2, true);
    v.setUint32(36, 2 * MiB, true);
    v.setBigUint64(40, BigInt(4 * MiB), true);
    handExt(v, 56, 0, 0n, BigInt(2 * MiB));
    handExt(v, 80, 1, BigInt(4 * MiB), BigInt(2 * MiB));
    v.setUint32(104, 1, true);
    v.setUint32(108, 2 * MiB, true);
    v.setBigUint64(112, BigInt(2 * MiB), true);
    handExt(v, 128, 2, BigInt(8 * MiB), BigInt(2 * MiB));
    expect(encodeGetFmapReply(reply, { maxSize: 4096 })).toEqual(b);
  });

  it('file types REG 0, SUPERBLOCK 1, LOG 2 land in byte 0', () => {
    for (const t of [0, 1, 2] as const) {
      expect(encodeGetFmapReply({ ...twoExtents, fileType: t }, { maxSize: 80 })[0]).toBe(t);
    }
  });

  it('a reply larger than the kernel buffer is ERANGE; exactly its size is fine', () => {
    expect(encodeGetFmapReply(twoExtents, { maxSize: 80 }).length).toBe(80);
    const e = encodeError(() => encodeGetFmapReply(twoExtents, { maxSize: 79 }));
    expect(e.errno).toBe('ERANGE');
    expect(encodeError(() => encodeGetFmapReply(twoExtents, { maxSize: 31, fmapSizeProbe: true })).errno).toBe('ERANGE');
  });

  it('size probe: fmap_size in reserved0, and the header alone when it does not fit', () => {
    const full = encodeGetFmapReply(twoExtents, { maxSize: 80, fmapSizeProbe: true });
    expect(new DataView(full.buffer).getUint32(12, true)).toBe(80);
    const { b, v } = hand(32);
    handHeader(v, 0, 0, 2, BigInt(3 * MiB + 100), 80);
    expect(encodeGetFmapReply(twoExtents, { maxSize: 40, fmapSizeProbe: true })).toEqual(b);
  });

  it('extent and strip limits: 1..32', () => {
    const ext = { devIndex: 0, offset: 0, len: 2 * MiB };
    const many = (n: number): GetFmapReply => ({ fileType: 0, fileSize: 0, fmap: { type: 'simple', extents: Array(n).fill(ext) } });
    expect(encodeGetFmapReply(many(32), { maxSize: 32768 }).length).toBe(32 + 32 * 24);
    expect(encodeError(() => encodeGetFmapReply(many(33), { maxSize: 32768 })).errno).toBe('E2BIG');
    expect(encodeError(() => encodeGetFmapReply(many(0), { maxSize: 32768 })).errno).toBe('EINVAL');
    const striped = (n: number): GetFmapReply => ({
      fileType: 0,
      fileSize: 0,
      fmap: { type: 'interleave', extents: [{ chunkSize: 2 * MiB, nbytes: n * 2 * MiB, strips: Array(n).fill(ext) }] },
    });
    expect(encodeGetFmapReply(striped(32), { maxSize: 32768 }).length).toBe(32 + 24 + 32 * 24);
    expect(encodeError(() => encodeGetFmapReply(striped(33), { maxSize: 32768 })).errno).toBe('E2BIG');
    expect(() => encodeGetFmapReply(striped(0), { maxSize: 32768 })).toThrow(EncodeError);
  });

  it('field values are range-checked', () => {
    const bad: GetFmapReply = { ...twoExtents, fmap: { type: 'simple', extents: [{ devIndex: -1, offset: 0, len: 1 }] } };
    expect(() => encodeGetFmapReply(bad, { maxSize: 4096 })).toThrow(EncodeError);
  });
});

describe('GET_DAXDEV reply', () => {
  it('fuse_daxdev_out: index@0, name@24 NUL-terminated, 280 bytes', () => {
    const { b, v } = hand(280);
    v.setUint16(0, 3, true);
    const name = '/dev/dax1.0';
    for (let i = 0; i < name.length; i++) b[24 + i] = name.charCodeAt(i);
    expect(encodeDaxdevOut({ index: 3, name })).toEqual(b);
  });

  it('a 255-byte name fills the field with its NUL last; 256 bytes do not fit', () => {
    const out = encodeDaxdevOut({ index: 0, name: 'd'.repeat(255) });
    expect(out.length).toBe(280);
    expect(out[24 + 254]).toBe(0x64);
    expect(out[279]).toBe(0);
    expect(encodeError(() => encodeDaxdevOut({ index: 0, name: 'd'.repeat(256) })).errno).toBe('ENAMETOOLONG');
    expect(() => encodeDaxdevOut({ index: 0, name: '' })).toThrow(EncodeError);
    expect(() => encodeDaxdevOut({ index: 0, name: 'a\0b' })).toThrow(EncodeError);
    expect(() => encodeDaxdevOut({ index: 65536, name: '/dev/dax0.0' })).toThrow(EncodeError);
  });
});
