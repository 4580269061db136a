import { FamfsError, RandomStream } from '@famfs/core';
import { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { type Backend, withBackend } from '../backend.js';
import type { CliIo } from '../io.js';
import { parseUint, text } from '../sizes.js';
import type { CommandSpec } from './spec.js';
import { threadct } from './creat.js';
import { itemFailure } from '../failures.js';
import { Progress, wantProgress } from '../progress.js';

export interface VerifyContext {
  files: Array<{ path: string; seed: number }>;
  multi: boolean;
  quiet: boolean;
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/** -1 when the file holds the seeded stream, else the offset of the first bad 4-byte word. */
export async function verifyFile(b: Backend, rel: string, seed: number, io?: CliIo): Promise<{ size: number; bad: number }> {
  const n = await b.lookup(rel);
  if (n === undefined) throw new FamfsError('ENOENT', 'verify', `verify: ${b.display(rel)}: no such file`);
  if (n.kind !== 'file') throw new FamfsError('EISDIR', 'verify', `verify: ${b.display(rel)}: is a directory`);
  const rs = new RandomStream(seed);
  let bad = -1;
  let want = new Uint8Array(0);
  const bar = io !== undefined && wantProgress(io, n.size) ? new Progress(io, `famfs verify: ${b.display(rel)}`, n.size) : undefined;
  try {
    await b.readAll(rel, (v, fileOffset) => {
      bar?.update(fileOffset + v.length);
      if (want.length < v.length) want = new Uint8Array(v.length);
      const w = want.subarray(0, v.length);
      rs.fill(w);
      if (Buffer.compare(w, v) === 0) return true;
      for (let i = 0; i < v.length; i++) {
        if (v[i] !== w[i]) {
          bad = fileOffset + i - (i % 4);
          break;
        }
      }
      return false;
    });
  } finally {
    bar?.finish();
  }
  return { size: n.size, bad };
}

export const verifySpec: CommandSpec<VerifyContext> = {
  command: () =>
    new Command('verify')
      .description('Verify that a file holds the pseudo-random data `famfs creat -r -S seed` wrote')
      .option('-f, --filename <file>', 'file to verify')
      .option('-S, --seed <n>', 'the seed it was created with')
      .option('-m, --multi <file,seed>', 'verify several files (repeatable)', collect, [])
      .option('-t, --threadct <n>', '0..256 with -m, accepted for compatibility (files are verified one after another)')
      .option('-q, --quiet', 'print only failures'),
  context: (_args, o) => {
    const multi = (o.multi as string[]).map((s) => {
      const f = s.split(',').filter((x) => x !== '');
      if (f.length !== 2) throw new FamfsError('EINVAL', 'verify', `verify: bad multi arg '${s}' (expected file,seed)`);
      return { path: f[0]!, seed: parseUint(f[1]!, 'seed') };
    });
    if (multi.length > 0) {
      threadct(o, 'verify');
      if (o.filename !== undefined || o.seed !== undefined) throw new FamfsError('EINVAL', 'verify', 'verify: -S|-f and -m incompatible');
      return { files: multi, multi: true, quiet: o.quiet === true };
    }
    if (o.filename === undefined) throw new FamfsError('EINVAL', 'verify', 'verify: Must supply filename');
    const seed = o.seed === undefined ? 0 : parseUint(text(o.seed, 'seed'), 'seed');
    if (seed === 0) throw new FamfsError('EINVAL', 'verify', 'verify: Must specify random seed to verify file data');
    return { files: [{ path: text(o.filename, 'filename'), seed }], multi: false, quiet: o.quiet === true };
  },
  run: (io: CliIo, g: GlobalOptions, c: VerifyContext) =>
    withBackend(io, g, 'verify', c.files.map((f) => f.path), false, async (b) => {
      let errs = 0;
      if (c.multi && !c.quiet) io.out(`verify_multi: threads=1 nfiles=${c.files.length}\n`);
      for (const f of c.files) {
        try {
          const r = await verifyFile(b, b.rel(f.path), f.seed, io);
          if (r.bad >= 0) {
            io.err(`Verify fail: ${f.path} at offset ${r.bad} of ${r.size} bytes\n`);
            errs++;
          } else if (!c.quiet) {
            io.out(`Success: verified ${r.size} bytes in file ${f.path}\n`);
          }
        } catch (e) {
          if (!c.multi) throw e;
          io.err(`famfs verify: ${itemFailure(e, 'verify', f.path).message}\n`);
          errs++;
        }
      }
      if (c.multi) io.out(`Verify complete for ${c.files.length} files with ${errs} errs\n`);
      return Math.min(errs, 127);
    }),
  exitCode: () => 1,
};
