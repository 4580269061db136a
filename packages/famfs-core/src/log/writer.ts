import type { Device } from '../device.js';
import { FamfsError, formatError } from '../errors.js';
import { LogEntryLayout as LE, LogHeaderLayout as LH } from '../format/constants.js';
import { type LogEntryBody, checkLogHeader, encodeLogEntry, logEntryOffset } from '../format/log.js';

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
  if (h.nextIndex > h.lastIndex) {
    throw new FamfsError('ENOSPC', 'log', `${dev.path}: the famfs log is full (${h.lastIndex + 1} entries)`, dev.path);
  }
  // The header is bumped with two stores (next_seqnum, then next_index): a
  // crash between them leaves next_seqnum one ahead. That is a torn append of
  // an entry nobody references, not corruption; the entry's seqnum must equal
  // its index either way, so write seqnum = index and heal the header.
  if (h.nextSeqnum !== h.nextIndex && h.nextSeqnum !== h.nextIndex + 1) {
    throw formatError('EUCLEAN', 'log', `${dev.path}: log header next_seqnum ${h.nextSeqnum} differs from next_index ${h.nextIndex}`, dev.path);
  }
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
