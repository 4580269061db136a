import type { Device } from './device.js';
import {
  LogEntryLayout as LE, LogHeaderLayout as LH,
} from './format/constants.js';
import { type LogHeader, logCountersProblem } from './format/log.js';
import type { Superblock } from './format/superblock.js';
import { LogReplayer, type ReplayProblem } from './log/replay.js';
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
  /** all errors: fsck is clean when this is empty */
  errors: string[];
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
  if (bm.collisionUnits > 0) errors.push(`${bm.collisionUnits} allocation collisions (units claimed by more than one file)`);
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
      deviceCapacity: sb.daxdev.size,
      bitmapCapacity: bm.capacity,
      sumFileSizes,
      allocatedBytes: bm.allocatedBytes,
      freeBytes: bm.freeBytes,
      spaceAmplification: sumFileSizes === 0 ? Infinity : bm.allocatedBytes / sumFileSizes,
      percentUsed: (100 * bm.allocatedBytes) / bm.capacity,
    },
    collisions: bm.collisionUnits,
    files: rp.fileEntries,
    directories: rp.dirEntries,
    badEntries: rp.problems,
    ...(counters === undefined ? {} : { logCounters: counters }),
    ...(buckets === undefined ? {} : { buckets }),
    errors,
  };
}
