import { AllocBitmap } from '../alloc/bitmap.js';
import type { Device } from '../device.js';
import {
  FileMetaLayout as FileMeta, LogEntryLayout as LE, LogHeaderLayout as LH, MkdirLayout as MkdirMeta, SUPERBLOCK_SIZE,
} from '../format/constants.js';
import {
  type EntryFault, type FileEntryBody, type FmapRecord, type SimpleExtent, decodeLogEntry, decodeLogHeader,
  logEntryOffset,
} from '../format/log.js';
import type { Superblock } from '../format/superblock.js';
import { isPowerOfTwo } from '../format/math.js';
import { type DirNode, type FileNode, Namespace, relpathProblem } from '../namespace.js';
import { FamfsError } from '../errors.js';
import { interleavedCapacity } from '../fmap.js';
import { badCrcEntries, nativeAvailable } from './entry-crc.js';
import * as native from '@famfs/native';
import { LogCheckAcc } from '@famfs/native';
import { LogPathTable, PATH_HASH_SEED, cstringLength, hashBytes } from './paths.js';

/** Why replay skipped an entry. */
export type ReplayFault = EntryFault | 'bad-path' | 'no-parent' | 'bad-extent' | 'bad-daxdev';

export interface ReplayProblem {
  index: number;
  fault: ReplayFault;
  message: string;
}

export interface ReplayStats {
  /** entries read by this replay call */
  entries: number;
  files: number;
  dirs: number;
  daxdevs: number;
  /** paths that already existed (upstream counts these; not an error) */
  existed: number;
  problems: ReplayProblem[];
}

export interface ReplayOptions {
  /**
   * Keep a FileNode per file (the default). false: a check-only replay (what
   * fsck and logplay's counts need): every entry is checked, every extent
   * claimed, every problem reported and every count kept exactly as with
   * nodes — `namespace.files` is still the number of distinct file paths —
   * but the namespace holds the directories only, and no object is made
   * per file (half a million of them cost more than the whole check). (A
   * log of 2 GiB or more is replayed with nodes anyway: see checkOnly.)
   */
  fileNodes?: boolean;
}

/** Where the path field of a FILE and of a MKDIR entry starts, within the entry. */
const FILE_PATH = LE.BODY + FileMeta.FM_RELPATH;
const DIR_PATH = LE.BODY + MkdirMeta.RELPATH;
/** The longest log a check-only replay takes (its tables hold 31-bit log offsets). */
const MAX_CHECKED_LOG = 2 ** 31 - 16;

/** One device known to the file system (index 0 = the primary). */
export interface DaxdevRecord {
  index: number;
  uuid: string;
  size: number;
}

/**
 * The most devices one file system spans (upstream's roadmap: "a real value
 * (e.g. 64)"; the V10 kernel's table has 24 slots, its successor 64).
 */
export const MAX_DAXDEVS = 64;

/**
 * Replays the log into a namespace and an allocation bitmap, from a cursor:
 * a second `replay()` reads only the entries appended since the first. Bad
 * entries are skipped, counted and described; they never stop the scan.
 */
export class LogReplayer {
  readonly namespace = new Namespace();
  /** the primary's allocation bitmap (bitmaps[0]) */
  readonly bitmap: AllocBitmap;
  /** one allocation bitmap per device, by daxdev index */
  readonly bitmaps: AllocBitmap[];
  readonly daxdevs: DaxdevRecord[];
  /** index of the next entry to replay */
  cursor = 0;
  readonly problems: ReplayProblem[] = [];
  /** file entries whose extents were claimed (a duplicate path included) */
  fileEntries = 0;
  dirEntries = 0;
  sumFileSizes = 0;
  private readonly firstDataOffset: number;
  /** the alloc unit - 1 when it is a power of two below 2^31 (always, on a valid file system), else -1 */
  private readonly auMask: number;
  /** check-only replay: entries applied natively, without a decode (the common case; tests look) */
  fastEntries = 0;
  /** a check-only replay (fileNodes: false, and a log under 2 GiB) */
  readonly checkOnly: boolean;
  /** check-only replay: the files, by path; made at the first replay, sized for it */
  private filePaths: LogPathTable | undefined;
  /** check-only replay: the directories, by path */
  private readonly dirPaths = new LogPathTable();

