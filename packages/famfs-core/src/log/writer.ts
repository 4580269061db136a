import type { Device } from '../device.js';
import { FamfsError, formatError } from '../errors.js';
import { LogEntryLayout as LE, LogHeaderLayout as LH } from '../format/constants.js';
import { type LogEntryBody, checkLogHeader, encodeLogEntry, logCountersProblem, logEntryOffset } from '../format/log.js';

/** The error every full-log refusal gives (checked before allocating, and again at the append). */
export function logFull(path: string, capacity: number): FamfsError {
  return new FamfsError('ENOSPC', 'log', `${path}: the famfs log is full (${capacity} entries)`, path);
}

/**
 * Reset a log header's next_seqnum to its next_index (`famfs fsck
 * --repair`): the one header fault that can be fixed without losing an
 * entry. The caller holds the device lock; returns what was done, or
 * undefined when there was nothing to repair.
 */
export function repairLogCounters(dev: Device, log: Uint8Array): string | undefined {
  const head = log.subarray(0, LH.SIZE);
  dev.invalidate(head);
  const st = checkLogHeader(log, 0, log.length);
  if (!st.ok) throw formatError('EUCLEAN', 'log', `${dev.path}: invalid famfs log header: ${st.message}`, dev.path);
  const problem = logCountersProblem(log, 0);
  if (problem === undefined) return undefined;
  const dv = new DataView(log.buffer, log.byteOffset, LH.SIZE);
  dv.setBigUint64(LH.NEXT_SEQNUM, BigInt(st.header.nextIndex), true);
  dev.flush(head);
  return `next_seqnum set to next_index (${st.header.nextIndex})`;
}

/**
 * Append one entry to the log. The caller holds the device lock and has
 * validated the entry against a replay that is current (so the index it
 * writes is the header's next_index as read now).
 *
 * Order (the crash-safety argument): the entry is written and flushed first,
 * then the header's next_seqnum/next_index are bumped and flushed. A crash
 * before the header store leaves an unreferenced entry that the next append
 * overwrites; a reader that sees the new index before the entry (on
 * non-coherent memory) rejects the entry by CRC and retries after an
 * invalidate.
 */
export function appendLogEntry(dev: Device, log: Uint8Array, body: LogEntryBody): number {
  const head = log.subarray(0, LH.SIZE);
  dev.invalidate(head);
  const st = checkLogHeader(log, 0, log.length);
  if (!st.ok) throw formatError('EUCLEAN', 'log', `${dev.path}: invalid famfs log header: ${st.message}`, dev.path);
  const h = st.header;
  if (h.nextIndex > h.lastIndex) throw logFull(dev.path, h.lastIndex + 1);
  // The header is bumped with two stores (next_seqnum, then next_index): a
  // crash between them leaves next_seqnum one ahead. That is a torn append of
  // an entry nobody references, not corruption; the entry's seqnum must equal
  // its index either way, so write seqnum = index and heal the header.
  const counters = logCountersProblem(log, 0);
  if (counters !== undefined) throw formatError('EUCLEAN', 'log', `${dev.path}: ${counters}`, dev.path);
  const index = h.nextIndex;
  const bytes = encodeLogEntry({ ...body, seqnum: index });
  const at = logEntryOffset(index);
  const slot = log.subarray(at, at + LE.SIZE);
  slot.set(bytes);
  dev.flush(slot);
  const dv = new DataView(log.buffer, log.byteOffset, LH.SIZE);
  dv.setBigUint64(LH.NEXT_SEQNUM, BigInt(index + 1), true);
  dv.setBigUint64(LH.NEXT_INDEX, BigInt(index + 1), true);
  dev.flush(head);
  return index;
}
