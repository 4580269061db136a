import { FamfsError } from '../errors.js';
import { GiB, MAX_BUCKETS, MAX_STRIPS } from '../format/constants.js';
import type { FmapRecord, SimpleExtent } from '../format/log.js';
import { isPowerOfTwo } from '../format/math.js';
import type { AllocBitmap } from './bitmap.js';

/** Strided (interleaved) allocation parameters: `creat -N nstrips -B nbuckets -C chunksize`. */
export interface InterleaveParams {
  nstrips: number;
  nbuckets: number;
  chunkSize: number;
}

/**
 * Interleave as a user asks for it: any of the three given turns interleave
 * on (`creat -N/-B/-C`, the control socket's create request).
 */
export interface InterleaveRequest {
  nstrips?: number;
  nbuckets?: number;
  chunkSize?: number;
}

/** upstream's default chunk size: one allocation unit */
export const DEFAULT_CHUNK_SIZE = 2 * 1024 * 1024;

/**
 * The one place interleave defaults are applied: nstrips 1, nbuckets =
 * nstrips, chunk 2 MiB (upstream's). Nothing asked for: no interleave.
 */
export function interleaveParams(r: InterleaveRequest | undefined): InterleaveParams | undefined {
  if (r === undefined || (r.nstrips === undefined && r.nbuckets === undefined && r.chunkSize === undefined)) return undefined;
  const nstrips = r.nstrips ?? 1;
  return { nstrips, nbuckets: r.nbuckets ?? nstrips, chunkSize: r.chunkSize ?? DEFAULT_CHUNK_SIZE };
}

/** A source of randomness for the bucket order (tests pass a seeded one). */
export type RandomInt = (bound: number) => number;

export const mathRandomInt: RandomInt = (bound) => Math.floor(Math.random() * bound);

/**
 * Check interleave parameters against the device: chunk a power of two and a
 * multiple of the alloc unit, 1 <= nstrips <= nbuckets <= 64, nstrips <= 16,
 * buckets of at least 1 GiB. Throws EINVAL with the rule that failed.
 */
export function checkInterleave(p: InterleaveParams, deviceSize: number, allocUnit: number): void {
  const bad = (msg: string): never => {
    throw new FamfsError('EINVAL', 'alloc', `invalid interleave: ${msg}`);
  };
  if (!isPowerOfTwo(p.chunkSize) || p.chunkSize % allocUnit !== 0) {
    bad(`chunk size ${p.chunkSize} must be a power of two and a multiple of the alloc unit (${allocUnit})`);
  }
  if (!Number.isInteger(p.nstrips) || p.nstrips < 1) bad(`nstrips ${p.nstrips} must be at least 1`);
  if (p.nstrips > MAX_STRIPS) bad(`nstrips ${p.nstrips} > ${MAX_STRIPS}`);
  if (!Number.isInteger(p.nbuckets) || p.nbuckets < 1) bad(`nbuckets ${p.nbuckets} must be at least 1`);
  if (p.nstrips > p.nbuckets) bad(`nstrips ${p.nstrips} > nbuckets ${p.nbuckets}`);
  if (p.nbuckets > MAX_BUCKETS) bad(`nbuckets ${p.nbuckets} > ${MAX_BUCKETS}`);
  const bucketBytes = Math.floor(Math.floor(deviceSize / allocUnit) / p.nbuckets) * allocUnit;
  if (bucketBytes < GiB) bad(`buckets of ${bucketBytes} bytes are smaller than 1 GiB (device ${deviceSize} bytes / ${p.nbuckets} buckets)`);
}

function outOfSpace(size: number): FamfsError {
  return new FamfsError('ENOSPC', 'alloc', `out of space: no room for ${size} bytes`);
}

/**
 * Allocates file space from a bitmap. Contiguous allocation is first fit from
 * a cursor that starts at the beginning of the device and advances within one
 * locked session (so a batch of creates does not rescan the full prefix).
 */
export class Allocator {
  private cursor = 0;

  constructor(
    readonly bitmap: AllocBitmap,
    private readonly random: RandomInt = mathRandomInt,
  ) {}

  /** Start first fit from the beginning again (at the start of each locked session). */
  resetCursor(): void {
    this.cursor = 0;
  }

  /** One contiguous extent of round_up(size, alloc unit) bytes. */
  contiguous(size: number): SimpleExtent {
    if (!Number.isSafeInteger(size) || size <= 0) throw new FamfsError('EINVAL', 'alloc', `invalid file size ${size}`);
    const au = this.bitmap.allocUnit;
    const units = Math.ceil(size / au);
    let u = this.bitmap.findFree(units, this.cursor);
    if (u < 0 && this.cursor > 0) u = this.bitmap.findFree(units, 0);
    if (u < 0) throw outOfSpace(size);
    // Offset 0 holds the superblock, which the bitmap always marks: a unit 0
    // result would be a bitmap bug, never a valid extent.
    if (u === 0) throw new FamfsError('EIO', 'alloc', 'allocator returned device offset 0 (bitmap is corrupt)');
    this.bitmap.claim(u * au, units * au);
    this.cursor = u + units;
    return { devIndex: 0, offset: u * au, len: units * au };
  }

  /** A file's map: interleaved when asked and the file is at least one chunk, else contiguous. */
  allocate(size: number, interleave?: InterleaveParams): FmapRecord {
    if (interleave === undefined || size < interleave.chunkSize) {
      if (interleave !== undefined) checkInterleave(interleave, this.bitmap.deviceSize, this.bitmap.allocUnit);
      return { type: 'simple', extents: [this.contiguous(size)] };
    }
    return this.interleaved(size, interleave);
  }

  /**
   * Strided allocation: the device is split into `nbuckets` buckets of
   * floor(units / nbuckets) units; each of the `nstrips` strips is one
   * contiguous run of nstripes × chunk bytes in a different bucket, buckets
   * tried in random order. All or nothing: on failure nothing stays claimed.
   */
  interleaved(size: number, p: InterleaveParams): FmapRecord {
    const bm = this.bitmap;
    const au = bm.allocUnit;
    checkInterleave(p, bm.deviceSize, au);
    const stripe = p.nstrips * p.chunkSize;
    const nstripes = Math.ceil(size / stripe);
    const stripLen = nstripes * p.chunkSize;
    const stripUnits = stripLen / au;
    const bucketUnits = Math.floor(bm.nunits / p.nbuckets);
    const order = Array.from({ length: p.nbuckets }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.random(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const strips: SimpleExtent[] = [];
    for (const b of order) {
      if (strips.length === p.nstrips) break;
      const u = bm.findFree(stripUnits, b * bucketUnits, (b + 1) * bucketUnits);
      if (u <= 0) continue;
      bm.claim(u * au, stripLen);
      strips.push({ devIndex: 0, offset: u * au, len: stripLen });
    }
    if (strips.length < p.nstrips) {
      for (const s of strips) bm.release(s.offset, s.len);
      throw new FamfsError('ENOSPC', 'alloc', `out of space: found ${strips.length} of ${p.nstrips} strips of ${stripLen} bytes for a ${size}-byte interleaved file`);
    }
    return { type: 'interleave', extents: [{ nstrips: p.nstrips, chunkSize: p.chunkSize, strips }] };
  }
}
