import {
  type FsckReport, FileMetaLayout, FmapLayout, InterleavedExtLayout, LogEntryLayout, LogHeaderLayout,
  MAX_INTERLEAVED_EXTENTS, MAX_SIMPLE_EXTENTS, MkdirLayout, SimpleExtLayout, SuperblockLayout,
} from '@famfs/core';

/**
 * printf("%.Nf") of a value: JS toFixed rounds exact ties away from zero,
 * glibc to even; everything else agrees (both use the exact binary value).
 */
export function cFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const scale = 10 ** digits;
  const y = x * scale;
  const fl = Math.floor(y);
  if (y - fl === 0.5 && (fl + 0.5) / scale === x) {
    const even = fl % 2 === 0 ? fl : fl + 1;
    return (even / scale).toFixed(digits);
  }
  return x.toFixed(digits);
}

const f32 = Math.fround;
const AGIG = f32(1024 * 1024 * 1024);
/** upstream computes its human figures in C `float`: reproduce each rounding */
const gig = (x: number): string => `${cFixed(f32(f32(x) / AGIG), 2)}G`;

export interface ReportOptions {
  /** capacity in G with two decimals (fsck -h/--human; mkfs always) */
  human: boolean;
  verbose: boolean;
}

/** The fsck/mkfs report, line for line in upstream famfs's format. */
export function formatReport(r: FsckReport, opts: ReportOptions): string {
  const sb = r.superblock;
  const c = r.capacity;
  const L: string[] = [];
  L.push('Famfs Superblock:');
  L.push(`  Filesystem UUID:   ${sb.uuid}`);
  L.push(`  Device UUID:       ${sb.devUuid}`);
  L.push(`  System UUID:       ${sb.systemUuid}`);
  L.push(`  role of this node: ${r.role === 'master' ? 'Owner' : 'Client'}`);
  L.push(`  alloc_unit:        0x${sb.allocUnit.toString(16)}`);
  L.push(`  OMF major version: ${sb.omfMajor}`);
  L.push(`  OMF minor version: ${sb.omfMinor}`);
  L.push(`  sizeof superblock: ${SuperblockLayout.SIZE}`);
  L.push(`  log size (bytes):  ${sb.logLen}`);
  L.push(`  primary: ${sb.daxdev.path}   ${sb.daxdev.size}`);
  L.push('');
  L.push('Log stats:');
  L.push(`  # of log entries in use: ${r.log.entriesUsed} of ${r.log.entriesTotal}`);
  L.push(`  Log size in use:          ${r.log.bytesInUse}`);
  L.push(`  Log size (total bytes)    ${r.log.totalBytes}`);
  if (r.collisions > 0) {
    L.push(`ERROR: ${r.collisions} ALLOCATION COLLISIONS FOUND`);
  } else {
    L.push('  No allocation errors found');
    L.push('');
    L.push('Capacity:');
    if (opts.human) {
      L.push(`  Device capacity:        ${gig(c.deviceCapacity)}`);
      L.push(`  Bitmap capacity:        ${gig(c.bitmapCapacity)}`);
      L.push(`  Sum of file sizes:      ${gig(c.sumFileSizes)}`);
      L.push(`  Allocated space:        ${gig(c.allocatedBytes)}`);
      L.push(`  Free space:             ${cFixed(f32(f32(f32(c.bitmapCapacity) - f32(c.allocatedBytes)) / AGIG), 2)}G`);
    } else {
      L.push(`  Device capacity:        ${c.deviceCapacity}`);
      L.push(`  Bitmap capacity:        ${c.bitmapCapacity}`);
      L.push(`  Sum of file sizes:      ${c.sumFileSizes}`);
      L.push(`  Allocated bytes:        ${c.allocatedBytes}`);
      L.push(`  Free space:             ${c.freeBytes}`);
    }
    const amp = c.sumFileSizes === 0 ? Infinity : f32(f32(c.allocatedBytes) / f32(c.sumFileSizes));
    L.push(`  Space amplification:     ${cFixed(amp, 2)}`);
    L.push(`  Percent used:            ${cFixed(f32(100 * f32(f32(c.allocatedBytes) / f32(c.bitmapCapacity))), 1)}%`);
    L.push('');
  }
  L.push('Famfs log:');
  L.push(`  ${r.log.entriesUsed} of ${r.log.entriesTotal} entries used`);
  L.push(`  ${r.badEntries.length} bad log entries detected`);
  L.push(`  ${r.files} files`);
  L.push(`  ${r.directories} directories`);
  L.push('');
  if (r.daxdevs.length > 1) {
    // a file system on several devices (famfs-ts; one device prints as upstream's)
    L.push(`Devices: ${r.daxdevs.length}`);
    for (const d of r.daxdevs) {
      const size = opts.human ? gig(d.size) : String(d.size);
      const used = opts.human ? gig(d.allocatedBytes) : String(d.allocatedBytes);
      const free = opts.human ? gig(d.freeBytes) : String(d.freeBytes);
      L.push(`  daxdev ${d.index}: ${d.uuid} ${d.path ?? '(not found on this host)'}`);
      L.push(`      size ${size} allocated ${used} free ${free} used ${cFixed(d.percentUsed, 1)}%${d.collisions > 0 ? ` COLLISIONS ${d.collisions}` : ''}${d.problem !== undefined ? `
      ERROR: ${d.problem}` : ''}`);
    }
    L.push('');
  }
  if (r.buckets !== undefined) {
    L.push('Stripe bucket info:');
    for (const b of r.buckets) {
      L.push(`  bucket ${String(b.index).padStart(2)}: offset 0x${b.offset.toString(16)} size ${b.size} allocated ${b.allocatedBytes} free ${b.freeBytes}`);
    }
    L.push('');
  }
  if (opts.verbose) {
    L.push('Verbose:');
    L.push(`  log_offset:        ${sb.logOffset}`);
    L.push(`  log_len:           ${sb.logLen}`);
    L.push('  log_entry components:');
    L.push(`      sizeof(log header) ${LogHeaderLayout.SIZE}`);
    L.push(`      sizeof(log_entry)  ${LogEntryLayout.SIZE}`);
    L.push(`          sizeof(mkdir)     ${MkdirLayout.SIZE}`);
    L.push(`          sizeof(file_meta) ${FileMetaLayout.SIZE}`);
    L.push(`              sizeof(fmap)    ${FmapLayout.SIZE}`);
    L.push(`                  sizeof(interleaved_ext[${MAX_INTERLEAVED_EXTENTS}]): ${InterleavedExtLayout.SIZE}`);
    L.push(`                  sizeof(famfs_simple_ext[${MAX_SIMPLE_EXTENTS}]): ${SimpleExtLayout.SIZE}`);
    L.push(`  last_log_index:    ${r.logHeader.lastIndex}`);
    L.push(`  usable log size:   ${LogHeaderLayout.SIZE + LogEntryLayout.SIZE * r.logHeader.lastIndex}`);
    L.push(`  sizeof(struct famfs_log_file_meta): ${FileMetaLayout.SIZE}`);
    L.push('');
  }
  return `${L.join('\n')}\n`;
}

