import * as fs from 'node:fs';
import { FamfsError, fromSystemError, probeDevice } from '@famfs/core';
import * as native from '@famfs/native';

/**
 * The DAX window: the memory range SETUPMAPPING fills and REMOVEMAPPING
 * empties (virtio-fs; FUSE 7.31). The kernel picks the file range and the
 * window offset; the server maps that part of the file there.
 *
 * What the window is, honestly, on Linux:
 *  - an address range this process reserves (size in 2 MiB units, 2 MiB
 *    aligned so a devdax device can be mapped into it), whose every page is
 *    either the window's base layer — a memfd of the window's size mapped
 *    PROT_NONE, so a touch faults — or a range of a famfs device mapped over
 *    it with MAP_FIXED | MAP_SHARED (read-only, or read-write when a master
 *    asked for WRITE);
 *  - a table of those device ranges (the entries), which is the window's
 *    state: a memfd cannot alias the device's pages, so another process
 *    (a VMM) sees the same bytes only by mapping the same device fds at the
 *    same offsets. Every change is published as an ordered list of map and
 *    unmap operations (see `subscribe`), in the form vhost-user's
 *    SHMEM_MAP/SHMEM_UNMAP need: an existing mapping is only ever unmapped
 *    whole, and what survives of it is mapped again.
 *
 * Replace and split (seed 000): a SETUPMAPPING that exactly covers an
 * existing mapping replaces it; one that partly overlaps leaves what lies
 * outside the new range mapped as it was. Every request is checked in full
 * before anything is mapped, and a system call that fails half way puts the
 * range back as it was: a request either happens whole or not at all.
 */

/** The window's size unit and the largest alignment a kernel accepts (FUSE_DAX_SHIFT: 2 MiB). */
export const WINDOW_UNIT = 2 * 1024 * 1024;
export const MAX_ALIGN_SHIFT = 21;
const MIN_ALIGN_SHIFT = 12;
/** VMAs are a per-process resource (vm.max_map_count, 65530 by default): the window takes at most this many. */
const DEFAULT_MAX_MAPPINGS = 16384;

/** A device the window can map from: a famfs daxdev index and its path on this host. */
export interface WindowDevice {
  index: number;
  path: string;
  /** open it read-write (a master); read-only devices refuse writable mappings */
  writable: boolean;
}

export interface DaxWindowOptions {
  /** bytes: a positive multiple of 2 MiB */
  size: number;
  devices: readonly WindowDevice[];
  /** log2 of the alignment of file offsets, window offsets and lengths (map_alignment); 12..21, default 21 */
  alignShift?: number;
  /** most mappings (entries) the window holds before SETUPMAPPING fails with ENOMEM */
  maxMappings?: number;
  /** the memfd's name (shows in /proc/PID/maps as memfd:NAME) */
  name?: string;
}

/** A piece of a file that is contiguous on one device: what SETUPMAPPING maps, in window order. */
export interface WindowPiece {
  devIndex: number;
  devOffset: number;
  len: number;
}

/** One mapping in the window. */
export interface WindowEntry {
  moffset: number;
  len: number;
  devIndex: number;
  devOffset: number;
  writable: boolean;
  /** the file it belongs to and where in it (for status and logs) */
  nodeid: bigint;
  foffset: number;
}

/** One step a mirror of the window applies, in order. */
export type WindowOp =
  | { kind: 'map'; moffset: number; len: number; devIndex: number; devOffset: number; writable: boolean }
  | { kind: 'unmap'; moffset: number; len: number };

/** A change of the window: its new generation and the steps from the previous one. */
export interface WindowUpdate {
  generation: number;
  ops: WindowOp[];
}

export interface WindowRange {
  moffset: number;
  /** Infinity (REMOVEMAPPING's all ones): the whole window */
  len: number;
}

/** What `famfs status` shows. */
export interface WindowStats {
  size: number;
  alignShift: number;
  mappedBytes: number;
  mappings: number;
  maxMappings: number;
  setups: number;
  removes: number;
  /** requests refused (any errno) */
  failures: number;
  generation: number;
  subscribers: number;
}

