import { FormatError, StructReader, StructWriter, encodeCString } from './codec.js';
import {
  DaxdevLayout as DaxdevMeta, FileMetaLayout as FileMeta, FmapLayout as FM, FmapExtType, InterleavedExtLayout as InterleavedExt, LOG_MAGIC, LogEntryLayout as LE, LogEntryType, LogHeaderLayout as LH, MAX_INTERLEAVED_EXTENTS, MAX_SIMPLE_EXTENTS, MAX_STRIPS, MkdirLayout as MkdirMeta, RELPATH_FIELD_LEN, SimpleExtLayout as SimpleExt, logLastIndex,
} from './constants.js';
import { crc32 } from './crc32.js';
import { uuidFromBytes, uuidToBytes } from './uuid.js';

// ---------------------------------------------------------------- log header

export interface LogHeader {
  magic: bigint;
  len: number;
  lastIndex: number;
  crc: bigint;
  nextSeqnum: number;
  nextIndex: number;
}

export function logHeaderCrc(bytes: Uint8Array): number {
  return crc32(bytes.subarray(0, LH.CRC));
}

/** A fresh header for an empty log of `logLen` bytes. */
export function newLogHeader(logLen: number): Omit<LogHeader, 'crc'> {
  return { magic: LOG_MAGIC, len: logLen, lastIndex: logLastIndex(logLen), nextSeqnum: 0, nextIndex: 0 };
}

export function encodeLogHeader(h: Omit<LogHeader, 'crc'>): Uint8Array {
  const w = new StructWriter('log_header', LH.SIZE);
  w.u64('famfs_log_magic', LH.MAGIC, h.magic);
  w.u64('famfs_log_len', LH.LEN, h.len);
  w.u64('famfs_log_last_index', LH.LAST_INDEX, h.lastIndex);
  w.u64('famfs_log_crc', LH.CRC, logHeaderCrc(w.bytes));
  w.u64('famfs_log_next_seqnum', LH.NEXT_SEQNUM, h.nextSeqnum);
  w.u64('famfs_log_next_index', LH.NEXT_INDEX, h.nextIndex);
  return w.bytes;
}

export function decodeLogHeader(bytes: Uint8Array, base = 0): LogHeader {
  const r = new StructReader(bytes, 'log_header', base, LH.SIZE);
  // A corrupt struct may hold values past 2^53: decode them as NaN so it can be reported.
  const num = (field: string, off: number): number => r.u64OrNaN(field, off);
  return {
    magic: r.u64big('famfs_log_magic', LH.MAGIC),
    len: num('famfs_log_len', LH.LEN),
    lastIndex: num('famfs_log_last_index', LH.LAST_INDEX),
    crc: r.u64big('famfs_log_crc', LH.CRC),
    nextSeqnum: num('famfs_log_next_seqnum', LH.NEXT_SEQNUM),
    nextIndex: num('famfs_log_next_index', LH.NEXT_INDEX),
  };
}

export type LogHeaderStatus = { ok: true; header: LogHeader } | { ok: false; message: string; header: LogHeader };

/** A u64 field as exact decimal text (values past 2^53 included). */
function u64TextAt(bytes: Uint8Array, off: number): string {
  return new DataView(bytes.buffer, bytes.byteOffset + off, 8).getBigUint64(0, true).toString();
}

/**
 * Validate the log header a reader needs: magic, CRC, length and last index
 * against the superblock's log length, and next_index inside the log. The
 * CRC covers only magic, len and last_index. next_seqnum is not a reader's
 * business (entries carry their own seqnum, checked against their index):
 * a bad one blocks appends (logCountersProblem), never reads.
 */
export function checkLogHeader(bytes: Uint8Array, base: number, sbLogLen: number): LogHeaderStatus {
  const header = decodeLogHeader(bytes, base);
  const bad = (message: string): LogHeaderStatus => ({ ok: false, message, header });
  if (header.magic !== LOG_MAGIC) return bad(`log header has bad magic 0x${header.magic.toString(16)}`);
  const want = logHeaderCrc(bytes.subarray(base, base + LH.SIZE));
  if (header.crc !== BigInt(want)) {
    return bad(`log header CRC mismatch (stored 0x${header.crc.toString(16)}, computed 0x${want.toString(16)})`);
  }
  if (header.len !== sbLogLen) return bad(`log header length ${u64TextAt(bytes, base + LH.LEN)} differs from the superblock's ${sbLogLen}`);
  const last = logLastIndex(sbLogLen);
  if (header.lastIndex !== last) return bad(`log header last_index ${u64TextAt(bytes, base + LH.LAST_INDEX)} is wrong for a ${sbLogLen}-byte log (expected ${last})`);
  if (!(header.nextIndex <= last + 1)) {
    return bad(`log header next_index ${u64TextAt(bytes, base + LH.NEXT_INDEX)} is past the end of the log (${last + 1} entries)`);
  }
  return { ok: true, header };
}

