/**
 * Seeded pseudo-random file contents, byte-compatible with upstream famfs
 * (`famfs creat -r -S seed` / `famfs verify -S seed`, testlib randomize_buffer /
 * validate_random_buffer).
 *
 * Algorithm (upstream-compatible):
 *  - the seed is truncated to its low 32 bits (unsigned), as the upstream CLI passes
 *    it through a C `unsigned int`;
 *  - the PRNG is xoroshiro128+ whose two 64-bit state words are the first two
 *    splitmix64 outputs of that seed;
 *  - the data is ONE stream starting at file offset 0: each 4-byte word is the low
 *    32 bits of the next 64-bit output, stored little-endian; a final 1-3 byte tail
 *    draws one more output and takes its first `remain` little-endian bytes.
 *
 * The hot loop works on 32-bit halves of the 64-bit state (no BigInt); only the
 * low 32 bits of each output are ever needed, so the 64-bit add reduces to a 32-bit
 * add. Word stores go through a Uint32Array, which assumes a little-endian host.
 */
import { endianness } from 'node:os';

const TWO64_MASK = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;
const MIX1 = 0xbf58476d1ce4e5b9n;
const MIX2 = 0x94d049bb133111ebn;

/** words generated per scratch block for unaligned buffers and verification */
const BLOCK_WORDS = 16384;

let endianChecked = false;
function assertLittleEndian(): void {
  if (endianChecked) return;
  if (endianness() !== 'LE') {
    throw new Error('random-fill: a little-endian host is required');
  }
  endianChecked = true;
}

/**
 * The seed upstream actually uses: the low 32 bits of `seed`, unsigned
 * (negative values wrap as two's complement, so -1 -> 0xFFFFFFFF).
 *
 * Throws RangeError if `seed` is a number that is not a safe integer, or if the
 * truncated seed is 0. Upstream's CLI rejects a zero seed (and a seed whose low
 * 32 bits are 0, e.g. 2^32, would make upstream seed from the clock, so its data
 * is not reproducible); we reject both.
 */
export function normalizeSeed(seed: number | bigint): number {
  let big: bigint;
  if (typeof seed === 'bigint') {
    big = seed;
  } else {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`random seed must be an integer, got ${seed}`);
    }
    big = BigInt(seed);
  }
  const s = Number(BigInt.asUintN(32, big));
  if (s === 0) {
    throw new RangeError(
      `random seed ${seed} is 0 in its low 32 bits; upstream famfs rejects a zero seed`);
  }
  return s;
}

/** splitmix64 seeding -> [s0hi, s0lo, s1hi, s1lo] as int32 values */
function seedState(seed32: number): [number, number, number, number] {
  let x = BigInt(seed32);
  const next = (): bigint => {
    x = (x + GOLDEN) & TWO64_MASK;
    let z = x;
    z = ((z ^ (z >> 30n)) * MIX1) & TWO64_MASK;
    z = ((z ^ (z >> 27n)) * MIX2) & TWO64_MASK;
    return z ^ (z >> 31n);
  };
  const s0 = next();
  const s1 = next();
  return [
    Number(s0 >> 32n) | 0, Number(s0 & 0xffffffffn) | 0,
    Number(s1 >> 32n) | 0, Number(s1 & 0xffffffffn) | 0,
  ];
}

/**
 * Generator state plus the chunking rules shared by RandomStream and verifyStream.
 * Not exported.
 */
class Generator {
  // xoroshiro128+ state: s0 = (ah:al), s1 = (bh:bl), each half an int32
  private ah: number;
  private al: number;
  private bh: number;
  private bl: number;
  /** stream offset of the next byte */
  position = 0;
  /** set once a chunk whose length is not a multiple of 4 has been consumed */
  private ended = false;
  private scratch: Uint32Array | undefined;

  constructor(seed: number | bigint) {
    assertLittleEndian();
    [this.ah, this.al, this.bh, this.bl] = seedState(normalizeSeed(seed));
  }

  /** Enforce the chunk-length rule before consuming `len` bytes. */
  begin(len: number): void {
    if (len === 0) return;
    if (this.ended) {
      throw new RangeError(
        `random stream already ended with a partial word at offset ${this.position}; ` +
        'only the last chunk may have a length that is not a multiple of 4');
    }
    if (len % 4 !== 0) this.ended = true;
  }

  /** Write the low 32 bits of the next (end - start) outputs into out[start, end). */
  gen(out: Uint32Array, start: number, end: number): void {
    let ah = this.ah, al = this.al, bh = this.bh, bl = this.bl;
    for (let i = start; i < end; i++) {
      out[i] = (al + bl) | 0;
      bh ^= ah;
      bl ^= al;
      // s0 = rotl(s0, 55) ^ s1 ^ (s1 << 14); rotl 55 == rotr 9
      const nh = ((ah >>> 9) | (al << 23)) ^ bh ^ ((bh << 14) | (bl >>> 18));
      const nl = ((al >>> 9) | (ah << 23)) ^ bl ^ (bl << 14);
      // s1 = rotl(s1, 36): swap halves, then rotl 4
      const th = (bl << 4) | (bh >>> 28);
      bl = (bh << 4) | (bl >>> 28);
      bh = th;
      ah = nh;
      al = nl;
    }
    this.ah = ah; this.al = al; this.bh = bh; this.bl = bl;
  }

