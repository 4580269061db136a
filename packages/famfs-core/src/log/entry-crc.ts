import * as native from '@famfs/native';
import { LogEntryLayout as LE } from '../format/constants.js';
import { crc32 } from '../format/crc32.js';
import { logEntryOffset } from '../format/log.js';

let nativeOk: boolean | undefined;

/** Does the native addon load? (asked once) */
export function nativeAvailable(): boolean {
  nativeOk ??= native.isNativeAvailable();
  return nativeOk;
}

/**
 * The entries in [first, end) of a log region whose CRC does not match
 * (CRC-32 of bytes [0, 536) stored at 536 as a u64), in increasing order —
 * the check decodeLogEntry makes, for a whole log in one native call (half a
 * million calls into zlib cost more than the CRC itself). Falls back to
 * {@link badCrcEntriesJs} where the addon is not built.
 */
export function badCrcEntries(log: Uint8Array, first: number, end: number): Uint32Array | number[] {
  if (end <= first) return [];
  if (!nativeAvailable() || !(log.buffer instanceof ArrayBuffer)) return badCrcEntriesJs(log, first, end);
  const bad = native.crc32Records(log.subarray(logEntryOffset(first), logEntryOffset(end)), end - first, LE.SIZE, LE.CRC);
  for (let k = 0; k < bad.length; k++) bad[k]! += first;
  return bad;
}

/** {@link badCrcEntries} in JavaScript, one entry at a time (the reference it is tested against). */
export function badCrcEntriesJs(log: Uint8Array, first: number, end: number): number[] {
  const dv = new DataView(log.buffer, log.byteOffset, log.byteLength);
  const bad: number[] = [];
  for (let i = first; i < end; i++) {
    const o = logEntryOffset(i);
    if (dv.getUint32(o + LE.CRC + 4, true) !== 0 || dv.getUint32(o + LE.CRC, true) !== crc32(log.subarray(o, o + LE.CRC))) bad.push(i);
  }
  return bad;
}