/**
 * The counter rule every appender relies on, in one place (the writer
 * refuses to append, fsck reports it, `fsck --repair` fixes it): next_seqnum
 * equals next_index, or is one ahead of it — what a crash between the two
 * counter stores of an append leaves (a torn append of an entry nobody
 * references). Anything else: a message saying what is wrong.
 */
export function logCountersProblem(bytes: Uint8Array, base: number): string | undefined {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + base, LH.SIZE);
  const seq = dv.getBigUint64(LH.NEXT_SEQNUM, true);
  const idx = dv.getBigUint64(LH.NEXT_INDEX, true);
  if (seq === idx || seq === idx + 1n) return undefined;
  return `log header next_seqnum ${seq} is ${seq > idx ? 'ahead of' : 'behind'} next_index ${idx}: appends are refused until \`famfs fsck --repair\` resets it (no entry is lost)`;
}

/** Byte offset of entry `index` within the log region. */
export function logEntryOffset(index: number): number {
  return LH.SIZE + index * LE.SIZE;
}

// ---------------------------------------------------------------- log entries

export interface SimpleExtent {
  /** 0 = the primary device */
  devIndex: number;
  /** device byte offset */
  offset: number;
  len: number;
}

export interface InterleavedExtent {
  nstrips: number;
  chunkSize: number;
  strips: SimpleExtent[];
}

/** A file's map as the log stores it: simple extents, or (at most) one interleaved extent. */
export type FmapRecord =
  | { type: 'simple'; extents: SimpleExtent[] }
  | { type: 'interleave'; extents: InterleavedExtent[] };

export interface FileEntryBody {
  size: number;
  flags: number;
  uid: number;
  gid: number;
  /** permission bits as given to creat */
  mode: number;
  relpath: string;
  fmap: FmapRecord;
}

export interface MkdirEntryBody {
  uid: number;
  gid: number;
  mode: number;
  relpath: string;
}

export interface DaxdevEntryBody {
  size: number;
  uuid: string;
  index: number;
}

export type LogEntryBody =
  | { type: 'file'; file: FileEntryBody }
  | { type: 'mkdir'; mkdir: MkdirEntryBody }
  | { type: 'daxdev'; daxdev: DaxdevEntryBody };

export type LogEntryRecord = LogEntryBody & { seqnum: number };

export function logEntryCrc(entry: Uint8Array): number {
  return crc32(entry.subarray(0, LE.CRC));
}

function writeSimpleExt(w: StructWriter, field: string, off: number, e: SimpleExtent): void {
  w.u64(`${field}.se_devindex`, off + SimpleExt.DEVINDEX, e.devIndex);
  w.u64(`${field}.se_offset`, off + SimpleExt.OFFSET, e.offset);
  w.u64(`${field}.se_len`, off + SimpleExt.LEN, e.len);
}

function relpathBytes(structName: string, field: string, off: number, relpath: string): Uint8Array {
  const b = encodeCString(relpath, RELPATH_FIELD_LEN);
  if (b === undefined) {
    throw new FormatError(structName, field, off, `path longer than ${RELPATH_FIELD_LEN - 1} bytes (or contains NUL): '${relpath}'`);
  }
  return b;
}

