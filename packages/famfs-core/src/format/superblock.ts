import { FormatError, StructReader, StructWriter, decodeCString, encodeCString } from './codec.js';
import {
  DEVNAME_FIELD_LEN, OMF_MAJOR, OMF_MINOR, SB_MAGIC, SB_VERSION, SUPERBLOCK_SIZE, SbFlag, SuperblockLayout as SB, VALID_ALLOC_UNITS,
} from './constants.js';
import { crc32 } from './crc32.js';
import { isPowerOfTwo } from './math.js';
import { uuidFromBytes, uuidToBytes } from './uuid.js';

/** The primary dax device as the superblock records it. */
export interface SbDaxdev {
  size: number;
  uuid: string;
  /** the device path as given to mkfs on the master (paths are per host) */
  path: string;
}

export interface Superblock {
  magic: bigint;
  version: number;
  logOffset: number;
  logLen: number;
  allocUnit: number;
  omfMajor: number;
  omfMinor: number;
  uuid: string;
  devUuid: string;
  systemUuid: string;
  crc: bigint;
  flags: number;
  daxdev: SbDaxdev;
}

export type SuperblockFields = Omit<Superblock, 'crc' | 'magic' | 'version' | 'omfMajor' | 'omfMinor'> &
  Partial<Pick<Superblock, 'magic' | 'version' | 'omfMajor' | 'omfMinor'>>;

/** CRC of a superblock image: CRC-32 over bytes [0, 96). */
export function superblockCrc(bytes: Uint8Array): number {
  return crc32(bytes.subarray(0, SB.CRC));
}

/** Encode a superblock (200 bytes) with its CRC computed. */
export function encodeSuperblock(sb: SuperblockFields): Uint8Array {
  const w = new StructWriter('superblock', SB.SIZE);
  w.u64('ts_magic', SB.MAGIC, sb.magic ?? SB_MAGIC);
  w.u64('ts_version', SB.VERSION, sb.version ?? SB_VERSION);
  w.u64('ts_log_offset', SB.LOG_OFFSET, sb.logOffset);
  w.u64('ts_log_len', SB.LOG_LEN, sb.logLen);
  w.u64('ts_alloc_unit', SB.ALLOC_UNIT, sb.allocUnit);
  w.u32('ts_omf_ver_major', SB.OMF_MAJOR, sb.omfMajor ?? OMF_MAJOR);
  w.u32('ts_omf_ver_minor', SB.OMF_MINOR, sb.omfMinor ?? OMF_MINOR);
  w.bytesAt('ts_uuid', SB.UUID, uuidToBytes(sb.uuid));
  w.bytesAt('ts_dev_uuid', SB.DEV_UUID, uuidToBytes(sb.devUuid));
  w.bytesAt('ts_system_uuid', SB.SYSTEM_UUID, uuidToBytes(sb.systemUuid));
  w.u32('ts_sb_flags', SB.FLAGS, sb.flags);
  w.u64('dd_size', SB.DAXDEV_SIZE, sb.daxdev.size);
  w.bytesAt('dd_uuid', SB.DAXDEV_UUID, uuidToBytes(sb.daxdev.uuid));
  const name = encodeCString(sb.daxdev.path, DEVNAME_FIELD_LEN);
  if (name === undefined) {
    throw new FormatError('superblock', 'dd_daxdev', SB.DAXDEV_NAME, `device path longer than ${DEVNAME_FIELD_LEN - 1} bytes: '${sb.daxdev.path}'`);
  }
  w.bytesAt('dd_daxdev', SB.DAXDEV_NAME, name, DEVNAME_FIELD_LEN);
  w.u64('ts_crc', SB.CRC, superblockCrc(w.bytes));
  return w.bytes;
}

/**
 * Decode the superblock struct at the start of `bytes` without judging it
 * (see checkSuperblock). Fails only if fewer than 200 bytes are given.
 */
export function decodeSuperblock(bytes: Uint8Array): Superblock {
  const r = new StructReader(bytes, 'superblock', 0, SB.SIZE);
  // A corrupt struct may hold values past 2^53: decode them as NaN so it can be reported.
  const num = (field: string, off: number): number => r.u64OrNaN(field, off);
  return {
    magic: r.u64big('ts_magic', SB.MAGIC),
    version: num('ts_version', SB.VERSION),
    logOffset: num('ts_log_offset', SB.LOG_OFFSET),
    logLen: num('ts_log_len', SB.LOG_LEN),
    allocUnit: num('ts_alloc_unit', SB.ALLOC_UNIT),
    omfMajor: r.u32('ts_omf_ver_major', SB.OMF_MAJOR),
    omfMinor: r.u32('ts_omf_ver_minor', SB.OMF_MINOR),
    uuid: uuidFromBytes(r.bytesAt('ts_uuid', SB.UUID, 16)),
    devUuid: uuidFromBytes(r.bytesAt('ts_dev_uuid', SB.DEV_UUID, 16)),
    systemUuid: uuidFromBytes(r.bytesAt('ts_system_uuid', SB.SYSTEM_UUID, 16)),
    crc: r.u64big('ts_crc', SB.CRC),
    flags: r.u32('ts_sb_flags', SB.FLAGS),
    daxdev: {
      size: num('dd_size', SB.DAXDEV_SIZE),
      uuid: uuidFromBytes(r.bytesAt('dd_uuid', SB.DAXDEV_UUID, 16)),
      path: decodeCString(r.bytesAt('dd_daxdev', SB.DAXDEV_NAME, DEVNAME_FIELD_LEN)) ?? '',
    },
  };
}

