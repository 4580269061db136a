import type { Device } from './device.js';
import {
  LogEntryLayout as LE, LogHeaderLayout as LH,
} from './format/constants.js';
import type { LogHeader } from './format/log.js';
import type { Superblock } from './format/superblock.js';
import { LogReplayer, type ReplayProblem } from './log/replay.js';
import { readGeometry } from './superblock-io.js';

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
  /** all errors: fsck is clean when this is empty */
  errors: string[];
}

/**
 * Check a file system: superblock and log header (a bad one throws a
 * FamfsError: there is nothing to scan), every log entry, the allocation
 * bitmap rebuilt from scratch. Never writes.
 */
export function fsck(dev: Device, systemUuid: string): FsckReport {
  const geo = readGeometry(dev);
  const { sb, header } = geo;
  const rp = new LogReplayer(sb, Math.min(dev.size, sb.daxdev.size));
  rp.replay(geo.log, dev);
  const bm = rp.bitmap;
  const errors: string[] = [];
  if (dev.size < sb.daxdev.size) {
    errors.push(`device is ${dev.size} bytes, smaller than the ${sb.daxdev.size} bytes its superblock records`);
  }
  for (const p of rp.problems) errors.push(p.message);
  if (bm.collisionUnits > 0) errors.push(`${bm.collisionUnits} allocation collisions (units claimed by more than one file)`);
  const sumFileSizes = rp.sumFileSizes;
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
    errors,
  };
}