export interface MappingMeta {
  writable: boolean;
  nodeid: bigint;
  foffset: number;
}

interface OpenDevice extends WindowDevice {
  fd: number;
  size: number;
}

export class DaxWindow {
  readonly size: number;
  readonly alignShift: number;
  readonly alignment: number;
  readonly maxMappings: number;
  private entryList: WindowEntry[] = [];
  private gen = 0;
  private readonly listeners = new Set<(u: WindowUpdate) => void>();
  private readonly counters = { setups: 0, removes: 0, failures: 0 };
  private closed = false;

  private constructor(
    private readonly reservation: native.WindowReservation,
    /** the window's own fd: its base layer (PROT_NONE pages), handed to a VMM with the devices */
    readonly memfd: number,
    private readonly devices: ReadonlyMap<number, OpenDevice>,
    size: number,
    alignShift: number,
    maxMappings: number,
  ) {
    this.size = size;
    this.alignShift = alignShift;
    this.alignment = 2 ** alignShift;
    this.maxMappings = maxMappings;
  }

  /**
   * Create a window: a sealed memfd of `size` bytes, a 2 MiB-aligned
   * reservation showing it PROT_NONE, and the devices opened (read-write
   * for writable ones). Each device is mapped once on the spot, so one
   * that user space cannot map (a dax device bound to fsdev_dax, in famfs
   * mode) is refused here rather than on the first SETUPMAPPING.
   */
  static create(opts: DaxWindowOptions): DaxWindow {
    const op = 'dax_window';
    const size = opts.size;
    if (!Number.isSafeInteger(size) || size <= 0 || size % WINDOW_UNIT !== 0) {
      throw new FamfsError('EINVAL', op, `dax_window: size ${size} is not a positive multiple of 2 MiB`, { kind: 'usage' });
    }
    const alignShift = opts.alignShift ?? MAX_ALIGN_SHIFT;
    if (!Number.isInteger(alignShift) || alignShift < MIN_ALIGN_SHIFT || alignShift > MAX_ALIGN_SHIFT) {
      // A kernel refuses INIT with map_alignment > 21 (its DAX ranges are 2 MiB): a device that needs more cannot serve a window.
      throw new FamfsError('EINVAL', op, `dax_window: alignment 2^${alignShift} is outside 2^${MIN_ALIGN_SHIFT}..2^${MAX_ALIGN_SHIFT} (the kernel maps 2 MiB ranges)`, { kind: 'usage' });
    }
    const units = size / 2 ** alignShift;
    const maxMappings = opts.maxMappings ?? Math.min(units, DEFAULT_MAX_MAPPINGS);
    if (!Number.isSafeInteger(maxMappings) || maxMappings < 1) throw new FamfsError('EINVAL', op, `dax_window: maxMappings ${maxMappings} must be at least 1`, { kind: 'usage' });
    if (opts.devices.length === 0) throw new FamfsError('EINVAL', op, 'dax_window: no device to map from', { kind: 'usage' });

    const opened = new Map<number, OpenDevice>();
    let memfd = -1;
    let reservation: native.WindowReservation | undefined;
    try {
      for (const d of opts.devices) {
        if (opened.has(d.index)) throw new FamfsError('EINVAL', op, `dax_window: daxdev index ${d.index} given twice`, { kind: 'usage' });
        const { size: devSize } = probeDevice(d.path);
        let fd: number;
        try {
          fd = fs.openSync(d.path, d.writable ? 'r+' : 'r');
        } catch (e) {
          throw fromSystemError(e, 'open', d.path);
        }
        opened.set(d.index, { ...d, fd, size: devSize });
        probeMappable(d.path, fd, devSize, d.writable);
      }
      memfd = native.memfdCreate(opts.name ?? 'famfs-dax-window', size);
      reservation = native.reserveWindow(size, WINDOW_UNIT, memfd);
    } catch (e) {
      for (const d of opened.values()) fs.closeSync(d.fd);
      if (memfd >= 0) fs.closeSync(memfd);
      throw fromSystemError(e, op);
    }
    return new DaxWindow(reservation, memfd, opened, size, alignShift, maxMappings);
  }

