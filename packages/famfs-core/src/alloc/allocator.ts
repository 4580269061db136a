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

/** Where a simple file goes: `creat -d N` / `cp -d N` (famfs-ts's placement option). */
export interface Placement {
  /** the daxdev index to allocate on */
  device?: number;
}

/**
 * Allocates file space from the allocation bitmaps, one per device (daxdev
 * index order). Contiguous allocation is first fit from a cursor per device
 * that starts at the beginning and advances within one locked session (so a
 * batch of creates does not rescan the full prefix).
 *
 * One device: upstream's policies exactly (first fit; interleaved strips in
 * distinct buckets, in random bucket order). Several devices (famfs-ts,
 * after upstream's roadmap, phase 10 — with "emptiest first" where the
 * roadmap says "random"): a simple file goes to the device with the most
 * free space (or the one asked for); an interleaved file's strips go to
 * distinct devices, emptiest first, when there are as many devices as
 * strips, else round robin over the devices, emptiest first.
 */
export class Allocator {
  private cursors: number[] = [];
  /** the bitmaps now (replay adds one per ADD_DAXDEV entry) */
  private readonly bitmaps: () => readonly AllocBitmap[];

  constructor(
    /** one device's bitmap, or every device's as replay keeps them */
    bitmaps: AllocBitmap | (() => readonly AllocBitmap[]),
    private readonly random: RandomInt = mathRandomInt,
    /** devices this host can write to (a device not found here is never chosen) */
    private readonly usable: (index: number) => boolean = () => true,
  ) {
    this.bitmaps = typeof bitmaps === 'function' ? bitmaps : () => [bitmaps];
  }

  /** The primary's bitmap. */
  get bitmap(): AllocBitmap {
    return this.bitmaps()[0]!;
  }

  /** Start first fit from the beginning again (at the start of each locked session). */
  resetCursor(): void {
    this.cursors = [];
  }

  /** Devices a file may go to, the emptiest first (ties: the lower index). */
  private byFreeSpace(): number[] {
    const bms = this.bitmaps();
    return bms.map((_, i) => i).filter((i) => this.usable(i)).sort((a, b) => bms[b]!.freeBytes - bms[a]!.freeBytes || a - b);
  }

  private device(index: number): AllocBitmap {
    const bm = this.bitmaps()[index];
    if (bm === undefined) throw new FamfsError('EINVAL', 'alloc', `no daxdev ${index} in this file system (0..${this.bitmaps().length - 1})`);
    if (!this.usable(index)) throw new FamfsError('ENODEV', 'alloc', `daxdev ${index} is not open on this host`);
    return bm;
  }

  /** First fit of `units` on one device from its cursor; -1 when it has no such run. */
  private fit(index: number, units: number): number {
    const bm = this.bitmaps()[index]!;
    const from = this.cursors[index] ?? 0;
    let u = bm.findFree(units, from);
    if (u < 0 && from > 0) u = bm.findFree(units, 0);
    if (u < 0) return -1;
    // Offset 0 holds a superblock, which the bitmap always marks: a unit 0
    // result would be a bitmap bug, never a valid extent.
    if (u === 0) throw new FamfsError('EIO', 'alloc', `allocator returned offset 0 of daxdev ${index} (bitmap is corrupt)`);
    return u;
  }

  /** One contiguous extent of round_up(size, alloc unit) bytes. */
  contiguous(size: number, where: Placement = {}): SimpleExtent {
    if (!Number.isSafeInteger(size) || size <= 0) throw new FamfsError('EINVAL', 'alloc', `invalid file size ${size}`);
    let candidates: number[];
    if (where.device !== undefined) {
      this.device(where.device); // it exists and is usable here
      candidates = [where.device];
    } else {
      candidates = this.bitmaps().length === 1 ? [0] : this.byFreeSpace();
    }
    for (const index of candidates) {
      const bm = this.bitmaps()[index]!;
      const au = bm.allocUnit;
      const units = Math.ceil(size / au);
      const u = this.fit(index, units);
      if (u < 0) continue;
      bm.claim(u * au, units * au);
      this.cursors[index] = u + units;
      return { devIndex: index, offset: u * au, len: units * au };
    }
    throw outOfSpace(size);
  }

