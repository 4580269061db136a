import { FamfsError } from './errors.js';
import type { FmapRecord, InterleavedExtent } from './format/log.js';

/**
 * The one place that knows how a file offset maps to device memory. Every
 * reader and writer (CLI cat/cp/verify, FUSE READ/WRITE, GET_FMAP, IOMAP,
 * the DAX window) resolves through `resolveFmap` / `forEachRun`.
 */

/** A contiguous piece of a file on one device. */
export interface DeviceRun {
  devIndex: number;
  /** device byte offset */
  offset: number;
  len: number;
  /** file offset where this run starts */
  fileOffset: number;
}

/**
 * File bytes one interleaved extent can hold: its strips are equally long
 * (replay checks that), and each holds every nstrips-th chunk.
 */
export function interleavedCapacity(ie: InterleavedExtent): number {
  return ie.nstrips * (ie.strips[0]?.len ?? 0);
}

/** Bytes of the file's address space the map covers (>= the file size). */
export function fmapCapacity(fmap: FmapRecord): number {
  if (fmap.type === 'simple') return fmap.extents.reduce((n, x) => n + x.len, 0);
  return fmap.extents.reduce((n, ie) => n + interleavedCapacity(ie), 0);
}

/**
 * How many bytes of a `fileSize`-byte file each extent of the map holds, in
 * order (the last ones may hold fewer than their capacity, or none): what
 * GET_FMAP reports per interleaved extent as `ie_nbytes`.
 */
export function fileBytesPerExtent(fmap: FmapRecord, fileSize: number): number[] {
  const caps = fmap.type === 'simple' ? fmap.extents.map((x) => x.len) : fmap.extents.map(interleavedCapacity);
  let base = 0;
  return caps.map((cap) => {
    const n = Math.max(0, Math.min(cap, fileSize - base));
    base += cap;
    return n;
  });
}

/**
 * Call `fn` for each device run covering file bytes [offset, offset+length),
 * in file order. Runs never cross an extent or an interleave chunk. The range
 * must lie within the map (EINVAL otherwise — callers clamp to the file size).
 * Returning false from `fn` stops the walk.
 */
export function forEachRun(fmap: FmapRecord, offset: number, length: number, fn: (run: DeviceRun) => boolean | void): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new FamfsError('EINVAL', 'fmap', `invalid range offset ${offset} length ${length}`);
  }
  if (length === 0) return;
  const end = offset + length;
  if (end > fmapCapacity(fmap)) {
    throw new FamfsError('EINVAL', 'fmap', `range [${offset}, ${end}) lies past the end of the file's map`);
  }
  let pos = offset;
  if (fmap.type === 'simple') {
    let base = 0;
    for (const x of fmap.extents) {
      const xEnd = base + x.len;
      if (pos < xEnd) {
        const n = Math.min(xEnd, end) - pos;
        if (fn({ devIndex: x.devIndex, offset: x.offset + (pos - base), len: n, fileOffset: pos }) === false) return;
        pos += n;
        if (pos >= end) return;
      }
      base = xEnd;
    }
    return;
  }
  let base = 0;
  for (const ie of fmap.extents) {
    const C = ie.chunkSize;
    const N = ie.nstrips;
    const ieLen = interleavedCapacity(ie);
    while (pos < end && pos < base + ieLen) {
      const x = pos - base;
      const chunk = Math.floor(x / C);
      const strip = ie.strips[chunk % N]!;
      const stripe = Math.floor(chunk / N);
      const within = x % C;
      const n = Math.min(C - within, end - pos, base + ieLen - pos);
      if (fn({ devIndex: strip.devIndex, offset: strip.offset + stripe * C + within, len: n, fileOffset: pos }) === false) return;
      pos += n;
    }
    base += ieLen;
    if (pos >= end) return;
  }
}

/**
 * The whole device run that holds file byte `pos`: the simple extent, or the
 * interleave chunk, containing it — the largest piece of the file around
 * `pos` that is contiguous on one device. `fileOffset` is where the run
 * starts in the file (at or before `pos`). fuse-iomap answers IOMAP_BEGIN
 * with it. Only the run's boundaries are computed here; its device address
 * comes from the same walk as every other read (forEachRun). EINVAL when
 * `pos` is not inside the map.
 */
export function runAt(fmap: FmapRecord, pos: number): DeviceRun {
  if (!Number.isSafeInteger(pos) || pos < 0 || pos >= fmapCapacity(fmap)) {
    throw new FamfsError('EINVAL', 'fmap', `offset ${pos} is not inside the file's map (${fmapCapacity(fmap)} bytes)`);
  }
  let start = 0;
  let len = 0;
  let base = 0;
  if (fmap.type === 'simple') {
    for (const x of fmap.extents) {
      if (pos < base + x.len) {
        start = base;
        len = x.len;
        break;
      }
      base += x.len;
    }
  } else {
    for (const ie of fmap.extents) {
      const ieLen = interleavedCapacity(ie);
      if (pos < base + ieLen) {
        // a walk never crosses a chunk boundary nor the end of the interleaved extent
        const chunkStart = base + Math.floor((pos - base) / ie.chunkSize) * ie.chunkSize;
        start = chunkStart;
        len = Math.min(ie.chunkSize, base + ieLen - chunkStart);
        break;
      }
      base += ieLen;
    }
  }
  const runs = resolveFmap(fmap, start, len);
  if (runs.length !== 1) throw new FamfsError('EIO', 'fmap', `the run at ${pos} resolved to ${runs.length} pieces`);
  return runs[0]!;
}

/** The device runs covering [offset, offset+length) as an array. */
export function resolveFmap(fmap: FmapRecord, offset: number, length: number): DeviceRun[] {
  const runs: DeviceRun[] = [];
  forEachRun(fmap, offset, length, (r) => {
    runs.push(r);
  });
  return runs;
}
