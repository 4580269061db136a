// Benchmark 2: full replay of a full log, 8 MiB (15,420 entries) and 256 MiB
// (493,447 entries), plus `famfs fsck` wall time on the same images.
//   ours:      new LogReplayer(sb, size).replay(log) — CRC of every entry (one
//              native call), decode, path checks, namespace insert, bitmap claims;
//              and fsck's check-only replay (fileNodes: false: no FileNode per file,
//              the common entries checked natively)
//   baselines: node:zlib crc32 (native) over the same bytes; a plain read() of them
// The log is built fast (bench/log-image.mjs): mkfs.famfs -l <len> on a sparse
// image, then entries encoded with core's encodeLogEntry written straight into
// the log region and the header's next_index/next_seqnum set. Entry mix: a
// two-level directory tree (1 MKDIR per ~100 entries) of FILE entries, each one
// 2 MiB extent, so the 256 MiB log needs a 2 TiB sparse image (tmpfs allows it;
// only the log is written).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  LOG_OFFSET, LogEntryLayout as LE, LogHeaderLayout as LH, LogReplayer, badCrcEntries, crc32, decodeLogEntry, logLastIndex,
  openDevice, readGeometry,
} from '../packages/famfs-core/dist/index.js';
import { FAMFS, MiB, bestOf, fmt, log, mkImage, now, record, table, timeRun, workDir } from './lib.mjs';
import { buildEntries, setLogHeader } from './log-image.mjs';

const REPS = Number(process.env.BENCH_REPLAY_REPS ?? 3);
const work = workDir();

