import { FamfsError, type Famfs, RandomStream } from '@famfs/core';
import { Command } from 'commander';
import { withFs, type GlobalOptions } from '../context.js';
import type { CliIo } from '../io.js';
import { parseUint } from '../sizes.js';
import type { CommandSpec } from './spec.js';

export interface VerifyContext {
  files: Array<{ path: string; seed: number }>;
  multi: boolean;
  quiet: boolean;
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/** -1 when the file holds the seeded stream, else the offset of the first bad 4-byte word. */
export function verifyFile(fs: Famfs, path: string, seed: number): { size: number; bad: number } {
  const file = fs.statFile(path);
  const rs = new RandomStream(seed);
  let bad = -1;
  let buf = new Uint8Array(0);
  fs.forEachView(file, 0, file.size, (v, fileOffset) => {
    fs.dev.invalidate(v);
    if (buf.length < v.length) buf = new Uint8Array(v.length);
    const want = buf.subarray(0, v.length);
    rs.fill(want);
    if (Buffer.compare(want, v) !== 0) {
      for (let i = 0; i < v.length; i++) {
        if (v[i] !== want[i]) {
          bad = fileOffset + i - (i % 4);
          break;
        }
      }
      return false;
    }
    return true;
  });
  return { size: file.size, bad };
}

export const verifySpec: CommandSpec<VerifyContext> = {
  command: () =>
    new Command('verify')
      .description('Verify that a file holds the pseudo-random data `famfs creat -r -S seed` wrote')
      .option('-f, --filename <file>', 'file to verify')
      .option('-S, --seed <n>', 'the seed it was created with')
      .option('-m, --multi <file,seed>', 'verify several files (repeatable)', collect, [])
      .option('-t, --threadct <n>', 'accepted for compatibility')
      .option('-q, --quiet', 'print only failures'),
  context: (_args, o) => {
    const multi = (o.multi as string[]).map((s) => {
      const f = s.split(',').filter((x) => x !== '');
      if (f.length !== 2) throw new FamfsError('EINVAL', 'verify', `verify: bad multi arg '${s}' (expected file,seed)`);
      return { path: f[0]!, seed: parseUint(f[1]!, 'seed') };
    });
    if (multi.length > 0) {
      if (o.filename !== undefined || o.seed !== undefined) throw new FamfsError('EINVAL', 'verify', 'verify: -S|-f and -m incompatible');
      return { files: multi, multi: true, quiet: o.quiet === true };
    }
    if (o.filename === undefined) throw new FamfsError('EINVAL', 'verify', 'verify: Must supply filename');
    const seed = o.seed === undefined ? 0 : parseUint(String(o.seed), 'seed');
    if (seed === 0) throw new FamfsError('EINVAL', 'verify', 'verify: Must specify random seed to verify file data');
    return { files: [{ path: String(o.filename), seed }], multi: false, quiet: o.quiet === true };
  },
  run: (io: CliIo, g: GlobalOptions, c: VerifyContext) =>
    withFs(io, g, 'verify', false, (fs) => {
      let errs = 0;
      if (c.multi && !c.quiet) io.out(`verify_multi: threads=1 nfiles=${c.files.length}\n`);
      for (const f of c.files) {
        try {
          const r = verifyFile(fs, f.path, f.seed);
          if (r.bad >= 0) {
            io.err(`Verify fail: ${f.path} at offset ${r.bad} of ${r.size} bytes\n`);
            errs++;
          } else if (!c.quiet) {
            io.out(`Success: verified ${r.size} bytes in file ${f.path}\n`);
          }
        } catch (e) {
          if (!(e instanceof FamfsError) || !c.multi) throw e;
          io.err(`famfs verify: ${e.message}\n`);
          errs++;
        }
      }
      if (c.multi) io.out(`Verify complete for ${c.files.length} files with ${errs} errs\n`);
      return Math.min(errs, 127);
    }),
  exitCode: () => 1,
};