  // ---------------------------------------------------------------- reading

  /** The mappings, in window order (a copy). */
  entries(): WindowEntry[] {
    return this.entryList.map((e) => ({ ...e }));
  }

  get generation(): number {
    return this.gen;
  }

  get mappedBytes(): number {
    let n = 0;
    for (const e of this.entryList) n += e.len;
    return n;
  }

  /** The devices, for handing to a VMM: index, fd (owned by the window), writable, size. */
  deviceList(): Array<{ index: number; fd: number; writable: boolean; size: number }> {
    return [...this.devices.values()].map((d) => ({ index: d.index, fd: d.fd, writable: d.writable, size: d.size }));
  }

  stats(): WindowStats {
    return {
      size: this.size, alignShift: this.alignShift, mappedBytes: this.mappedBytes, mappings: this.entryList.length,
      maxMappings: this.maxMappings, ...this.counters, generation: this.gen, subscribers: this.listeners.size,
    };
  }

  /**
   * Read `segLen` bytes at each window offset through this process's own
   * mapping without risk: status 0 = the page faults (base layer), 1 =
   * readable, 2 = writable too (with `writeBack`; the bytes are written
   * back unchanged). Tests and diagnostics only.
   */
  probe(offsets: readonly number[], segLen: number, dst: Uint8Array, writeBack = false): Uint8Array {
    this.live('probe');
    return this.reservation.probe(offsets, segLen, dst, writeBack);
  }

  /** The reservation's address (diagnostics: /proc/self/maps). */
  get baseAddress(): number {
    return this.reservation.base;
  }

