import { formatError } from './errors.js';
import {
  LogHeaderLayout as LH, SuperblockLayout as SB,
} from './format/constants.js';
import { type LogHeader, checkLogHeader } from './format/log.js';
import { type Superblock, checkSuperblock } from './format/superblock.js';
import type { Device } from './device.js';

/** A device whose superblock and log header are valid: where the log is, how long it is. */
export interface FsGeometry {
  sb: Superblock;
  header: LogHeader;
  /** the log region of the device mapping */
  log: Uint8Array;
  /** entries the log can hold (last_index + 1) */
  capacity: number;
}

/**
 * Validate the superblock and log header of a mapped device. Errors are
 * FamfsErrors with one-line messages: EINVAL "no famfs file system", EUCLEAN
 * for corruption (bad CRC, bad log header).
 */
export function readGeometry(dev: Device): FsGeometry {
  if (dev.size < SB.SIZE) {
    throw formatError('EINVAL', 'superblock', `${dev.path}: too small to hold a famfs superblock (${dev.size} bytes)`, dev.path);
  }
  const sbView = dev.view(0, SB.SIZE);
  dev.invalidate(sbView);
  const st = checkSuperblock(sbView, dev.size);
  if (!st.ok) {
    const code = st.reason === 'no-magic' || st.reason === 'secondary' ? 'EINVAL' : 'EUCLEAN';
    const what = st.reason === 'no-magic' ? 'no famfs file system found' : st.reason === 'secondary' ? 'not the primary device' : 'invalid famfs superblock';
    throw formatError(code, 'superblock', `${dev.path}: ${what}: ${st.message}`, dev.path);
  }
  const sb = st.sb;
  const log = dev.view(sb.logOffset, sb.logLen);
  dev.invalidate(log.subarray(0, LH.SIZE));
  const lh = checkLogHeader(log, 0, sb.logLen);
  if (!lh.ok) throw formatError('EUCLEAN', 'log', `${dev.path}: invalid famfs log header: ${lh.message}`, dev.path);
  return { sb, header: lh.header, log, capacity: lh.header.lastIndex + 1 };
}
