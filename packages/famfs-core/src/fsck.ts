import { type Device, openDevice } from './device.js';
import { resolveDaxdev } from './daxdevs.js';
import {
  LogEntryLayout as LE, LogHeaderLayout as LH, SuperblockLayout,
} from './format/constants.js';
import { type LogHeader, logCountersProblem } from './format/log.js';
import { type Superblock, checkSecondarySuperblock } from './format/superblock.js';
import { type DaxdevRecord, LogReplayer, type ReplayProblem } from './log/replay.js';

const SB_STRUCT = SuperblockLayout.SIZE;
import { repairLogCounters } from './log/writer.js';
import { type FsGeometry, readGeometry } from './superblock-io.js';

export type Role = 'master' | 'client';

/** Everything `famfs fsck` reports, as data (the CLI formats it, `--json` prints it). */
export interface FsckReport {
  devicePath: string;
  /** the size of the device opened now */
  deviceSize: number;
  superblock: Superblock;
  logHeader: LogHeader;
  systemUuid: string;
  role: Role;
  log: {
    entriesUsed: number;
    entriesTotal: number;
    /** bytes of the log in use: header + used entries */
    bytesInUse: number;
    totalBytes: number;
  };
  capacity: {
    /** the device size recorded in the superblock */
    deviceCapacity: number;
    /** whole allocation units of the device */
    bitmapCapacity: number;
    sumFileSizes: number;
    /** superblock + log + every file's extents */
    allocatedBytes: number;
    freeBytes: number;
    /** allocated / sum of file sizes (Infinity without files) */
    spaceAmplification: number;
    percentUsed: number;
  };
  /** allocation units claimed more than once */
  collisions: number;
  files: number;
  directories: number;
  badEntries: ReplayProblem[];
  /** with `buckets`: how full each bucket of a strided allocation would be */
  buckets?: Array<{ index: number; offset: number; size: number; allocatedBytes: number; freeBytes: number }>;
  /** the log header counters would stop the next append (fixable: `fsck --repair`) */
  logCounters?: string;
  /**
   * Every device of the file system (index 0 the primary), with its figures;
   * the capacity above is their sum. A secondary is checked: found on this
   * host, its superblock a secondary of this file system with the UUID its
   * ADD_DAXDEV entry names.
   */
  daxdevs: FsckDaxdev[];
  /** all errors: fsck is clean when this is empty */
  errors: string[];
}

export interface FsckDaxdev {
  index: number;
  uuid: string;
  /** bytes, as the superblock (index 0) or the log (the others) records */
  size: number;
  /** where it is on this host (undefined: not found) */
  path?: string;
  /** what is wrong with it (not found, a superblock that is not its own) */
  problem?: string;
  bitmapCapacity: number;
  allocatedBytes: number;
  freeBytes: number;
  percentUsed: number;
  collisions: number;
}

/**
 * `fsck --repair`: fix what can be fixed without losing an entry — today the
 * log header's next_seqnum when it disagrees with next_index. Takes the
 * device lock (the device must be open read-write, unmounted). Returns a
 * line per repair (none: nothing to fix).
 */
export function fsckRepair(dev: Device): string[] {
  const geo = readGeometry(dev);
  dev.lock();
  try {
    const r = repairLogCounters(dev, geo.log);
    return r === undefined ? [] : [r];
  } finally {
    dev.unlock();
  }
}

/**
 * Check a file system: superblock and log header (a bad one throws a
 * FamfsError: there is nothing to scan), every log entry, the allocation
 * bitmap rebuilt from scratch. Never writes.
 */
export interface FsckOptions {
  /** report how full each of this many buckets is (upstream's `fsck -B N`) */
  buckets?: number;
  /**
   * The first bytes (at least the 200-byte struct) of secondary daxdev
   * `rec`'s superblock and where they came from, or why they cannot be read
   * (throw). Default: find the device on this host (daxdevs.ts) and read it.
   * fsck of a mount reads the mount's `.meta/.superblock.N` instead.
   */
  readSecondary?: (rec: DaxdevRecord, fsUuid: string) => { path: string; bytes: Uint8Array; size?: number };
  /** paths to try first when a secondary device is looked for */
  daxdevCandidates?: readonly string[];
}

/**
 * Validate an open device's superblock and log header (a bad one throws, as
 * for Famfs.open) and replay its log check-only: every check, count and
 * problem of a full replay, no FileNode per file (fsck, `famfs logplay`'s
 * counts).
 */
export function replayChecked(dev: Device): { geometry: FsGeometry; replayer: LogReplayer } {
  const geometry = readGeometry(dev);
  const replayer = new LogReplayer(geometry.sb, Math.min(dev.size, geometry.sb.daxdev.size), { fileNodes: false });
  replayer.replay(geometry.log, dev);
  return { geometry, replayer };
}