  /** A file's map: interleaved when asked and the file is at least one chunk, else contiguous. */
  allocate(size: number, interleave?: InterleaveParams, where: Placement = {}): FmapRecord {
    const multi = this.bitmaps().length > 1;
    if (interleave !== undefined && where.device !== undefined) {
      throw new FamfsError('EINVAL', 'alloc', 'a placement on one device is for simple files; an interleaved file spreads its strips over the devices');
    }
    if (interleave === undefined || size < interleave.chunkSize) {
      if (interleave !== undefined) {
        if (multi) checkChunks(interleave, this.bitmap.allocUnit);
        else checkInterleave(interleave, this.bitmap.deviceSize, this.bitmap.allocUnit);
      }
      return { type: 'simple', extents: [this.contiguous(size, where)] };
    }
    return multi ? this.interleavedAcross(size, interleave) : this.interleaved(size, interleave);
  }

  /**
   * Strided allocation on one device: the device is split into `nbuckets`
   * buckets of floor(units / nbuckets) units; each of the `nstrips` strips
   * is one contiguous run of nstripes × chunk bytes in a different bucket,
   * buckets tried in random order. All or nothing: on failure nothing stays
   * claimed.
   */
  interleaved(size: number, p: InterleaveParams): FmapRecord {
    const bm = this.bitmap;
    const au = bm.allocUnit;
    checkInterleave(p, bm.deviceSize, au);
    const stripLen = stripLength(size, p);
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

  /**
   * Strided allocation over several devices: strip i goes to the i-th
   * device in emptiest-first order (round robin when there are more strips
   * than devices), first fit there; a device without room for a strip hands
   * it to the next device that has none of this file's strips yet (or, with
   * more strips than devices, to any other). `nbuckets` does not apply (the
   * strips are spread over devices, not over parts of one). All or nothing.
   */
  interleavedAcross(size: number, p: InterleaveParams): FmapRecord {
    checkChunks(p, this.bitmap.allocUnit);
    const devs = this.byFreeSpace();
    if (devs.length === 0) throw new FamfsError('ENODEV', 'alloc', 'no device of this file system is open on this host');
    const stripLen = stripLength(size, p);
    const strips: SimpleExtent[] = [];
    const used = new Map<number, number>();
    const undo = (): void => {
      for (const x of strips) this.bitmaps()[x.devIndex]!.release(x.offset, x.len);
    };
    for (let i = 0; i < p.nstrips; i++) {
      // the planned device first, then the others, those with the fewest of this file's strips first
      const planned = devs[i % devs.length]!;
      const tries = [planned, ...devs.filter((d) => d !== planned).sort((a, b) => (used.get(a) ?? 0) - (used.get(b) ?? 0))];
      let placed = false;
      for (const d of tries) {
        if (p.nstrips <= devs.length && (used.get(d) ?? 0) > 0) continue; // distinct devices when there are enough
        const bm = this.bitmaps()[d]!;
        const u = this.fit(d, stripLen / bm.allocUnit);
        if (u < 0) continue;
        bm.claim(u * bm.allocUnit, stripLen);
        this.cursors[d] = u + stripLen / bm.allocUnit;
        strips.push({ devIndex: d, offset: u * bm.allocUnit, len: stripLen });
        used.set(d, (used.get(d) ?? 0) + 1);
        placed = true;
        break;
      }
      if (!placed) {
        undo();
        throw new FamfsError('ENOSPC', 'alloc', `out of space: found ${strips.length} of ${p.nstrips} strips of ${stripLen} bytes for a ${size}-byte interleaved file on ${devs.length} devices`);
      }
    }
    return { type: 'interleave', extents: [{ nstrips: p.nstrips, chunkSize: p.chunkSize, strips }] };
  }
}

/** Bytes per strip: whole stripes of nstrips × chunk covering `size`. */
function stripLength(size: number, p: InterleaveParams): number {
  return Math.ceil(size / (p.nstrips * p.chunkSize)) * p.chunkSize;
}

/** The rules of interleave that hold on any number of devices: the chunk and the strip count. */
export function checkChunks(p: InterleaveParams, allocUnit: number): void {
  if (!isPowerOfTwo(p.chunkSize) || p.chunkSize % allocUnit !== 0) {
    throw new FamfsError('EINVAL', 'alloc', `invalid interleave: chunk size ${p.chunkSize} must be a power of two and a multiple of the alloc unit (${allocUnit})`);
  }
  if (!Number.isInteger(p.nstrips) || p.nstrips < 1 || p.nstrips > MAX_STRIPS) {
    throw new FamfsError('EINVAL', 'alloc', `invalid interleave: nstrips ${p.nstrips} must be 1..${MAX_STRIPS}`);
  }
}