/** Encode a 544-byte log entry with its CRC. The caller chooses `seqnum` (= the entry's index). */
export function encodeLogEntry(e: LogEntryRecord): Uint8Array {
  const w = new StructWriter('log_entry', LE.SIZE);
  w.u64('famfs_log_seqnum', LE.SEQNUM, e.seqnum);
  const B = LE.BODY;
  switch (e.type) {
    case 'file': {
      const f = e.file;
      w.u32('famfs_log_entry_type', LE.TYPE, LogEntryType.FILE);
      w.u64('fm_size', B + FileMeta.FM_SIZE, f.size);
      w.u32('fm_flags', B + FileMeta.FM_FLAGS, f.flags);
      w.u32('fm_uid', B + FileMeta.FM_UID, f.uid);
      w.u32('fm_gid', B + FileMeta.FM_GID, f.gid);
      w.u32('fm_mode', B + FileMeta.FM_MODE, f.mode);
      w.bytesAt('fm_relpath', B + FileMeta.FM_RELPATH, relpathBytes('log_entry', 'fm_relpath', B + FileMeta.FM_RELPATH, f.relpath), RELPATH_FIELD_LEN);
      const fm = B + FileMeta.FM_FMAP;
      if (f.fmap.type === 'simple') {
        const ext = f.fmap.extents;
        if (ext.length > MAX_SIMPLE_EXTENTS) throw new FormatError('log_entry', 'fmap_nextents', fm + FM.NEXTENTS, `${ext.length} extents (max ${MAX_SIMPLE_EXTENTS})`);
        w.u32('fmap_ext_type', fm + FM.EXT_TYPE, FmapExtType.SIMPLE);
        w.u32('fmap_nextents', fm + FM.NEXTENTS, ext.length);
        ext.forEach((x, i) => writeSimpleExt(w, `se[${i}]`, fm + FM.EXTENTS + i * SimpleExt.SIZE, x));
      } else {
        const ie = f.fmap.extents;
        if (ie.length > MAX_INTERLEAVED_EXTENTS) throw new FormatError('log_entry', 'fmap_niext', fm + FM.NEXTENTS, `${ie.length} interleaved extents (max ${MAX_INTERLEAVED_EXTENTS})`);
        w.u32('fmap_ext_type', fm + FM.EXT_TYPE, FmapExtType.INTERLEAVE);
        w.u32('fmap_niext', fm + FM.NEXTENTS, ie.length);
        ie.forEach((x, i) => {
          const io = fm + FM.EXTENTS + i * InterleavedExt.SIZE;
          if (x.strips.length > MAX_STRIPS || x.strips.length !== x.nstrips) {
            throw new FormatError('log_entry', 'ie_nstrips', io, `${x.strips.length} strips for nstrips ${x.nstrips} (max ${MAX_STRIPS})`);
          }
          w.u64('ie_nstrips', io + InterleavedExt.NSTRIPS, x.nstrips);
          w.u64('ie_chunk_size', io + InterleavedExt.CHUNK_SIZE, x.chunkSize);
          x.strips.forEach((s, j) => writeSimpleExt(w, `ie_strips[${j}]`, io + InterleavedExt.STRIPS + j * SimpleExt.SIZE, s));
        });
      }
      break;
    }
    case 'mkdir': {
      const m = e.mkdir;
      w.u32('famfs_log_entry_type', LE.TYPE, LogEntryType.MKDIR);
      w.u32('md_uid', B + MkdirMeta.UID, m.uid);
      w.u32('md_gid', B + MkdirMeta.GID, m.gid);
      w.u32('md_mode', B + MkdirMeta.MODE, m.mode);
      w.bytesAt('md_relpath', B + MkdirMeta.RELPATH, relpathBytes('log_entry', 'md_relpath', B + MkdirMeta.RELPATH, m.relpath), RELPATH_FIELD_LEN);
      break;
    }
    case 'daxdev': {
      const d = e.daxdev;
      w.u32('famfs_log_entry_type', LE.TYPE, LogEntryType.ADD_DAXDEV);
      w.u64('dd_size', B + DaxdevMeta.DD_SIZE, d.size);
      w.bytesAt('dd_uuid', B + DaxdevMeta.DD_UUID, uuidToBytes(d.uuid));
      w.u32('dd_index', B + DaxdevMeta.DD_INDEX, d.index);
      break;
    }
  }
  w.u64('famfs_log_entry_crc', LE.CRC, logEntryCrc(w.bytes));
  return w.bytes;
}

/** Why an entry is bad; replay and fsck count and report these, and skip the entry. */
export type EntryFault =
  | 'bad-crc'
  | 'bad-seqnum'
  | 'unknown-type'
  | 'delete-unsupported'
  | 'bad-relpath'
  | 'bad-fmap';

export type DecodedEntry =
  | { ok: true; entry: LogEntryRecord }
  | { ok: false; fault: EntryFault; message: string; seqnum: number };

/**
 * The entry decoder runs for every entry of the log on every replay (half a
 * million for a 256 MiB log), so it reads through one DataView with 32-bit
 * halves instead of the generic StructReader and BigInts, and decodes ASCII
 * paths without a TextDecoder. Every length and offset is still checked.
 */
const TWO32 = 4294967296;
/** hi word limit so that hi * 2^32 + lo stays below 2^53 */
const SAFE_HI = 0x200000;