/**
 * Superblock status, checked in upstream's order: magic, version, CRC, alloc
 * unit. 'no-magic' means "not a famfs device"; 'wrong-version' means "maybe
 * famfs, but not this version" — refused, and not blank for mkfs either.
 */
export type SuperblockStatus =
  | { ok: true; sb: Superblock }
  | { ok: false; reason: 'no-magic' | 'wrong-version' | 'bad-crc' | 'bad-alloc-unit' | 'bad-geometry' | 'secondary'; message: string; sb: Superblock };

/**
 * A secondary superblock (famfs-ts's reading of upstream's multi-daxdev
 * roadmap, phase 2; see docs/on-media-format.md): the struct of a primary,
 * with `ts_sb_flags` = SECONDARY and no log (`ts_log_offset` =
 * `ts_log_len` = 0, both under the CRC), `ts_uuid` = the file system's
 * UUID, `ts_dev_uuid` = this device's (the UUID its ADD_DAXDEV entry
 * names), and the primary's device UUID in `ts_daxdev.dd_uuid` (a field no
 * famfs tool uses, so that ts_crc keeps its offset).
 */
export function isSecondary(sb: Superblock): boolean {
  return (sb.flags & SbFlag.SECONDARY) !== 0 && sb.logOffset === 0 && sb.logLen === 0;
}

/**
 * Validate a superblock. `deviceSize`, when known, also bounds the log region
 * (a superblock that points the log outside the device is unusable).
 */
export function checkSuperblock(bytes: Uint8Array, deviceSize?: number): SuperblockStatus {
  const sb = decodeSuperblock(bytes);
  if (sb.magic !== SB_MAGIC) {
    return { ok: false, reason: 'no-magic', message: 'no famfs superblock (bad magic)', sb };
  }
  if (sb.version !== SB_VERSION) {
    return {
      ok: false, reason: 'wrong-version', sb,
      message: `famfs superblock version ${Number.isNaN(sb.version) ? 'unknown' : sb.version} is not supported (expected ${SB_VERSION})`,
    };
  }
  const want = superblockCrc(bytes);
  if (sb.crc !== BigInt(want)) {
    return {
      ok: false, reason: 'bad-crc', sb,
      message: `superblock CRC mismatch (stored 0x${sb.crc.toString(16)}, computed 0x${want.toString(16)})`,
    };
  }
  if (!VALID_ALLOC_UNITS.includes(sb.allocUnit)) {
    return { ok: false, reason: 'bad-alloc-unit', sb, message: `superblock alloc unit ${sb.allocUnit} is invalid (must be 4096 or 2 MiB)` };
  }
  if (isSecondary(sb)) {
    return {
      ok: false, reason: 'secondary', sb,
      message: `a secondary device of famfs file system ${sb.uuid} (daxdev ${sb.devUuid}; its primary is device ${sb.daxdev.uuid}): use the primary device or the mount point`,
    };
  }
  const geometry = checkGeometry(sb, deviceSize);
  if (geometry !== undefined) return { ok: false, reason: 'bad-geometry', sb, message: geometry };
  return { ok: true, sb };
}

/**
 * Validate a secondary superblock: magic, version, CRC and alloc unit as a
 * primary's, then the secondary's shape (flag, no log, a sane recorded
 * size that fits `deviceSize` when known).
 */
export function checkSecondarySuperblock(bytes: Uint8Array, deviceSize?: number): SuperblockStatus {
  const st = checkSuperblock(bytes, deviceSize);
  if (st.ok) return { ok: false, reason: 'bad-geometry', sb: st.sb, message: `a primary superblock (file system ${st.sb.uuid}), not a secondary` };
  if (st.reason !== 'secondary') return st;
  const sb = st.sb;
  const size = sb.daxdev.size;
  if (!Number.isSafeInteger(size) || size < SUPERBLOCK_SIZE + sb.allocUnit) {
    return { ok: false, reason: 'bad-geometry', sb, message: `secondary superblock device size ${Number.isNaN(size) ? '(past 2^53)' : size} is invalid` };
  }
  if (deviceSize !== undefined && size > deviceSize) {
    return { ok: false, reason: 'bad-geometry', sb, message: `secondary superblock says ${size} bytes, the device has ${deviceSize}` };
  }
  return { ok: true, sb };
}

/** Sanity of the log region a CRC-valid superblock describes; undefined when sane. */
function checkGeometry(sb: Superblock, deviceSize?: number): string | undefined {
  const { logOffset, logLen } = sb;
  if (!Number.isSafeInteger(logOffset) || logOffset < SB.SIZE || logOffset % 4096 !== 0) {
    return `superblock log offset ${logOffset} is invalid`;
  }
  if (!Number.isSafeInteger(logLen) || logLen < 4096 || !isPowerOfTwo(logLen)) {
    return `superblock log length ${logLen} is not a power of two`;
  }
  if (deviceSize !== undefined && logOffset + logLen > deviceSize) {
    return `superblock log [${logOffset}, ${logOffset + logLen}) lies past the device end (${deviceSize})`;
  }
  // The recorded device size is outside the CRC: a garbage value must not
  // shrink the file system (replay would drop every file past it) or be NaN.
  const size = sb.daxdev.size;
  if (!Number.isSafeInteger(size) || size < logOffset + logLen) {
    return `superblock device size ${Number.isNaN(size) ? '(past 2^53)' : size} is invalid: the superblock and log alone need ${logOffset + logLen} bytes`;
  }
  return undefined;
}
