// Benchmark 3: `famfs cp` of a 1 GiB file into famfs vs coreutils `cp` of the
// same file into tmpfs. The source (random data, made once) and both
// destinations are on the scratch dir (/dev/shm). Wall time of the whole
// command, best of REPS; each run writes to fresh memory (a new image / a
// removed destination), so both pay for allocating 1 GiB of tmpfs pages, and
// each run is preceded (untimed) by warmMemory() so both get host-backed pages
// (see lib.mjs).
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Famfs } from '../packages/famfs-core/dist/index.js';
import { FAMFS, GiB, MiB, bestOf, fmt, log, mkImage, now, record, run, systemUuid, table, timeRun, warmMemory, workDir } from './lib.mjs';

const REPS = Number(process.env.BENCH_CP_REPS ?? 3);
const SIZE = Number(process.env.BENCH_CP_SIZE ?? GiB);
const work = workDir();
const src = path.join(work, 'cp-src.bin');
const dst = path.join(work, 'cp-dst.bin');
const img = path.join(work, 'cp.img');
const CHUNK = 64 * MiB;

// the source: random data, written once
{
  const t0 = now();
  const buf = Buffer.allocUnsafe(CHUNK);
  const fd = fs.openSync(src, 'w');
  for (let off = 0; off < SIZE; off += CHUNK) {
    const n = Math.min(CHUNK, SIZE - off);
    randomFillSync(buf, 0, n);
    fs.writeSync(fd, buf, 0, n, off);
  }
  fs.closeSync(fd);
  log(`cp: ${fmt.n(SIZE)}-byte random source made in ${fmt.ms(now() - t0)}`);
}

/** Compare a famfs file's bytes with the source. */
function verify(dest) {
  const f = Famfs.open(img, { writable: false, systemUuid: systemUuid() });
  try {
    const file = f.statFile(dest);
    if (file.size !== SIZE) throw new Error(`famfs ${dest}: size ${file.size}, expected ${SIZE}`);
    const a = Buffer.allocUnsafe(CHUNK);
    const b = Buffer.allocUnsafe(CHUNK);
    const fd = fs.openSync(src, 'r');
    for (let off = 0; off < SIZE; off += CHUNK) {
      const n = Math.min(CHUNK, SIZE - off);
      fs.readSync(fd, a, 0, n, off);
      f.readInto(file, off, b.subarray(0, n));
      if (a.compare(b, 0, n, 0, n) !== 0) throw new Error(`famfs ${dest}: data differs from the source in [${off}, ${off + n})`);
    }
    fs.closeSync(fd);
  } finally {
    f.close();
  }
}

// ---- baseline: cp into tmpfs
const WARM = Math.round(SIZE * 1.25);
const tmpfsCp = bestOf(
  REPS,
  () => run('cp', [src, dst]),
  () => {
    fs.rmSync(dst, { force: true });
    warmMemory(work, WARM);
  },
  () => fs.rmSync(dst, { force: true }),
);

// ---- famfs cp into a fresh image each time
const famfsCp = bestOf(
  REPS,
  () => run(FAMFS, ['-D', img, 'cp', src, '/big']),
  () => {
    mkImage(img, '8g');
    warmMemory(work, WARM);
  },
  (_, i) => {
    if (i === 0) verify('big');
  },
);

// ---- details: overwrite in place (memory already allocated), and process start + open + a 4 KiB copy
const overwrite = bestOf(REPS, () => run(FAMFS, ['-D', img, 'cp', src, '/big']));
verify('big');
const tiny = path.join(work, 'cp-tiny.bin');
fs.writeFileSync(tiny, Buffer.alloc(4096, 7));
const small = bestOf(REPS, (_, i) => timeRun(FAMFS, ['-D', img, 'cp', tiny, `/tiny${i}`]));
fs.rmSync(img, { force: true });
fs.rmSync(src, { force: true });
fs.rmSync(tiny, { force: true });

const mbs = (ms) => SIZE / 1e6 / (ms / 1000);
const ratio = mbs(famfsCp.best) / mbs(tmpfsCp.best);
table(`3. Copy ${fmt.n(SIZE / MiB)} MiB into famfs vs into tmpfs (wall time of the command, best of ${REPS})`,
  ['what', 'best', 'median', 'MB/s (best)', 'vs baseline'], [
    ['`cp` to tmpfs (baseline)', fmt.ms(tmpfsCp.best), fmt.ms(tmpfsCp.median), fmt.mbs(SIZE, tmpfsCp.best), '1.00×'],
    ['**`famfs cp`, new file (fresh image)**', fmt.ms(famfsCp.best), fmt.ms(famfsCp.median), fmt.mbs(SIZE, famfsCp.best), fmt.x(ratio)],
    ['`famfs cp`, overwrite in place (memory already allocated)', fmt.ms(overwrite.best), fmt.ms(overwrite.median), fmt.mbs(SIZE, overwrite.best), fmt.x(mbs(overwrite.best) / mbs(tmpfsCp.best))],
    ['`famfs cp` of a 4 KiB file (process start + open + replay)', fmt.ms(small.best), fmt.ms(small.median), '', ''],
  ]);

record({
  benchmark: `famfs cp ${fmt.n(SIZE / MiB)} MiB file (new)`,
  ours: fmt.mbs(SIZE, famfsCp.best),
  baseline: `${fmt.mbs(SIZE, tmpfsCp.best)} (cp to tmpfs)`,
  ratio: fmt.x(ratio),
  target: '≥ 1.00×',
  met: ratio >= 1 ? 'yes' : 'no',
});