/** A u64 as a number, or -1 when it is past 2^53. */
function u64At(dv: DataView, off: number): number {
  const hi = dv.getUint32(off + 4, true);
  return hi < SAFE_HI ? hi * TWO32 + dv.getUint32(off, true) : -1;
}

function u64Text(dv: DataView, off: number): string {
  return dv.getBigUint64(off, true).toString();
}

function badEntry(fault: EntryFault, index: number, seqnum: number, message: string): DecodedEntry {
  return { ok: false, fault, message: `entry ${index}: ${message}`, seqnum: seqnum < 0 ? Number.NaN : seqnum };
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/** A NUL-terminated field of `len` bytes: the string, or undefined (no NUL, bad UTF-8). */
function cstringAt(bytes: Uint8Array, off: number, len: number): string | undefined {
  let end = off;
  const lim = off + len;
  let ascii = true;
  while (end < lim) {
    const b = bytes[end]!;
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
    end++;
  }
  if (end === lim) return undefined;
  if (ascii) return String.fromCharCode.apply(null, bytes.subarray(off, end) as unknown as number[]);
  try {
    return utf8Fatal.decode(bytes.subarray(off, end));
  } catch {
    return undefined;
  }
}

function simpleExtAt(dv: DataView, off: number, field: string): SimpleExtent | string {
  const devLo = dv.getUint32(off + SimpleExt.DEVINDEX, true);
  const devHi = dv.getUint32(off + SimpleExt.DEVINDEX + 4, true);
  const offset = u64At(dv, off + SimpleExt.OFFSET);
  const len = u64At(dv, off + SimpleExt.LEN);
  if (devHi !== 0 || devLo > 0xffff || offset < 0 || len < 0) return `${field} has out-of-range values`;
  return { devIndex: devLo, offset, len };
}

/**
 * Decode and validate the format of the entry at `index`, read from `bytes`
 * at `base`. Checks the CRC and that seqnum equals the index, then the body's
 * structure (type, counts, NUL-terminated UTF-8 paths). Path *rules* and
 * device bounds are the namespace's business, not the codec's.
 */
export function decodeLogEntry(
  bytes: Uint8Array,
  base: number,
  index: number,
  /** a DataView over all of `bytes` (replay makes one for the whole log) */
  whole: DataView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  /**
   * The caller has just checked this entry's CRC (replay checks a whole log
   * in one call: badCrcEntries); the decoder does not compute it again.
   */
  crcChecked = false,
): DecodedEntry {
  if (base < 0 || base + LE.SIZE > bytes.length) {
    return { ok: false, fault: 'bad-fmap', message: `entry ${index}: only ${Math.max(0, bytes.length - base)} of ${LE.SIZE} bytes`, seqnum: Number.NaN };
  }
  // every read below is at o + (offset within the entry), through one DataView for the whole log
  const dv = whole;
  const o = base;
  const seqnum = u64At(dv, o + LE.SEQNUM);
  if (!crcChecked) {
    const crcLo = dv.getUint32(o + LE.CRC, true);
    const crcHi = dv.getUint32(o + LE.CRC + 4, true);
    const want = crc32(bytes.subarray(base, base + LE.CRC));
    if (crcHi !== 0 || crcLo !== want) {
      return badEntry('bad-crc', index, seqnum, `CRC mismatch (stored 0x${dv.getBigUint64(o + LE.CRC, true).toString(16)}, computed 0x${want.toString(16)})`);
    }
  }
  if (seqnum !== index) return badEntry('bad-seqnum', index, seqnum, `seqnum ${u64Text(dv, o + LE.SEQNUM)} does not match its index`);
  const type = dv.getUint32(o + LE.TYPE, true);
  const B = LE.BODY;
  switch (type) {
    case LogEntryType.FILE: {
      const relpath = cstringAt(bytes, base + B + FileMeta.FM_RELPATH, RELPATH_FIELD_LEN);
      if (relpath === undefined) return badEntry('bad-relpath', index, seqnum, 'file path is not NUL-terminated UTF-8 within 80 bytes');
      const fm = B + FileMeta.FM_FMAP;
      const extType = dv.getUint32(o + fm + FM.EXT_TYPE, true);
      const n = dv.getUint32(o + fm + FM.NEXTENTS, true);
      let fmap: FmapRecord;
      if (extType === FmapExtType.SIMPLE) {
        if (n > MAX_SIMPLE_EXTENTS) return badEntry('bad-fmap', index, seqnum, `'${relpath}' has ${n} simple extents (max ${MAX_SIMPLE_EXTENTS})`);
        const extents: SimpleExtent[] = [];
        for (let i = 0; i < n; i++) {
          const x = simpleExtAt(dv, o + fm + FM.EXTENTS + i * SimpleExt.SIZE, `se[${i}]`);
          if (typeof x === 'string') return badEntry('bad-fmap', index, seqnum, `'${relpath}': ${x}`);
          extents.push(x);
        }
        fmap = { type: 'simple', extents };
      } else if (extType === FmapExtType.INTERLEAVE) {
        if (n > MAX_INTERLEAVED_EXTENTS) return badEntry('bad-fmap', index, seqnum, `'${relpath}' has ${n} interleaved extents (max ${MAX_INTERLEAVED_EXTENTS})`);
        const extents: InterleavedExtent[] = [];
        for (let i = 0; i < n; i++) {
          const io = fm + FM.EXTENTS + i * InterleavedExt.SIZE;
          const nstrips = u64At(dv, o + io + InterleavedExt.NSTRIPS);
          const chunk = u64At(dv, o + io + InterleavedExt.CHUNK_SIZE);
          if (nstrips < 0 || nstrips > MAX_STRIPS) {
            return badEntry('bad-fmap', index, seqnum, `'${relpath}' has ${u64Text(dv, o + io + InterleavedExt.NSTRIPS)} strips (max ${MAX_STRIPS})`);
          }
          if (chunk < 0) return badEntry('bad-fmap', index, seqnum, `'${relpath}' has chunk size ${u64Text(dv, o + io + InterleavedExt.CHUNK_SIZE)}`);
          const strips: SimpleExtent[] = [];
          for (let j = 0; j < nstrips; j++) {
            const x = simpleExtAt(dv, o + io + InterleavedExt.STRIPS + j * SimpleExt.SIZE, `ie_strips[${j}]`);
            if (typeof x === 'string') return badEntry('bad-fmap', index, seqnum, `'${relpath}': ${x}`);
            strips.push(x);
          }
          extents.push({ nstrips, chunkSize: chunk, strips });
        }
        fmap = { type: 'interleave', extents };
      } else {
        return badEntry('bad-fmap', index, seqnum, `'${relpath}' has unknown extent type ${extType}`);
      }
      const size = u64At(dv, o + B + FileMeta.FM_SIZE);
      if (size < 0) return badEntry('bad-fmap', index, seqnum, `'${relpath}' has size ${u64Text(dv, o + B + FileMeta.FM_SIZE)}`);
      return {
        ok: true,
        entry: {
          seqnum, type: 'file',
          file: {
            size,
            flags: dv.getUint32(o + B + FileMeta.FM_FLAGS, true),
            uid: dv.getUint32(o + B + FileMeta.FM_UID, true),
            gid: dv.getUint32(o + B + FileMeta.FM_GID, true),
            mode: dv.getUint32(o + B + FileMeta.FM_MODE, true),
            relpath,
            fmap,
          },
        },
      };
    }
    case LogEntryType.MKDIR: {
      const relpath = cstringAt(bytes, base + B + MkdirMeta.RELPATH, RELPATH_FIELD_LEN);
      if (relpath === undefined) return badEntry('bad-relpath', index, seqnum, 'directory path is not NUL-terminated UTF-8 within 80 bytes');
      return {
        ok: true,
        entry: {
          seqnum, type: 'mkdir',
          mkdir: {
            uid: dv.getUint32(o + B + MkdirMeta.UID, true),
            gid: dv.getUint32(o + B + MkdirMeta.GID, true),
            mode: dv.getUint32(o + B + MkdirMeta.MODE, true),
            relpath,
          },
        },
      };
    }
    case LogEntryType.ADD_DAXDEV: {
      const size = u64At(dv, o + B + DaxdevMeta.DD_SIZE);
      if (size < 0) return badEntry('bad-fmap', index, seqnum, `daxdev size ${u64Text(dv, o + B + DaxdevMeta.DD_SIZE)} exceeds 2^53`);
      return {
        ok: true,
        entry: {
          seqnum, type: 'daxdev',
          daxdev: {
            size,
            uuid: uuidFromBytes(bytes.subarray(base + B + DaxdevMeta.DD_UUID, base + B + DaxdevMeta.DD_UUID + 16)),
            index: dv.getUint32(o + B + DaxdevMeta.DD_INDEX, true),
          },
        },
      };
    }
    case LogEntryType.DELETE:
      return badEntry('delete-unsupported', index, seqnum, 'DELETE entries are not supported');
    default:
      return badEntry('unknown-type', index, seqnum, `unknown entry type ${type}`);
  }
}