  constructor(
    readonly sb: Superblock,
    /** the device size extents must lie within */
    readonly deviceSize: number,
    opts: ReplayOptions = {},
  ) {
    this.bitmap = new AllocBitmap(deviceSize, sb.allocUnit);
    this.firstDataOffset = sb.logOffset + sb.logLen;
    // The superblock and the log are allocated before any file.
    this.bitmap.claim(0, Math.min(this.firstDataOffset, this.bitmap.capacity));
    this.bitmaps = [this.bitmap];
    this.daxdevs = [{ index: 0, uuid: sb.devUuid, size: deviceSize }];
    // (the path tables hold log offsets as 31-bit numbers: a log of 2 GiB or more replays with nodes)
    this.checkOnly = opts.fileNodes === false && sb.logLen <= MAX_CHECKED_LOG;
    this.auMask = isPowerOfTwo(sb.allocUnit) && sb.allocUnit <= 2 ** 30 ? sb.allocUnit - 1 : -1;
    if (this.checkOnly) this.dirPaths.add(-1, PATH_HASH_SEED);
  }

  /**
   * Replay entries [cursor, next_index) of `log` (the log region). When a
   * device is given, the cache lines are invalidated first (another host may
   * have appended).
   */
  replay(log: Uint8Array, dev?: Device): ReplayStats {
    if (dev) dev.invalidate(log.subarray(0, LH.SIZE));
    const header = decodeLogHeader(log, 0);
    const capacity = Math.floor((log.length - LH.SIZE) / LE.SIZE);
    const end = Math.min(Number.isSafeInteger(header.nextIndex) ? header.nextIndex : 0, capacity);
    const stats: ReplayStats = { entries: 0, files: 0, dirs: 0, daxdevs: 0, existed: 0, problems: [] };
    if (end <= this.cursor) return stats;
    if (dev) dev.invalidate(log.subarray(logEntryOffset(this.cursor), logEntryOffset(end)));
    const whole = new DataView(log.buffer, log.byteOffset, log.byteLength);
    if (this.checkOnly) {
      if (log.byteLength > MAX_CHECKED_LOG) throw new FamfsError('EINVAL', 'replay', `a log region of ${log.byteLength} bytes, larger than its superblock's ${this.sb.logLen}`);
      this.replayCheckOnly(log, whole, end, stats);
    } else {
      // every CRC in one call; the decoder checks only the entries found bad (for their message)
      const bad = badCrcEntries(log, this.cursor, end);
      let nextBad = 0;
      for (let i = this.cursor; i < end; i++) {
        const crcOk = nextBad >= bad.length || bad[nextBad] !== i;
        if (!crcOk) nextBad++;
        this.applyAt(log, whole, i, stats, crcOk);
        stats.entries++;
      }
    }
    this.cursor = end;
    this.problems.push(...stats.problems);
    return stats;
  }

