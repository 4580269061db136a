import { FamfsError, type InterleaveRequest, RandomStream, MAX_STRIPS } from '@famfs/core';
import { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { type Backend, withBackend } from '../backend.js';
import type { CliIo } from '../io.js';
import { parseMode, parseSize, parseUint, text } from '../sizes.js';
import type { CommandSpec } from './spec.js';
import { itemFailure } from '../failures.js';

export interface MultiCreate {
  path: string;
  size: number;
  seed?: number;
}

export interface CreatContext {
  path?: string;
  size?: number;
  mode: number;
  uid?: number;
  gid?: number;
  randomize: boolean;
  seed?: number;
  interleave?: InterleaveRequest;
  multi: MultiCreate[];
  verbose: boolean;
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/** -N/-B/-C as given; defaults are core's (interleaveParams), applied where the file is created. */
export function interleaveOf(o: Record<string, unknown>, op: string): InterleaveRequest | undefined {
  if (o.nstrips === undefined && o.nbuckets === undefined && o.chunksize === undefined) return undefined;
  const r: InterleaveRequest = {
    nstrips: o.nstrips === undefined ? undefined : parseUint(text(o.nstrips, 'nstrips'), 'nstrips'),
    nbuckets: o.nbuckets === undefined ? undefined : parseUint(text(o.nbuckets, 'nbuckets'), 'nbuckets'),
    chunkSize: o.chunksize === undefined ? undefined : parseSize(text(o.chunksize, 'chunksize'), 'chunk size'),
  };
  if (r.nstrips !== undefined && r.nstrips > MAX_STRIPS) throw new FamfsError('EINVAL', op, `famfs ${op} error: nstrips(${r.nstrips}) > ${MAX_STRIPS}`);
  return r;
}

export function withInterleaveOptions(c: Command): Command {
  return c
    .option('-N, --nstrips <n>', 'interleave: strips per file (<= 16)')
    .option('-B, --nbuckets <n>', 'interleave: buckets the device is split into (nstrips <= nbuckets <= 64)')
    .option('-C, --chunksize <size>', 'interleave: chunk size (power of two multiple of 2m; default 2m)');
}

function parseMulti(s: string): MultiCreate {
  const f = s.split(',').filter((x) => x !== '');
  if (f.length < 2 || f.length > 3) throw new FamfsError('EINVAL', 'creat', `creat: bad --multi argument '${s}' (expected name,size[,seed])`);
  return { path: f[0]!, size: parseSize(f[1]!, 'size'), seed: f[2] === undefined ? undefined : parseUint(f[2], 'seed') };
}

/** Fill a file with the seeded stream that `famfs verify -S` checks. */
export function randomizeFile(b: Backend, rel: string, seed: number): Promise<void> {
  const rs = new RandomStream(seed);
  return b.writeAll(rel, (buf) => rs.fill(buf));
}

export const creatSpec: CommandSpec<CreatContext> = {
  command: () =>
    withInterleaveOptions(
      new Command('creat')
        .description('Create a file in famfs with its space allocated (logged); optionally fill it with seeded random data')
        .argument('[filename]')
        .option('-s, --size <size>', 'file size (k/m/g suffixes, 0x hex)')
        .option('-m, --mode <octal>', 'file mode', '0644')
        .option('-u, --uid <uid>', 'owner uid (default: yours)')
        .option('-g, --gid <gid>', 'owner gid (default: yours)')
        .option('-r, --randomize', 'fill the file with pseudo-random data from --seed')
        .option('-S, --seed <n>', 'seed for --randomize (and for `famfs verify`)')
        .option('-M, --multi <name,size[,seed]>', 'create several files (repeatable); a seed randomizes that file', collect, [])
        .option('-t, --threadct <n>', 'accepted for compatibility (files are filled one after another)')
        .option('-v, --verbose', 'say what was done'),
    ),
  context: (args, o) => {
    const seed = o.seed === undefined ? undefined : parseUint(text(o.seed, 'seed'), 'seed');
    if (seed !== undefined && o.randomize !== true) throw new FamfsError('EINVAL', 'creat', 'creat: Error seed (-S) without randomize (-r) argument');
    const multi = (o.multi as string[]).map(parseMulti);
    if (multi.length > 0 && seed !== undefined) throw new FamfsError('EINVAL', 'creat', 'creat: -S and --multi are incompatible');
    const interleave = interleaveOf(o, 'creat');
    if (multi.length === 0 && args[0] === undefined) throw new FamfsError('EINVAL', 'creat', 'creat: Must specify filename');
    return {
      path: args[0],
      size: o.size === undefined ? undefined : parseSize(text(o.size, 'size'), 'size'),
      mode: parseMode(text(o.mode, 'mode')) & ~process.umask(),
      uid: o.uid === undefined ? undefined : parseUint(text(o.uid, 'uid'), 'uid'),
      gid: o.gid === undefined ? undefined : parseUint(text(o.gid, 'gid'), 'gid'),
      randomize: o.randomize === true,
      seed,
      interleave,
      multi,
      verbose: o.verbose === true,
    };
  },
  run: (io: CliIo, g: GlobalOptions, c: CreatContext) => {
    const paths = c.multi.length > 0 ? c.multi.map((m) => m.path) : [c.path!];
    return withBackend(io, g, 'creat', paths, true, async (b) => {
      const opts = { mode: c.mode, uid: c.uid, gid: c.gid, interleave: c.interleave };
      if (c.multi.length > 0) {
        let errs = 0;
        let created = 0;
        const made: MultiCreate[] = [];
        for (const m of c.multi) {
          try {
            const r = await b.createFile(b.rel(m.path), m.size, opts);
            if (r.created) created++;
            made.push(m);
          } catch (e) {
            io.err(`famfs creat: ${itemFailure(e, 'creat', m.path).message}\n`);
            errs++;
          }
        }
        io.out(`Create complete for ${created} of ${c.multi.length} files with ${errs} errs\n`);
        if (errs > 0) return Math.min(errs, 127);
        const toFill = made.filter((m) => m.seed !== undefined && m.seed !== 0);
        for (const m of toFill) await randomizeFile(b, b.rel(m.path), m.seed!);
        io.out(`Randomize complete for ${toFill.length} of ${c.multi.length} files with 0 errs\n`);
        return 0;
      }
      const rel = b.rel(c.path!);
      let size = c.size;
      if (size === undefined) {
        // upstream: without -s an existing file is a no-op; a new one needs a size
        const n = await b.lookup(rel);
        if (n?.kind !== 'file') throw new FamfsError('EINVAL', 'creat', `creat: ${c.path}: a new file needs a size (-s)`);
        size = n.size;
      }
      const r = await b.createFile(rel, size, opts);
      if (c.verbose && !r.created) io.out(`creat: re-create (${b.display(rel)}) is nop\n`);
      if (c.randomize && c.seed !== undefined && c.seed !== 0) {
        await randomizeFile(b, rel, c.seed);
        io.out(`randomized ${r.size} bytes: ${b.display(rel)}\n`);
      }
      return 0;
    });
  },
  exitCode: () => 1,
};