function bench(label, logLen, logLenArg, imageSize) {
  const img = path.join(work, `replay-${logLenArg}.img`);
  const n = logLastIndex(logLen) + 1;
  mkImage(img, imageSize, logLenArg);

  // fsck of the empty file system: process start + open + nothing to replay
  const fsckArgs = ['fsck', img];
  const fsckEmpty = bestOf(REPS, () => timeRun(FAMFS, fsckArgs));

  const t0 = now();
  const { buf, files, dirs, bytesNeeded } = buildEntries(n, LOG_OFFSET + logLen);
  const tEncode = now() - t0;
  if (bytesNeeded > fs.statSync(img).size) throw new Error(`${label}: image too small for ${files} files`);
  const fd = fs.openSync(img, 'r+');
  fs.writeSync(fd, buf, 0, buf.length, LOG_OFFSET + LH.SIZE);
  fs.closeSync(fd);
  setLogHeader(img, n);
  log(`replay ${label}: ${fmt.n(n)} entries (${fmt.n(dirs)} mkdir, ${fmt.n(files)} file) encoded in ${fmt.ms(tEncode)}`);

  const dev = openDevice(img, { writable: false });
  const geo = readGeometry(dev);
  const { sb } = geo;
  const used = geo.log.subarray(LH.SIZE, LH.SIZE + n * LE.SIZE); // the mapped entries
  const usedBytes = used.length; // (the view detaches when the device closes)
  const size = Math.min(dev.size, sb.daxdev.size);

  // baselines
  const readBuf = Buffer.alloc(used.length).fill(1); // touched: read() must not pay for faulting it in
  const rfd = fs.openSync(img, 'r');
  const tRead = bestOf(REPS, () => fs.readSync(rfd, readBuf, 0, readBuf.length, LOG_OFFSET + LH.SIZE));
  fs.closeSync(rfd);
  let sink = 0;
  const tZlib = bestOf(REPS, () => { sink ^= zlib.crc32(used); });
  const tZlibEach = bestOf(REPS, () => {
    for (let i = 0; i < n; i++) sink ^= zlib.crc32(used.subarray(i * LE.SIZE, i * LE.SIZE + LE.CRC));
  });
  // split: core's JS CRC alone, decode (CRC included), the full replay
  const tCrcEach = bestOf(REPS, () => {
    for (let i = 0; i < n; i++) sink ^= crc32(used.subarray(i * LE.SIZE, i * LE.SIZE + LE.CRC));
  });
  const tDecode = bestOf(REPS, () => {
    for (let i = 0; i < n; i++) if (!decodeLogEntry(geo.log, LH.SIZE + i * LE.SIZE, i).ok) throw new Error(`entry ${i} bad`);
  });
  let last;
  const tReplay = bestOf(REPS, () => {
    const rp = new LogReplayer(sb, size);
    rp.replay(geo.log);
    last = rp;
  });
  if (last.namespace.files !== files || last.namespace.dirs !== dirs || last.problems.length !== 0) {
    throw new Error(`${label}: replay saw ${last.namespace.files} files, ${last.namespace.dirs} dirs, ${last.problems.length} problems`);
  }
  // what Famfs.open does: replay(log, dev) also invalidates the log's cache lines first
  const tReplayDev = bestOf(REPS, () => new LogReplayer(sb, size).replay(geo.log, dev));
  // what a full replay does first (every CRC, one native call), and what fsck replays: check only, no FileNode per file
  const tBatchCrc = bestOf(REPS, () => {
    if (badCrcEntries(geo.log, 0, n).length !== 0) throw new Error('bad CRC');
  });
  let checked;
  const tCheck = bestOf(REPS, () => {
    checked = new LogReplayer(sb, size, { fileNodes: false });
    checked.replay(geo.log, dev);
  });
  if (checked.namespace.files !== files || checked.namespace.dirs !== dirs || checked.problems.length !== 0) {
    throw new Error(`${label}: check-only replay saw ${checked.namespace.files} files, ${checked.namespace.dirs} dirs, ${checked.problems.length} problems`);
  }
  dev.close();
  const tFsck = bestOf(REPS, () => timeRun(FAMFS, fsckArgs));
  fs.rmSync(img, { force: true });
  if (sink === 0.5) console.log(sink);

  const MB = usedBytes / 1e6;
  const r = (t) => fmt.x(t / tZlib.best);
  const rr = (t) => fmt.x(t / tRead.best);
  table(`2. Replay ${label} log: ${fmt.n(n)} entries, ${MB.toFixed(0)} MB (best of ${REPS})`,
    ['what', 'best', 'median', 'MB/s', 'vs zlib crc32', 'vs read'], [
      ['read() of the entry bytes (baseline)', fmt.ms(tRead.best), fmt.ms(tRead.median), fmt.mbs(usedBytes, tRead.best), r(tRead.best), '1.00×'],
      ['zlib.crc32, one call (baseline)', fmt.ms(tZlib.best), fmt.ms(tZlib.median), fmt.mbs(usedBytes, tZlib.best), '1.00×', rr(tZlib.best)],
      ['zlib.crc32, per entry', fmt.ms(tZlibEach.best), fmt.ms(tZlibEach.median), fmt.mbs(usedBytes, tZlibEach.best), r(tZlibEach.best), rr(tZlibEach.best)],
      ['core crc32 (JS), per entry', fmt.ms(tCrcEach.best), fmt.ms(tCrcEach.median), fmt.mbs(usedBytes, tCrcEach.best), r(tCrcEach.best), rr(tCrcEach.best)],
      ['badCrcEntries: every entry, one native call', fmt.ms(tBatchCrc.best), fmt.ms(tBatchCrc.median), fmt.mbs(usedBytes, tBatchCrc.best), r(tBatchCrc.best), rr(tBatchCrc.best)],
      ['decodeLogEntry (CRC included), per entry', fmt.ms(tDecode.best), fmt.ms(tDecode.median), fmt.mbs(usedBytes, tDecode.best), r(tDecode.best), rr(tDecode.best)],
      ['**LogReplayer.replay(log)**', fmt.ms(tReplay.best), fmt.ms(tReplay.median), fmt.mbs(usedBytes, tReplay.best), r(tReplay.best), rr(tReplay.best)],
      ['LogReplayer.replay(log, dev) (+ cache invalidate)', fmt.ms(tReplayDev.best), fmt.ms(tReplayDev.median), fmt.mbs(usedBytes, tReplayDev.best), r(tReplayDev.best), rr(tReplayDev.best)],
      ['check-only replay (fsck: fileNodes false), (log, dev)', fmt.ms(tCheck.best), fmt.ms(tCheck.median), fmt.mbs(usedBytes, tCheck.best), r(tCheck.best), rr(tCheck.best)],
      ['`famfs fsck`, empty log (process + open)', fmt.ms(fsckEmpty.best), fmt.ms(fsckEmpty.median), '', '', ''],
      ['`famfs fsck`, full log', fmt.ms(tFsck.best), fmt.ms(tFsck.median), '', '', ''],
    ]);
  const split = tReplay.best;
  console.log(`\nsplit of replay (${fmt.ms(split)}): CRC (one native call) ≈ ${fmt.ms(tBatchCrc.best)} (${pct(tBatchCrc.best, split)}), ` +
    `decode w/o CRC ≈ ${fmt.ms(tDecode.best - tCrcEach.best)} (${pct(tDecode.best - tCrcEach.best, split)}), ` +
    `path checks + namespace + bitmap ≈ ${fmt.ms(split - tBatchCrc.best - (tDecode.best - tCrcEach.best))}`);

  const big = logLen >= 256 * MiB;
  record({
    benchmark: `replay ${label} log (${fmt.n(n)} entries)`,
    ours: fmt.ms(tReplay.best),
    baseline: `zlib crc32 ${fmt.ms(tZlib.best)} / read ${fmt.ms(tRead.best)}`,
    ratio: `${fmt.x(tReplay.best / tZlib.best)} / ${fmt.x(tReplay.best / tRead.best)}`,
    target: big ? '< 1 s' : '—',
    met: big ? (tReplay.best < 1000 ? 'yes' : 'no') : '—',
  });
  record({
    benchmark: `famfs fsck, ${label} log`,
    ours: fmt.ms(tFsck.best),
    baseline: `${fmt.ms(fsckEmpty.best)} (fsck, empty log)`,
    ratio: fmt.x(tFsck.best / fsckEmpty.best),
    target: '—',
    met: '—',
  });
}

function pct(part, whole) {
  return `${Math.round((100 * part) / whole)}%`;
}

bench('8 MiB', 8 * MiB, '8m', '64g');
bench('256 MiB', 256 * MiB, '256m', '2048g');