  private applyAt(log: Uint8Array, whole: DataView, index: number, stats: ReplayStats, crcChecked: boolean): void {
    const d = decodeLogEntry(log, logEntryOffset(index), index, whole, crcChecked);
    if (!d.ok) return reject(stats, index, d.fault, d.message);
    const e = d.entry;
    switch (e.type) {
      case 'mkdir': {
        const m = e.mkdir;
        const p = relpathProblem(m.relpath);
        if (p !== undefined) return reject(stats, index, 'bad-path', `entry ${index}: mkdir: ${p.message}`);
        this.dirEntries++;
        const node: DirNode = { kind: 'dir', relpath: m.relpath, mode: m.mode & 0o7777, uid: m.uid, gid: m.gid, index, children: new Map() };
        const r = this.filePaths === undefined ? this.namespace.insert(node) : this.insertDirChecked(node, log, this.filePaths);
        if (r === 'no-parent') return reject(stats, index, 'no-parent', `entry ${index}: mkdir '${m.relpath}': parent directory does not exist`);
        if (r === 'exists') stats.existed++;
        else stats.dirs++;
        return;
      }
      case 'file': {
        const f = e.file;
        const p = relpathProblem(f.relpath);
        if (p !== undefined) return reject(stats, index, 'bad-path', `entry ${index}: file: ${p.message}`);
        const x = this.fmapProblem(f);
        if (x !== undefined) return reject(stats, index, 'bad-extent', `entry ${index}: file '${f.relpath}': ${x}`);
        const slash = f.relpath.lastIndexOf('/');
        if (this.namespace.dir(slash < 0 ? '' : f.relpath.slice(0, slash)) === undefined && this.namespace.lookup(f.relpath) === undefined) {
          return reject(stats, index, 'no-parent', `entry ${index}: file '${f.relpath}': parent directory does not exist`);
        }
        // Extents are claimed for every well-formed file entry, even one whose
        // path exists already: two entries mapping the same memory is exactly
        // the cross-link fsck must report.
        for (const ext of extentsOf(f.fmap)) this.bitmaps[ext.devIndex]!.claim(ext.offset, ext.len);
        this.fileEntries++;
        this.sumFileSizes += f.size;
        const r = this.filePaths === undefined
          ? this.namespace.insert(new LoggedFile(f.relpath, f.size, f.flags, f.mode & 0o7777, f.uid, f.gid, index, this.source(log, whole)))
          : this.addFileChecked(log, this.filePaths, logEntryOffset(index) + FILE_PATH);
        if (r === 'exists') stats.existed++;
        else stats.files++;
        return;
      }
      case 'daxdev': {
        // upstream's accumulator rules (famfs_daxdev_table_add): dense and in
        // order, no UUID twice, a bounded table; and a size that holds the
        // secondary superblock and one allocation unit
        const dd = e.daxdev;
        const what = `entry ${index}: daxdev ${dd.index} (${dd.uuid})`;
        if (dd.index !== this.daxdevs.length) return reject(stats, index, 'bad-daxdev', `${what}: index is not the next one (${this.daxdevs.length})`);
        if (this.daxdevs.length >= MAX_DAXDEVS) return reject(stats, index, 'bad-daxdev', `${what}: the table is full (${MAX_DAXDEVS} devices)`);
        const twin = this.daxdevs.find((d) => d.uuid === dd.uuid);
        if (twin !== undefined) return reject(stats, index, 'bad-daxdev', `${what}: the UUID of daxdev ${twin.index} again`);
        if (!Number.isSafeInteger(dd.size) || dd.size < SUPERBLOCK_SIZE + this.sb.allocUnit) {
          return reject(stats, index, 'bad-daxdev', `${what}: size ${dd.size} cannot hold a secondary superblock and one allocation unit`);
        }
        this.daxdevs.push({ index: dd.index, uuid: dd.uuid, size: dd.size });
        const bm = new AllocBitmap(dd.size, this.sb.allocUnit);
        bm.claim(0, SUPERBLOCK_SIZE); // its secondary superblock
        this.bitmaps.push(bm);
        stats.daxdevs++;
        return;
      }
    }
  }

  /**
   * Entries [cursor, end) of a check-only replay: the common FILE entries in
   * native code (native.checkFileEntries: through this replayer's own path
   * tables, bitmap and counts), every other entry — the one it stops at —
   * with applyAt, as a full replay does. Without the addon, all with applyAt.
   */
  private replayCheckOnly(log: Uint8Array, whole: DataView, end: number, stats: ReplayStats): void {
    // (path offsets are numbers below 2^31 in the tables: a log is far smaller)
    const files = (this.filePaths ??= new LogPathTable(end - this.cursor));
    const fast = this.auMask >= 0 && log.buffer instanceof ArrayBuffer && nativeAvailable();
    if (fast) native.populateForRead(log.subarray(logEntryOffset(this.cursor), logEntryOffset(end)));
    const geometry = new Float64Array([this.firstDataOffset, this.bitmap.capacity, this.sb.allocUnit, this.auMask]);
    const acc = new Float64Array(LogCheckAcc.LENGTH);
    for (let i = this.cursor; i < end; i++) {
      if (fast) {
        files.reserve(end - i);
        acc.fill(0);
        acc[LogCheckAcc.SUM_FILE_SIZES] = this.sumFileSizes;
        const j = native.checkFileEntries(log, i, end, geometry, this.dirPaths.slotArray, files.slotArray, files.room, this.bitmap.claimCounts, acc);
        const added = acc[LogCheckAcc.FILES]!;
        this.sumFileSizes = acc[LogCheckAcc.SUM_FILE_SIZES]!;
        this.fileEntries += acc[LogCheckAcc.FILE_ENTRIES]!;
        this.namespace.files += added;
        files.added(added);
        this.bitmap.claimedElsewhere(acc[LogCheckAcc.ALLOCATED]!, acc[LogCheckAcc.COLLISIONS]!);
        stats.files += added;
        stats.existed += acc[LogCheckAcc.EXISTED]!;
        stats.entries += j - i;
        this.fastEntries += j - i;
        i = j;
        if (i >= end) break;
      }
      this.applyAt(log, whole, i, stats, false);
      stats.entries++;
    }
  }

