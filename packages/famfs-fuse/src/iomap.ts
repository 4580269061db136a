import { FamfsError, type FmapRecord, runAt } from '@famfs/core';
import { IOMAP_DEV_NULL, IOMAP_NULL_ADDR, type IomapBeginOut, IomapMapFlag, type IomapProfileName, IomapType } from './protocol/index.js';

/**
 * fuse-iomap's answers for a famfs file, once the file system has decided
 * the operation is allowed (filesystem.ts). Every byte of a famfs file is
 * allocated when it is created, so a read mapping is always MAPPED and a
 * write never needs anything new: its mapping is PURE_OVERWRITE ("write
 * where the read mapping points"). The run comes from core's resolver
 * (runAt: the extent, or the interleave chunk, holding `pos`); nothing here
 * knows how interleaving works.
 */

/** How the server speaks fuse-iomap. */
export interface IomapOptions {
  /** which numbers (opcodes, INIT bit, attr flag) the kernel's series uses */
  profile: IomapProfileName;
  /**
   * The device cookie of each daxdev index: on a real kernel the id
   * FUSE_DEV_IOC_BACKING_OPEN returned for that device (native
   * fuseBackingOpen(fuseFd, deviceFd, FuseBackingType.IOMAP); the series
   * takes block devices only); over the test transport whatever the test
   * chose. A function is called once, right after the INIT reply that
   * enabled iomap went out — the kernel registers backing devices only on a
   * connection that has iomap — and its table is used from then on. A run
   * on a device without a cookie is ENODEV.
   */
  cookies: ReadonlyMap<number, number> | (() => ReadonlyMap<number, number>);
  /**
   * The block size the kernel checks mappings against: PAGE_SIZE for a FUSE
   * mount unless IOMAP_CONFIG (which famfs-ts answers ENOSYS) set another.
   */
  blockSize?: number;
}

export interface IomapContext {
  blockSize: number;
  cookies: ReadonlyMap<number, number>;
}

/** A cookie table's values must fit fuse_iomap_io.dev and not be IOMAP_DEV_NULL. */
export function checkCookies(cookies: ReadonlyMap<number, number>): void {
  for (const [index, cookie] of cookies) {
    if (!Number.isInteger(cookie) || cookie < 1 || cookie > 0xffff_ffff) {
      throw new FamfsError('EINVAL', 'iomap', `iomap cookie ${cookie} of daxdev ${index} is not in 1..2^32-1`);
    }
  }
}

/** Mappings may not end past s_maxbytes (2^63-1 on a FUSE mount): the last whole block below it. */
function lastBlockEnd(b: bigint): bigint {
  return ((1n << 63n) - 1n) / b * b;
}

function roundUp(x: bigint, b: bigint): bigint {
  return ((x + b - 1n) / b) * b;
}

/** The PURE_OVERWRITE write slot for a read mapping: same range, no device, no address. */
function overwriteOf(offset: bigint, length: bigint): IomapBeginOut['write'] {
  return { offset, length, addr: IOMAP_NULL_ADDR, type: IomapType.PURE_OVERWRITE, flags: 0, dev: IOMAP_DEV_NULL };
}

/**
 * The MAPPED answer for file byte `pos` (< size): the whole run holding it,
 * from its start, to the end of the run or of [pos, pos+count) — clipped to
 * the file size — rounded up to a block (the kernel rejects mappings that
 * are not whole blocks). `wantEnd` asks the kernel for an IOMAP_END (for
 * writes, so the server sees how much was written).
 */
export function mappedAnswer(file: { size: number; fmap: FmapRecord }, pos: bigint, count: bigint, ctx: IomapContext, wantEnd: boolean): IomapBeginOut {
  const b = BigInt(ctx.blockSize);
  const p = Number(pos);
  const run = runAt(file.fmap, p);
  const runStart = BigInt(run.fileOffset);
  const runEnd = runStart + BigInt(run.len);
  const size = BigInt(file.size);
  const want = pos + (count > 0n ? count : 1n);
  let end = roundUp(want < size ? want : size, b);
  if (end > runEnd) end = runEnd;
  if (runStart % b !== 0n || end % b !== 0n || end <= pos) {
    throw new FamfsError('EIO', 'IOMAP_BEGIN', `the run [${runStart}, ${runEnd}) holding ${pos} is not made of whole ${b}-byte blocks`);
  }
  const dev = ctx.cookies.get(run.devIndex);
  if (dev === undefined) throw new FamfsError('ENODEV', 'IOMAP_BEGIN', `no iomap device cookie for daxdev ${run.devIndex}`);
  const length = end - runStart;
  return {
    read: { offset: runStart, length, addr: BigInt(run.offset), type: IomapType.MAPPED, flags: wantEnd ? IomapMapFlag.WANT_IOMAP_END : 0, dev },
    write: overwriteOf(runStart, length),
  };
}

/**
 * The HOLE answer at or past the end of the file (REPORT only: FIEMAP and
 * SEEK_HOLE/SEEK_DATA ask there): from the block holding `pos` to the end
 * of [pos, pos+count), whole blocks, never past s_maxbytes.
 */
export function holeAnswer(pos: bigint, count: bigint, ctx: IomapContext): IomapBeginOut {
  const b = BigInt(ctx.blockSize);
  const limit = lastBlockEnd(b);
  const offset = pos - (pos % b);
  if (offset >= limit) throw new FamfsError('EINVAL', 'IOMAP_BEGIN', `position ${pos} is past the largest file size`);
  let end = roundUp(pos + (count > 0n ? count : 1n), b);
  if (end > limit) end = limit;
  const length = end - offset;
  return {
    read: { offset, length, addr: IOMAP_NULL_ADDR, type: IomapType.HOLE, flags: 0, dev: IOMAP_DEV_NULL },
    write: overwriteOf(offset, length),
  };
}

/**
 * Whether a MAPPED mapping the kernel reports (IOMAP_END) is one this file's
 * map gives: inside one run, at that run's device address, with that run's
 * device cookie. Anything else means the kernel acted on a mapping famfs
 * never handed out.
 */
export function isMappingOf(file: { fmap: FmapRecord }, m: { offset: bigint; length: bigint; addr: bigint; dev: number }, ctx: IomapContext): boolean {
  if (m.length <= 0n || m.offset > BigInt(Number.MAX_SAFE_INTEGER)) return false;
  let run;
  try {
    run = runAt(file.fmap, Number(m.offset));
  } catch {
    return false;
  }
  const into = m.offset - BigInt(run.fileOffset);
  return m.addr === BigInt(run.offset) + into && into + m.length <= BigInt(run.len) && ctx.cookies.get(run.devIndex) === m.dev;
}
