import * as zlib from 'node:zlib';

/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final XOR
 * 0xFFFFFFFF) — what zlib's `crc32(0, buf, len)` computes, which is what famfs
 * stores in the superblock, the log header and every log entry.
 *
 * Slicing-by-8: replay checks the CRC of every log entry (a 256 MiB log is
 * ~493,000 entries, 265 MB of CRC input), so this is a hot path.
 */

const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  t.push(t0);
  for (let k = 1; k < 8; k++) {
    const prev = t[k - 1]!;
    const tk = new Uint32Array(256);
    for (let n = 0; n < 256; n++) tk[n] = (t0[prev[n]! & 0xff]! ^ (prev[n]! >>> 8)) >>> 0;
    t.push(tk);
  }
  return t;
})();

/**
 * CRC-32 of `bytes`, continuing from `crc` (0 to start), in JavaScript: what
 * crc32 uses for small inputs, the reference the native paths are tested
 * against, and the fallback where node:zlib has no crc32.
 */
export function crc32Js(bytes: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
  ];
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    const b = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
    c =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[b & 0xff]! ^
      t2[(b >>> 8) & 0xff]! ^
      t1[(b >>> 16) & 0xff]! ^
      t0[b >>> 24]!;
    i += 8;
  }
  while (i < n) c = t0[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type Crc32Fn = (bytes: Uint8Array, crc?: number) => number;

/** Below this many bytes the JavaScript CRC is used: a superblock, a log header, one entry (replay checks whole logs natively: badCrcEntries). */
const SMALL = 4096;

/**
 * CRC-32 of `bytes`, continuing from `crc` (0 to start): crc32Js for small
 * inputs, node:zlib's native crc32 (Node 20.15+) for large ones, loaded at
 * the first large one (not with this module: short commands never need
 * zlib). Same function either way.
 */
export const crc32: Crc32Fn = (bytes, crc = 0) => {
  if (bytes.length < SMALL) return crc32Js(bytes, crc);
  const z = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  return z ? z(bytes, crc) >>> 0 : crc32Js(bytes, crc);
};