/** The report as JSON for scripts (numbers as numbers; Infinity as null). */
export function reportJson(r: FsckReport): string {
  const sb = r.superblock;
  const o = {
    device: r.devicePath,
    deviceSize: r.deviceSize,
    clean: r.errors.length === 0,
    superblock: {
      uuid: sb.uuid,
      deviceUuid: sb.devUuid,
      systemUuid: sb.systemUuid,
      allocUnit: sb.allocUnit,
      omfMajor: sb.omfMajor,
      omfMinor: sb.omfMinor,
      version: sb.version,
      logOffset: sb.logOffset,
      logLen: sb.logLen,
      primary: { path: sb.daxdev.path, size: sb.daxdev.size },
    },
    thisHost: { systemUuid: r.systemUuid, role: r.role },
    log: r.log,
    capacity: {
      ...r.capacity,
      spaceAmplification: Number.isFinite(r.capacity.spaceAmplification) ? r.capacity.spaceAmplification : null,
    },
    collisions: r.collisions,
    daxdevs: r.daxdevs.map((d) => ({ ...d, path: d.path ?? null, problem: d.problem ?? null })),
    files: r.files,
    directories: r.directories,
    badEntries: r.badEntries,
    errors: r.errors,
  };
  return `${JSON.stringify(o, null, 2)}\n`;
}
