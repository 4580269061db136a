import { randomInt } from 'node:crypto';
import { FamfsError, type InterleaveRequest, RandomStream, MAX_STRIPS, usageError } from '@famfs/core';
import { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { type Backend, withBackend } from '../backend.js';
import type { CliIo } from '../io.js';
import { parseMode, parseSize, parseUint, text } from '../sizes.js';
import type { CommandSpec } from './spec.js';
import { itemFailure } from '../failures.js';
import { Progress, wantProgress } from '../progress.js';

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
  /** --daxdev N */
  device?: number;
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
    .option('-C, --chunksize <size>', 'interleave: chunk size (power of two multiple of 2m; default 2m)')
    .option('--daxdev <index>', 'put each (simple) file on this device of the file system (default: the emptiest; famfs-ts)');
}

/** --daxdev N: where a simple file goes. */
export function placementOf(o: Record<string, unknown>): number | undefined {
  return o.daxdev === undefined ? undefined : parseUint(text(o.daxdev, 'daxdev'), 'daxdev');
}

function parseMulti(s: string): MultiCreate {
  const f = s.split(',').filter((x) => x !== '');
  const [name, size, seed] = f;
  if (name === undefined || size === undefined || f.length > 3) throw usageError('creat', `creat: bad --multi argument '${s}' (expected name,size[,seed])`);
  return { path: name, size: parseSize(size, 'size'), seed: seed === undefined ? undefined : parseUint(seed, 'seed') };
}

/** Fill a file with the seeded stream that `famfs verify -S` checks. */
export async function randomizeFile(b: Backend, rel: string, seed: number, progress?: { io: CliIo; size: number }): Promise<void> {
  const rs = new RandomStream(seed);
  const bar = progress !== undefined && wantProgress(progress.io, progress.size) ? new Progress(progress.io, `famfs creat: ${b.display(rel)}`, progress.size) : undefined;
  try {
    await b.writeAll(rel, (buf, off) => {
      rs.fill(buf);
      bar?.update(off + buf.length);
    });
  } finally {
    bar?.finish();
  }
}

/** A seed for `creat -r` without -S: non-zero and 32 bits, as upstream's stream uses it (printed, so that `famfs verify -S` can check the file). */
export function pickSeed(): number {
  return randomInt(1, 2 ** 32);
}

/** upstream's range for -t/--threadct where it checks it (creat --multi, verify -m) */
export const MAX_THREADCT = 256;

/** -t/--threadct: 0..256, as upstream checks it; famfs-ts fills files one after another either way. */
export function threadct(o: Record<string, unknown>, op: string): number | undefined {
  if (o.threadct === undefined) return undefined;
  const t = text(o.threadct, 'threadct');
  const n = /^-?\d+$/.test(t.trim()) ? Number(t) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > MAX_THREADCT) throw usageError(op, `${op}: bad threadct: ${t} (0..${MAX_THREADCT})`);
  return n;
}

/**
 * The size to create `rel` with: as given; or, for an existing file when
 * the size is 0 or not given, the file's own size (upstream: re-creating is
 * a no-op that keeps the file, and `-M FILE,0,SEED` re-randomizes it). A new
 * file needs a size.
 */
async function sizeFor(b: Backend, rel: string, size: number | undefined, shown: string): Promise<number> {
  if (size !== undefined && size !== 0) return size;
  const e = await b.lookup(rel);
  if (e === undefined) throw new FamfsError('EINVAL', 'creat', `creat: ${shown}: Error: new file size=zero (give a size with -s)`, shown);
  if (e.kind !== 'file') throw new FamfsError('EISDIR', 'creat', `creat: ${shown}: exists and is not a regular file`, shown);
  return e.size;
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
        .option('-M, --multi <name,size[,seed]>', 'create several files (repeatable); size 0 keeps an existing file; a seed randomizes that file', collect, [])
        .option('-t, --threadct <n>', '0..256, accepted for compatibility (files are filled one after another)')
        .option('-v, --verbose', 'say what was done'),
    ),
  context: (args, o) => {
    const seed = o.seed === undefined ? undefined : parseUint(text(o.seed, 'seed'), 'seed');
    if (seed !== undefined && o.randomize !== true) throw usageError('creat', 'creat: Error seed (-S) without randomize (-r) argument');
    // upstream writes nothing for seed 0 (or -r without -S); famfs-ts never skips silently
    if (seed === 0) throw usageError('creat', 'creat: seed 0 fills nothing: give -S a non-zero seed, or leave -S out to have one picked and printed');
    const multi = (o.multi as string[]).map(parseMulti);
    if (multi.length > 0 && seed !== undefined) throw usageError('creat', 'creat: -S and --multi are incompatible');
    const interleave = interleaveOf(o, 'creat');
    threadct(o, 'creat');
    if (multi.length === 0 && args[0] === undefined) throw usageError('creat', 'creat: Must specify filename');
    return {
      path: args[0],
      size: o.size === undefined ? undefined : parseSize(text(o.size, 'size'), 'size'),
      mode: parseMode(text(o.mode, 'mode')) & ~process.umask(),
      uid: o.uid === undefined ? undefined : parseUint(text(o.uid, 'uid'), 'uid'),
      gid: o.gid === undefined ? undefined : parseUint(text(o.gid, 'gid'), 'gid'),
      randomize: o.randomize === true,
      seed,
      interleave,
      device: placementOf(o),
      multi,
      verbose: o.verbose === true,
    };
  },
  run: (io: CliIo, g: GlobalOptions, c: CreatContext) => {
    const paths = c.multi.length > 0 ? c.multi.map((m) => m.path) : [c.path ?? ''];
    return withBackend(io, g, 'creat', paths, true, async (b) => {
      const opts = { mode: c.mode, uid: c.uid, gid: c.gid, interleave: c.interleave, device: c.device };
      if (c.multi.length > 0) {
        // upstream: every file is attempted; if any fails, none is randomized
        // and the exit is the number that failed
        let errs = 0;
        let created = 0;
        const made: Array<MultiCreate & { rel: string }> = [];
        for (const m of c.multi) {
          try {
            const rel = b.rel(m.path);
            const r = await b.createFile(rel, await sizeFor(b, rel, m.size, m.path), opts);
            if (r.created) created++;
            made.push({ ...m, rel });
          } catch (e) {
            io.err(`famfs creat: ${itemFailure(e, 'creat', m.path).message}\n`);
            errs++;
          }
        }
        io.out(`Create complete for ${created} of ${c.multi.length} files with ${errs} errs\n`);
        if (errs > 0) return Math.min(errs, 127);
        const toFill = made.filter((m) => m.seed !== undefined && m.seed !== 0);
        for (const m of toFill) await randomizeFile(b, m.rel, m.seed ?? 0);
        io.out(`Randomize complete for ${toFill.length} of ${c.multi.length} files with 0 errs\n`);
        return 0;
      }
      const shown = c.path ?? '';
      const rel = b.rel(shown);
      const r = await b.createFile(rel, await sizeFor(b, rel, c.size, shown), opts);
      if (c.verbose && !r.created) io.out(`creat: re-create (${b.display(rel)}) is nop\n`);
      if (c.randomize) {
        const picked = c.seed === undefined;
        const seed = c.seed ?? pickSeed();
        await randomizeFile(b, rel, seed, { io, size: r.size });
        io.out(`randomized ${r.size} bytes: ${b.display(rel)}${picked ? ` (seed ${seed}: famfs verify -S ${seed} checks it)` : ''}\n`);
      }
      return 0;
    });
  },
  // upstream: a failed creat is 1; --multi exits with the number of files that failed
  exitCode: () => 1,
};
