// A famfs image with a full log, made fast (bench/replay.mjs, bench/startup.mjs):
// mkfs.famfs -l <len> on a sparse image, then entries from core's
// encodeLogEntry written straight into the log region and the header's
// next_index/next_seqnum set. Entry mix: a two-level directory tree (1 MKDIR
// per ~100 entries) of FILE entries, each one 2 MiB extent, so a 256 MiB log
// (493,447 entries) needs a 2 TiB sparse image (only the log is written).
import * as fs from 'node:fs';
import { LOG_OFFSET, LogEntryLayout as LE, LogHeaderLayout as LH, encodeLogEntry, logLastIndex } from '../packages/famfs-core/dist/index.js';
import { MiB, mkImage } from './lib.mjs';

/** Fill entries [0, n) of a buffer (the log region minus its header): dirs dirNNNN/subNNN, files below them. */
export function buildEntries(n, firstDataOffset) {
  const buf = Buffer.alloc(n * LE.SIZE);
  const FANOUT = 64; // subdirectories per top directory
  const PER_DIR = 100; // files per subdirectory
  let i = 0;
  let nextUnit = firstDataOffset;
  const put = (body) => {
    buf.set(encodeLogEntry({ ...body, seqnum: i }), i * LE.SIZE);
    i++;
  };
  const mkdir = (relpath) => put({ type: 'mkdir', mkdir: { relpath, mode: 0o755, uid: 0, gid: 0 } });
  let files = 0;
  let dirs = 0;
  for (let top = 0; i < n; top++) {
    const t = `dir${String(top).padStart(4, '0')}`;
    mkdir(t);
    dirs++;
    for (let s = 0; s < FANOUT && i < n; s++) {
      const sd = `${t}/sub${String(s).padStart(3, '0')}`;
      mkdir(sd);
      dirs++;
      for (let f = 0; f < PER_DIR && i < n; f++) {
        put({
          type: 'file',
          file: {
            relpath: `${sd}/file-${String(f).padStart(3, '0')}.dat`,
            size: 2 * MiB - 4096 * (f % 7), flags: 2, mode: 0o644, uid: 1000, gid: 1000,
            fmap: { type: 'simple', extents: [{ devIndex: 0, offset: nextUnit, len: 2 * MiB }] },
          },
        });
        nextUnit += 2 * MiB;
        files++;
      }
    }
  }
  return { buf, files, dirs, bytesNeeded: nextUnit };
}

/** Set the log header's next_seqnum and next_index to n. */
export function setLogHeader(img, n) {
  const fd = fs.openSync(img, 'r+');
  const h = Buffer.alloc(16);
  h.writeBigUInt64LE(BigInt(n), 0); // next_seqnum
  h.writeBigUInt64LE(BigInt(n), 8); // next_index
  fs.writeSync(fd, h, 0, 16, LOG_OFFSET + LH.NEXT_SEQNUM);
  fs.closeSync(fd);
}

/** Write a full log (every entry used) into an image mkfs'd with a log of `logLen` bytes. */
export function fillLog(img, logLen) {
  const n = logLastIndex(logLen) + 1;
  const { buf, files, dirs, bytesNeeded } = buildEntries(n, LOG_OFFSET + logLen);
  if (bytesNeeded > fs.statSync(img).size) throw new Error(`${img}: image too small for ${files} files`);
  const fd = fs.openSync(img, 'r+');
  fs.writeSync(fd, buf, 0, buf.length, LOG_OFFSET + LH.SIZE);
  fs.closeSync(fd);
  setLogHeader(img, n);
  return { entries: n, files, dirs };
}

/** mkfs.famfs a sparse image of `imageSize` with a log of `logLenArg` ('256m'), then fill the log. */
export function makeFullLogImage(img, logLen, logLenArg, imageSize) {
  mkImage(img, imageSize, logLenArg);
  return fillLog(img, logLen);
}
