import type { Device } from './device.js';
import { FamfsError } from './errors.js';
import { encodeCString } from './format/codec.js';
import {
  DEFAULT_LOG_LEN, DEVNAME_FIELD_LEN, LOG_OFFSET, MIN_LOG_LEN, ALLOC_UNIT, SB_MAGIC, SuperblockLayout as SBC,
} from './format/constants.js';
import { encodeLogHeader, newLogHeader } from './format/log.js';
import { isPowerOfTwo } from './format/math.js';
import { checkSuperblock, decodeSuperblock, encodeSuperblock } from './format/superblock.js';
import { NIL_UUID, newUuid } from './format/uuid.js';

export interface MkfsOptions {
  /** the host's system UUID: it becomes the master */
  systemUuid: string;
  /** log length in bytes (power of two, >= 8 MiB); default 8 MiB */
  logLen?: number;
  /** overwrite an existing superblock */
  force?: boolean;
  /** the device path recorded in the superblock (default: dev.path) */
  devicePath?: string;
  /** fixed UUIDs (tests, reproducible images); fresh random ones by default */
  fsUuid?: string;
  devUuid?: string;
}

/** Minimum device size: superblock region, log, and one allocation unit for data. */
export function minDeviceSize(logLen: number): number {
  return LOG_OFFSET + logLen + ALLOC_UNIT;
}

export function checkLogLen(logLen: number): void {
  if (!isPowerOfTwo(logLen) || logLen < MIN_LOG_LEN) {
    throw new FamfsError('EINVAL', 'mkfs', `invalid log length ${logLen}: must be a power of two of at least ${MIN_LOG_LEN} (8 MiB)`);
  }
}

/**
 * What stands on the device now, as mkfs sees it: 'blank' (no magic),
 * 'famfs' (a valid superblock), or 'foreign-version' (famfs magic with
 * another version, or a damaged superblock — mkfs refuses both without force).
 */
export function existingSuperblock(dev: Device): { state: 'blank' | 'famfs' | 'damaged'; message: string; systemUuid?: string } {
  if (dev.size < SBC.SIZE) return { state: 'blank', message: '' };
  const sbView = dev.view(0, SBC.SIZE);
  dev.invalidate(sbView);
  const st = checkSuperblock(sbView, dev.size);
  if (st.ok) return { state: 'famfs', message: 'a valid famfs superblock', systemUuid: st.sb.systemUuid };
  if (st.reason === 'no-magic') return { state: 'blank', message: '' };
  if (st.reason === 'secondary') return { state: 'famfs', message: `a secondary superblock of file system ${st.sb.uuid}`, systemUuid: st.sb.systemUuid };
  return { state: 'damaged', message: st.message };
}

/**
 * Format a device: check everything first (nothing is written if a check
 * fails), then zero the log, write its header, flush, and write the
 * superblock last — so an interrupted mkfs leaves no valid superblock over a
 * half-made log.
 */
export function mkfs(dev: Device, opts: MkfsOptions): void {
  const logLen = opts.logLen ?? DEFAULT_LOG_LEN;
  checkLogLen(logLen);
  if (!dev.writable) throw new FamfsError('EROFS', 'mkfs', `${dev.path}: device is open read-only`, dev.path);
  const need = minDeviceSize(logLen);
  if (dev.size < need) {
    throw new FamfsError('ENOSPC', 'mkfs', `${dev.path}: device of ${dev.size} bytes is too small: need at least ${need} (superblock + ${logLen}-byte log + one 2 MiB allocation unit)`, dev.path);
  }
  const devicePath = opts.devicePath ?? dev.path;
  if (encodeCString(devicePath, DEVNAME_FIELD_LEN) === undefined) {
    // The superblock's dd_daxdev field holds 63 bytes and a NUL: refuse before
    // anything is written rather than fail half way (or store a cut path).
    throw new FamfsError('ENAMETOOLONG', 'mkfs', `device path '${devicePath}' is longer than ${DEVNAME_FIELD_LEN - 1} bytes (the superblock's device name field); use a shorter path`, devicePath);
  }
  const existing = existingSuperblock(dev);
  if (existing.state !== 'blank' && !opts.force) {
    const what = existing.state === 'famfs'
      ? `already has a famfs superblock${existing.systemUuid !== opts.systemUuid ? ' (owned by another host)' : ''}`
      : `has a famfs superblock that is not valid for this version (${existing.message})`;
    throw new FamfsError('EEXIST', 'mkfs', `${dev.path} ${what}; use -f to overwrite`, dev.path);
  }
  const sbBytes = encodeSuperblock({
    logOffset: LOG_OFFSET,
    logLen,
    allocUnit: ALLOC_UNIT,
    uuid: opts.fsUuid ?? newUuid(),
    devUuid: opts.devUuid ?? newUuid(),
    systemUuid: opts.systemUuid,
    // Upstream leaves the flags and the daxdev UUID zero; so do we, byte for byte.
    flags: 0,
    daxdev: { size: dev.size, uuid: NIL_UUID, path: devicePath },
  });

  // Invalidate the old superblock first: between here and the last step the
  // device holds no valid superblock, never a new one over an old log.
  const sbRegion = dev.view(0, SBC.SIZE);
  sbRegion.fill(0);
  dev.flush(sbRegion);

  const log = dev.view(LOG_OFFSET, logLen);
  log.fill(0);
  log.set(encodeLogHeader(newLogHeader(logLen)), 0);
  dev.flush(log);
  dev.sync();

  sbRegion.set(sbBytes, 0);
  dev.flush(sbRegion);
  dev.sync();
}

/** mkfs -f -k: make the superblock invalid (zero its magic), leave everything else. */
export function killSuperblock(dev: Device): void {
  if (!dev.writable) throw new FamfsError('EROFS', 'mkfs', `${dev.path}: device is open read-only`, dev.path);
  if (dev.size < SBC.SIZE) throw new FamfsError('EINVAL', 'mkfs', `${dev.path}: too small to hold a superblock`, dev.path);
  const sbView = dev.view(0, SBC.SIZE);
  const sb = decodeSuperblock(sbView);
  if (sb.magic !== SB_MAGIC) return;
  const magic = sbView.subarray(SBC.MAGIC, SBC.MAGIC + 8);
  magic.fill(0);
  dev.flush(magic);
  dev.sync();
}