  /** Check-only replay: insert a file (its parent exists) whose path field is at `off`: 'exists' when a directory or a file has its path. */
  private addFileChecked(log: Uint8Array, files: LogPathTable, off: number): 'ok' | 'exists' {
    const len = cstringLength(log, off);
    const h = hashBytes(log, off, len);
    if (this.dirPaths.has(log, h, off, len) || files.has(log, h, off, len)) return 'exists';
    files.add(off, h);
    this.namespace.files++;
    return 'ok';
  }

  /** Check-only replay: Namespace.insert for a directory, when files are not in the namespace. */
  private insertDirChecked(node: DirNode, log: Uint8Array, files: LogPathTable): 'ok' | 'exists' | 'no-parent' {
    const relpath = node.relpath;
    const slash = relpath.lastIndexOf('/');
    if (this.namespace.dir(slash < 0 ? '' : relpath.slice(0, slash)) === undefined) {
      return this.namespace.dir(relpath) !== undefined ? 'exists' : 'no-parent';
    }
    const off = logEntryOffset(node.index) + DIR_PATH;
    const len = cstringLength(log, off);
    const h = hashBytes(log, off, len);
    if (files.has(log, h, off, len)) return 'exists';
    const r = this.namespace.insert(node);
    if (r === 'ok') this.dirPaths.add(off, h);
    return r;
  }

  private logSource: LogSource | undefined;

  /** Where replayed files find their entries again (one object shared by every file of a log). */
  private source(log: Uint8Array, whole: DataView): LogSource {
    if (this.logSource === undefined || this.logSource.log !== log) {
      this.logSource = { log, whole, check: (f) => this.fmapProblem(f) };
    }
    return this.logSource;
  }

  /**
   * The same log is now at `log` (another mapping of the same bytes: a copy
   * replaced by the live log, in famfs mode). Every file replayed so far
   * finds its entry there from now on; the old memory can go.
   */
  moveLog(log: Uint8Array): void {
    if (this.logSource === undefined) return;
    this.logSource.log = log;
    this.logSource.whole = new DataView(log.buffer, log.byteOffset, log.byteLength);
  }