  /** Be told of every change, in order. Returns the unsubscribe function. */
  subscribe(fn: (u: WindowUpdate) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  // ---------------------------------------------------------------- checks

  private live(op: string): void {
    if (this.closed) throw new FamfsError('EBADF', op, 'the DAX window is closed');
  }

  /**
   * A window range as SETUPMAPPING/REMOVEMAPPING name it: offset and length
   * multiples of the alignment (EINVAL), length non-zero, inside the window
   * (ERANGE).
   */
  checkRange(op: string, moffset: number, len: number): void {
    const a = this.alignment;
    if (len <= 0 || moffset % a !== 0 || len % a !== 0) {
      throw new FamfsError('EINVAL', op, `${op}: window offset ${moffset} and length ${len} must be non-zero multiples of ${a} (map_alignment ${this.alignShift})`);
    }
    if (moffset + len > this.size) {
      throw new FamfsError('ERANGE', op, `${op}: [${moffset}, ${moffset + len}) is outside the ${this.size}-byte DAX window`);
    }
  }

  /** A file offset SETUPMAPPING names must be aligned like the window offsets (EINVAL). */
  checkFileOffset(op: string, foffset: number): void {
    if (foffset % this.alignment !== 0) {
      throw new FamfsError('EINVAL', op, `${op}: file offset ${foffset} is not a multiple of ${this.alignment} (map_alignment ${this.alignShift})`);
    }
  }

  private checkPieces(op: string, pieces: readonly WindowPiece[], writable: boolean): void {
    const page = native.pageSize();
    for (const p of pieces) {
      const d = this.devices.get(p.devIndex);
      if (d === undefined) throw new FamfsError('ENODEV', op, `${op}: the file lives on daxdev ${p.devIndex}, which this window cannot map`);
      if (writable && !d.writable) throw new FamfsError('EROFS', op, `${op}: ${d.path} is open read-only: no writable mapping`);
      if (p.len <= 0 || p.len % page !== 0 || p.devOffset % page !== 0) {
        throw new FamfsError('EINVAL', op, `${op}: device range ${p.devOffset}+${p.len} is not page-aligned`);
      }
      if (p.devOffset + p.len > d.size) throw new FamfsError('ENXIO', op, `${op}: device range ${p.devOffset}+${p.len} is past the end of ${d.path}`);
    }
  }

  // ---------------------------------------------------------------- changes

  /**
   * SETUPMAPPING: show `pieces` (file order, contiguous in the window) at
   * `moffset`. Errors, each with nothing changed: EINVAL misaligned, ERANGE
   * outside the window, ENODEV a device the window lacks, EROFS writable on
   * a read-only device, ENXIO past a device's end, ENOMEM more mappings than
   * the window holds (or the kernel's own ENOMEM), and any errno of mmap.
   */
  setup(moffset: number, pieces: readonly WindowPiece[], meta: MappingMeta): void {
    const op = 'SETUPMAPPING';
    try {
      this.live(op);
      const len = pieces.reduce((n, p) => n + p.len, 0);
      this.checkRange(op, moffset, len);
      this.checkPieces(op, pieces, meta.writable);
      const cut = cutRange(this.entryList, moffset, len);
      const added: WindowEntry[] = [];
      let at = moffset;
      let foffset = meta.foffset;
      for (const p of pieces) {
        added.push({ moffset: at, len: p.len, devIndex: p.devIndex, devOffset: p.devOffset, writable: meta.writable, nodeid: meta.nodeid, foffset });
        at += p.len;
        foffset += p.len;
      }
      const next = sortEntries([...cut.kept, ...added]);
      if (next.length > this.maxMappings) {
        throw new FamfsError('ENOMEM', op, `${op}: the DAX window would hold ${next.length} mappings, more than its ${this.maxMappings}`);
      }
      this.apply(op, [{ moffset, len }], () => {
        for (const e of added) this.reservation.map(e.moffset, e.len, this.device(e.devIndex).fd, e.devOffset, e.writable);
      });
      this.entryList = next;
      this.counters.setups++;
      this.publish([...cut.ops, ...added.map(mapOp)]);
    } catch (e) {
      this.counters.failures++;
      throw e;
    }
  }

  /**
   * REMOVEMAPPING: every range back to PROT_NONE (a length of Infinity with
   * offset 0 is the whole window). All ranges are checked first (EINVAL,
   * ERANGE); ranges with nothing mapped are fine.
   */
  remove(ranges: readonly WindowRange[]): void {
    const op = 'REMOVEMAPPING';
    try {
      this.live(op);
      const rs = ranges.map((r) => {
        if (r.len === Number.POSITIVE_INFINITY) {
          if (r.moffset !== 0) throw new FamfsError('EINVAL', op, `${op}: the whole-window length needs window offset 0, not ${r.moffset}`);
          return { moffset: 0, len: this.size };
        }
        this.checkRange(op, r.moffset, r.len);
        return { moffset: r.moffset, len: r.len };
      });
      let list = this.entryList;
      const ops: WindowOp[] = [];
      for (const r of rs) {
        const cut = cutRange(list, r.moffset, r.len);
        list = cut.kept;
        ops.push(...cut.ops);
      }
      this.apply(op, rs, () => {
        for (const r of rs) this.reservation.unmap(r.moffset, r.len);
      });
      this.entryList = sortEntries(list);
      this.counters.removes++;
      if (ops.length > 0) this.publish(ops);
    } catch (e) {
      this.counters.failures++;
      throw e;
    }
  }

  private device(index: number): OpenDevice {
    const d = this.devices.get(index);
    if (d === undefined) throw new FamfsError('ENODEV', 'window', `no daxdev ${index}`);
    return d;
  }

  /**
   * Run `change` (system calls over `ranges`); if it fails, put every range
   * back as the current entries say, so the window and its table agree.
   */
  private apply(op: string, ranges: readonly { moffset: number; len: number }[], change: () => void): void {
    try {
      change();
    } catch (e) {
      const err = fromSystemError(e, op);
      try {
        for (const r of ranges) {
          this.reservation.unmap(r.moffset, r.len);
          for (const x of this.entryList) {
            const s = Math.max(x.moffset, r.moffset);
            const t = Math.min(x.moffset + x.len, r.moffset + r.len);
            if (s < t) this.reservation.map(s, t - s, this.device(x.devIndex).fd, x.devOffset + (s - x.moffset), x.writable);
          }
        }
      } catch (again) {
        // Could not restore: leave the ranges PROT_NONE and drop their entries, so the table never claims what is not there.
        this.dropRanges(ranges);
        throw new FamfsError('EIO', op, `${op}: ${err.message}; restoring the window failed too (${(again as Error).message}): the range is unmapped`, { cause: e });
      }
      throw new FamfsError(err.code, op, err.message, { cause: e, kind: 'system' });
    }
  }

  private dropRanges(ranges: readonly { moffset: number; len: number }[]): void {
    let list = this.entryList;
    const ops: WindowOp[] = [];
    for (const r of ranges) {
      try {
        this.reservation.unmap(r.moffset, r.len);
      } catch {
        // nothing more can be done; the entries still go
      }
      const cut = cutRange(list, r.moffset, r.len);
      list = cut.kept;
      ops.push(...cut.ops);
    }
    this.entryList = sortEntries(list);
    if (ops.length > 0) this.publish(ops);
  }

  /**
   * Tell every subscriber. The change has happened: a subscriber that throws
   * must not turn it into a failed request, so it is unsubscribed instead
   * (a mirror that missed an update has to start over from a snapshot).
   */
  private publish(ops: WindowOp[]): void {
    this.gen++;
    const u: WindowUpdate = { generation: this.gen, ops };
    for (const fn of [...this.listeners]) {
      try {
        fn(u);
      } catch {
        this.listeners.delete(fn);
      }
    }
  }

  /** Unmap everything, release the reservation, close the memfd and the devices. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.reservation.release();
    for (const fd of [this.memfd, ...[...this.devices.values()].map((d) => d.fd)]) {
      try {
        fs.closeSync(fd);
      } catch {
        // already gone (EBADF): closing is all that was left to do
      }
    }
  }
}

function mapOp(e: WindowEntry): WindowOp {
  return { kind: 'map', moffset: e.moffset, len: e.len, devIndex: e.devIndex, devOffset: e.devOffset, writable: e.writable };
}

function sortEntries(list: WindowEntry[]): WindowEntry[] {
  return list.sort((a, b) => a.moffset - b.moffset);
}

/**
 * Take [moffset, moffset+len) out of `entries`: entries inside it go, an
 * entry that crosses an edge is cut down to what lies outside (split in two
 * when the range is inside it). `ops` says so in unmap-whole / map-remnant
 * steps.
 */
function cutRange(entries: readonly WindowEntry[], moffset: number, len: number): { kept: WindowEntry[]; ops: WindowOp[] } {
  const end = moffset + len;
  const kept: WindowEntry[] = [];
  const ops: WindowOp[] = [];
  for (const e of entries) {
    const eEnd = e.moffset + e.len;
    if (eEnd <= moffset || e.moffset >= end) {
      kept.push(e);
      continue;
    }
    ops.push({ kind: 'unmap', moffset: e.moffset, len: e.len });
    if (e.moffset < moffset) {
      const left = { ...e, len: moffset - e.moffset };
      kept.push(left);
      ops.push(mapOp(left));
    }
    if (eEnd > end) {
      const skip = end - e.moffset;
      const right = { ...e, moffset: end, len: eEnd - end, devOffset: e.devOffset + skip, foffset: e.foffset + skip };
      kept.push(right);
      ops.push(mapOp(right));
    }
  }
  return { kept, ops };
}

/** Map a first piece of the device once, read-only or read-write as the window will. */
function probeMappable(path: string, fd: number, size: number, writable: boolean): void {
  const len = Math.min(size, WINDOW_UNIT);
  let view: Uint8Array;
  try {
    view = native.mmap(fd, 0, len, writable);
  } catch (e) {
    const err = fromSystemError(e, 'mmap', path);
    throw new FamfsError(err.code, 'dax_window', `dax_window: ${path} cannot be mapped by user space (${err.message}); a dax device in famfs mode (fsdev_dax) cannot serve a window`, { path, cause: e });
  }
  native.munmap(view);
}