export function fsck(dev: Device, systemUuid: string, opts: FsckOptions = {}): FsckReport {
  const { geometry: geo, replayer: rp } = replayChecked(dev);
  const { sb, header } = geo;
  const bm = rp.bitmap;
  const errors: string[] = [];
  if (dev.size < sb.daxdev.size) {
    errors.push(`device is ${dev.size} bytes, smaller than the ${sb.daxdev.size} bytes its superblock records`);
  }
  for (const p of rp.problems) errors.push(p.message);
  const collisions = rp.bitmaps.reduce((n, b) => n + b.collisionUnits, 0);
  if (collisions > 0) errors.push(`${collisions} allocation collisions (units claimed by more than one file)`);
  const daxdevs = rp.daxdevs.map((rec, i): FsckDaxdev => {
    const b = rp.bitmaps[i]!;
    const figures = { bitmapCapacity: b.capacity, allocatedBytes: b.allocatedBytes, freeBytes: b.freeBytes, percentUsed: (100 * b.allocatedBytes) / b.capacity, collisions: b.collisionUnits };
    if (i === 0) return { index: 0, uuid: rec.uuid, size: sb.daxdev.size, path: dev.path, ...figures };
    const found = checkSecondary(rec, sb, opts);
    if (found.problem !== undefined) errors.push(`daxdev ${i} (${rec.uuid}): ${found.problem}`);
    return { index: i, uuid: rec.uuid, size: rec.size, ...found, ...figures };
  });
  // what the log writer would refuse: reads are fine, appends are not
  const counters = logCountersProblem(geo.log, 0);
  if (counters !== undefined) errors.push(counters);
  const sumFileSizes = rp.sumFileSizes;
  let buckets: FsckReport['buckets'];
  if (opts.buckets !== undefined && opts.buckets > 0) {
    // the allocator's split: floor(units / nbuckets) units each, the remainder unused
    const per = Math.floor(bm.nunits / opts.buckets);
    buckets = Array.from({ length: opts.buckets }, (_, i) => {
      const used = bm.allocatedUnitsIn(i * per, (i + 1) * per);
      return { index: i, offset: i * per * bm.allocUnit, size: per * bm.allocUnit, allocatedBytes: used * bm.allocUnit, freeBytes: (per - used) * bm.allocUnit };
    });
  }
  return {
    devicePath: dev.path,
    deviceSize: dev.size,
    superblock: sb,
    logHeader: header,
    systemUuid,
    role: systemUuid === sb.systemUuid ? 'master' : 'client',
    log: {
      entriesUsed: header.nextIndex,
      entriesTotal: geo.capacity,
      bytesInUse: LH.SIZE + header.nextIndex * LE.SIZE,
      totalBytes: header.len,
    },
    capacity: {
      deviceCapacity: daxdevs.reduce((n, d) => n + d.size, 0),
      bitmapCapacity: sum(daxdevs, 'bitmapCapacity'),
      sumFileSizes,
      allocatedBytes: sum(daxdevs, 'allocatedBytes'),
      freeBytes: sum(daxdevs, 'freeBytes'),
      spaceAmplification: sumFileSizes === 0 ? Infinity : sum(daxdevs, 'allocatedBytes') / sumFileSizes,
      percentUsed: (100 * sum(daxdevs, 'allocatedBytes')) / sum(daxdevs, 'bitmapCapacity'),
    },
    collisions,
    daxdevs,
    files: rp.fileEntries,
    directories: rp.dirEntries,
    badEntries: rp.problems,
    ...(counters === undefined ? {} : { logCounters: counters }),
    ...(buckets === undefined ? {} : { buckets }),
    errors,
  };
}

function sum(ds: readonly FsckDaxdev[], k: 'bitmapCapacity' | 'allocatedBytes' | 'freeBytes'): number {
  return ds.reduce((n, d) => n + d[k], 0);
}

/** Is secondary `rec` on this host, with its own superblock? Its path, or the problem. */
function checkSecondary(rec: DaxdevRecord, primary: Superblock, opts: FsckOptions): { path?: string; problem?: string } {
  let got: { path: string; bytes: Uint8Array; size?: number };
  try {
    got = (opts.readSecondary ?? readSecondaryDevice(opts.daxdevCandidates ?? []))(rec, primary.uuid);
  } catch (e) {
    return { problem: (e as Error).message };
  }
  const st = checkSecondarySuperblock(got.bytes, got.size);
  if (!st.ok) return { path: got.path, problem: `${got.path}: ${st.reason === 'no-magic' ? 'no famfs superblock' : st.message}` };
  const s = st.sb;
  if (s.uuid !== primary.uuid) return { path: got.path, problem: `${got.path}: a secondary of file system ${s.uuid}, not ${primary.uuid}` };
  if (s.devUuid !== rec.uuid) return { path: got.path, problem: `${got.path}: its superblock is device ${s.devUuid}, the log says ${rec.uuid}` };
  if (s.daxdev.uuid !== primary.devUuid) return { path: got.path, problem: `${got.path}: its superblock names primary ${s.daxdev.uuid}, not ${primary.devUuid}` };
  if (got.size !== undefined && got.size < rec.size) return { path: got.path, problem: `${got.path}: ${got.size} bytes, smaller than the ${rec.size} the log records` };
  return { path: got.path };
}

/** The default readSecondary: resolve the device on this host and read its superblock. */
function readSecondaryDevice(candidates: readonly string[]): NonNullable<FsckOptions['readSecondary']> {
  return (rec, fsUuid) => {
    const r = resolveDaxdev(fsUuid, rec.uuid, candidates);
    if (r.path === undefined) throw new Error(`not found on this host${r.tried.length > 0 ? ` (tried: ${r.tried.join('; ')})` : ''}`);
    const d = openDevice(r.path, { writable: false });
    try {
      const v = d.view(0, SB_STRUCT);
      d.invalidate(v);
      return { path: r.path, bytes: v.slice(), size: d.size };
    } finally {
      d.close();
    }
  };
}