  /**
   * What makes a file's map untrustworthy, or undefined. Every extent must be
   * on a known device, aligned to the alloc unit, never at offset 0, past the
   * superblock and log, inside the device; the map must cover the file size.
   */
  private fmapProblem(f: FileEntryBody): string | undefined {
    const au = this.sb.allocUnit;
    const check = (x: SimpleExtent, what: string): string | undefined => {
      const bm = this.bitmaps[x.devIndex];
      if (bm === undefined) {
        return this.bitmaps.length === 1
          ? `${what} is on daxdev ${x.devIndex}, which this file system does not have (only the primary, 0)`
          : `${what} is on daxdev ${x.devIndex}, which this file system does not have (0..${this.bitmaps.length - 1})`;
      }
      if (x.offset === 0) return `${what} is at device offset 0`;
      if (x.len === 0) return `${what} has length 0`;
      if (x.offset % au !== 0) return `${what} offset 0x${x.offset.toString(16)} is not a multiple of the alloc unit`;
      if (x.devIndex === 0 && x.offset < this.firstDataOffset) return `${what} at 0x${x.offset.toString(16)} overlaps the superblock or log`;
      if (x.devIndex !== 0 && x.offset < SUPERBLOCK_SIZE) return `${what} at 0x${x.offset.toString(16)} overlaps daxdev ${x.devIndex}'s superblock`;
      if (x.offset + x.len > bm.capacity) {
        const end = x.devIndex === 0 ? 'the device end' : `the end of daxdev ${x.devIndex}`;
        return `${what} [0x${x.offset.toString(16)}, 0x${(x.offset + x.len).toString(16)}) lies past ${end} (0x${bm.capacity.toString(16)})`;
      }
      return undefined;
    };
    const m = f.fmap;
    if (m.type === 'simple') {
      if (m.extents.length === 0) return f.size === 0 ? undefined : 'has no extents';
      let total = 0;
      for (const [i, x] of m.extents.entries()) {
        const p = check(x, `extent ${i}`);
        if (p) return p;
        total += x.len;
      }
      if (total < f.size) return `extents cover ${total} bytes, less than the file size ${f.size}`;
      return undefined;
    }
    if (m.extents.length === 0) return 'has no interleaved extents';
    let total = 0;
    for (const [i, ie] of m.extents.entries()) {
      if (ie.nstrips === 0) return `interleaved extent ${i} has no strips`;
      if (!isPowerOfTwo(ie.chunkSize) || ie.chunkSize % au !== 0) {
        return `interleaved extent ${i} chunk size ${ie.chunkSize} is not a power of two multiple of the alloc unit`;
      }
      const stripLen = ie.strips[0]!.len;
      for (const [j, s] of ie.strips.entries()) {
        const p = check(s, `strip ${j}`);
        if (p) return p;
        if (s.len !== stripLen || s.len % ie.chunkSize !== 0) return `strip ${j} length ${s.len} is not ${stripLen} (a multiple of the chunk size)`;
      }
      total += interleavedCapacity(ie);
    }
    if (total < f.size) return `strips cover ${total} bytes, less than the file size ${f.size}`;
    return undefined;
  }
}

/** The log a replay read, and the rules a file entry's map must meet (moveLog may repoint it). */
interface LogSource {
  log: Uint8Array;
  whole: DataView;
  check(f: FileEntryBody): string | undefined;
}

/**
 * A file made by a log entry. Its map is not kept: the entry in the log
 * (shared memory, append-only) holds it, and it is decoded again on first
 * use — with its CRC and every extent rule checked again, so an entry
 * changed after replay is an EIO, never a map that was not validated.
 * Keeping four objects less per file is what lets a 493,000-entry log
 * replay in under a second (the garbage collector copies what is kept).
 */
class LoggedFile implements FileNode {
  readonly kind = 'file' as const;
  private cached: FmapRecord | undefined;

  constructor(
    readonly relpath: string,
    readonly size: number,
    readonly flags: number,
    readonly mode: number,
    readonly uid: number,
    readonly gid: number,
    readonly index: number,
    private readonly src: LogSource,
  ) {}

  get fmap(): FmapRecord {
    if (this.cached !== undefined) return this.cached;
    const d = decodeLogEntry(this.src.log, logEntryOffset(this.index), this.index, this.src.whole);
    const why = !d.ok
      ? d.message
      : d.entry.type !== 'file' || d.entry.file.relpath !== this.relpath || d.entry.file.size !== this.size
        ? 'it no longer describes this file'
        : this.src.check(d.entry.file);
    if (why !== undefined || !d.ok || d.entry.type !== 'file') {
      throw new FamfsError('EIO', 'fmap', `${this.relpath}: log entry ${this.index} changed after it was replayed (${why ?? 'bad entry'})`, this.relpath);
    }
    this.cached = d.entry.file.fmap;
    return this.cached;
  }
}

function reject(stats: ReplayStats, index: number, fault: ReplayFault, message: string): void {
  stats.problems.push({ index, fault, message });
}

/** Every device range an fmap occupies. */
export function extentsOf(fmap: FmapRecord): SimpleExtent[] {
  return fmap.type === 'simple' ? fmap.extents : fmap.extents.flatMap((ie) => ie.strips);
}