  /** Scratch block (BLOCK_WORDS words), allocated on first use. */
  block(): Uint32Array {
    return (this.scratch ??= new Uint32Array(BLOCK_WORDS));
  }

  /** Low 32 bits of the next output, unsigned. */
  nextWord(): number {
    const one = new Uint32Array(1);
    this.gen(one, 0, 1);
    return one[0]!;
  }
}

/**
 * A seeded upstream-compatible random byte stream starting at offset 0.
 *
 * `new RandomStream(seed)`: `seed` is truncated to its low 32 bits (unsigned), as
 * upstream does; a seed that is 0 after truncation throws RangeError (upstream's CLI
 * rejects seed 0), as does a number that is not a safe integer.
 *
 * `fill(buf)` writes the next `buf.length` bytes of the stream into `buf` and advances.
 * Successive calls over consecutive chunks produce exactly the bytes one call over
 * their concatenation would, PROVIDED every chunk but the last has a length that is
 * a multiple of 4. The last chunk may end in a 1-3 byte tail (which consumes one
 * whole output, as upstream does); any later non-empty fill throws RangeError.
 * Empty buffers are always a no-op. Buffers need not be 4-byte aligned (aligned ones
 * are faster).
 */
export class RandomStream {
  private readonly g: Generator;

  constructor(seed: number | bigint) {
    this.g = new Generator(seed);
  }

  /** Stream offset of the next byte `fill` will produce. */
  get position(): number {
    return this.g.position;
  }

  fill(buf: Uint8Array): void {
    const len = buf.length;
    const g = this.g;
    g.begin(len);
    if (len === 0) return;
    const words = len >>> 2;
    const off = buf.byteOffset;
    if ((off & 3) === 0) {
      g.gen(new Uint32Array(buf.buffer, off, words), 0, words);
    } else {
      const scratch = g.block();
      const scratchBytes = new Uint8Array(scratch.buffer);
      for (let w = 0; w < words; w += BLOCK_WORDS) {
        const n = Math.min(BLOCK_WORDS, words - w);
        g.gen(scratch, 0, n);
        buf.set(scratchBytes.subarray(0, n * 4), w * 4);
      }
    }
    const remain = len & 3;
    if (remain !== 0) {
      let v = g.nextWord();
      for (let i = words * 4; i < len; i++) {
        buf[i] = v & 0xff;
        v >>>= 8;
      }
    }
    g.position += len;
  }
}

/**
 * Check that `chunks`, taken as consecutive pieces of one stream from offset 0,
 * hold exactly the bytes `RandomStream(seed)` would produce (upstream
 * validate_random_buffer semantics).
 *
 * Returns -1 if everything matches (including no data at all), else the stream
 * offset of the first mismatching 4-byte word — a multiple of 4, like upstream;
 * for a mismatch in a final 1-3 byte tail, the offset where that tail starts.
 * Iteration stops at the first mismatch. Seeds and chunk lengths follow the same
 * rules as RandomStream (RangeError for a zero truncated seed, or for a chunk
 * that follows one whose length is not a multiple of 4).
 */
export function verifyStream(seed: number | bigint, chunks: Iterable<Uint8Array>): number {
  const g = new Generator(seed);
  const scratch = g.block();
  const scratchBytes = new Uint8Array(scratch.buffer);
  for (const chunk of chunks) {
    const len = chunk.length;
    g.begin(len);
    if (len === 0) continue;
    const base = g.position;
    const words = len >>> 2;
    const aligned = (chunk.byteOffset & 3) === 0;
    const view = aligned ? new Uint32Array(chunk.buffer, chunk.byteOffset, words) : undefined;
    for (let w = 0; w < words; w += BLOCK_WORDS) {
      const n = Math.min(BLOCK_WORDS, words - w);
      g.gen(scratch, 0, n);
      if (view) {
        for (let i = 0; i < n; i++) {
          if (view[w + i] !== scratch[i]) return base + (w + i) * 4;
        }
      } else {
        const b0 = w * 4;
        for (let i = 0; i < n * 4; i++) {
          if (chunk[b0 + i] !== scratchBytes[i]) return base + b0 + (i & ~3);
        }
      }
    }
    const remain = len & 3;
    if (remain !== 0) {
      let v = g.nextWord();
      for (let i = words * 4; i < len; i++) {
        if (chunk[i] !== (v & 0xff)) return base + words * 4;
        v >>>= 8;
      }
    }
    g.position += len;
  }
  return -1;
}
