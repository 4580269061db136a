// Benchmark 1: files created per second through the Famfs API, one process.
//   famfs:    Famfs.open(img, {writable, systemUuid}) then createFile() × N
//             (a) one locked session per file (what N `famfs creat` calls do, minus process start)
//             (b) all N inside one fs.locked('bench', …) batch
//   baseline: N empty files with fs.writeFileSync in a tmpfs directory, same run.
// The image is a sparse 32 GiB file in the scratch dir (/dev/shm): N 2 MiB files
// claim 20 GiB of allocation units but only the log is ever written.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Famfs } from '../packages/famfs-core/dist/index.js';
import { MiB, bestOf, fmt, log, mkImage, record, systemUuid, table, workDir } from './lib.mjs';

const N = Number(process.env.BENCH_CREATE_N ?? 10_000);
const REPS = Number(process.env.BENCH_CREATE_REPS ?? 3);
const FILE_SIZE = 2 * MiB;
const IMAGE_SIZE = '32g';
const work = workDir();
const uuid = systemUuid();
const names = Array.from({ length: N }, (_, i) => `f${String(i).padStart(5, '0')}`);

// ---- baseline: node:fs on tmpfs
const tdir = path.join(work, 'create-tmpfs');
const base = bestOf(
  REPS,
  () => {
    for (const n of names) fs.writeFileSync(path.join(tdir, n), '');
  },
  () => fs.mkdirSync(tdir),
  () => fs.rmSync(tdir, { recursive: true, force: true }),
);

// ---- famfs
const img = path.join(work, 'create.img');
function famfsRun(batch) {
  let opened;
  const r = bestOf(
    REPS,
    (fsys) => {
      if (batch) fsys.locked('bench', () => { for (const n of names) fsys.createFile(n, FILE_SIZE); });
      else for (const n of names) fsys.createFile(n, FILE_SIZE);
    },
    () => {
      mkImage(img, IMAGE_SIZE, '8m');
      return Famfs.open(img, { writable: true, systemUuid: uuid });
    },
    (fsys) => {
      if (fsys.namespace.files !== N || fsys.problems.length !== 0) {
        throw new Error(`created ${fsys.namespace.files} files, ${fsys.problems.length} replay problems`);
      }
      fsys.close();
      // what a fresh process sees: replay of the whole log
      const check = Famfs.open(img, { writable: false, systemUuid: uuid });
      if (check.namespace.files !== N) throw new Error(`reopen sees ${check.namespace.files} files, expected ${N}`);
      opened = check.logUsage();
      check.close();
      fs.rmSync(img, { force: true });
    },
  );
  return { ...r, usage: opened };
}
log(`create: ${N} files × ${REPS} runs (loop, batch, tmpfs baseline)`);
const loop = famfsRun(false);
const batch = famfsRun(true);

const rate = (ms) => N / (ms / 1000);
const rows = [
  ['node:fs writeFileSync, tmpfs (baseline)', fmt.ms(base.best), fmt.ms(base.median), `${fmt.rate(rate(base.best))}/s`, '1.00×'],
  ['famfs createFile, lock per file', fmt.ms(loop.best), fmt.ms(loop.median), `${fmt.rate(rate(loop.best))}/s`, fmt.x(rate(loop.best) / rate(base.best))],
  ['famfs createFile, one locked batch', fmt.ms(batch.best), fmt.ms(batch.median), `${fmt.rate(rate(batch.best))}/s`, fmt.x(rate(batch.best) / rate(base.best))],
];
table(`1. Create ${fmt.n(N)} files in one process (best of ${REPS}; log ${loop.usage.used}/${loop.usage.capacity} entries)`,
  ['what', 'best', 'median', 'files/s', 'vs baseline'], rows);

for (const [label, r] of [['lock per file', loop], ['one locked batch', batch]]) {
  record({
    benchmark: `create ${fmt.n(N)} files (${label})`,
    ours: `${fmt.rate(rate(r.best))} files/s`,
    baseline: `${fmt.rate(rate(base.best))} files/s (node:fs, tmpfs)`,
    ratio: fmt.x(rate(r.best) / rate(base.best)),
    target: '—',
    met: '—',
  });
}
