import * as nodefs from 'node:fs';
import * as path from 'node:path';
import { FamfsError, type InterleaveRequest, describeErrno, fromSystemError, parentOf } from '@famfs/core';
import { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { type Backend, withBackend } from '../backend.js';
import type { CliIo } from '../io.js';
import { parseMode, parseUint, text } from '../sizes.js';
import { Progress } from '../progress.js';
import { interleaveOf, withInterleaveOptions } from './creat.js';
import type { CommandSpec } from './spec.js';

export interface CpContext {
  sources: string[];
  dest: string;
  recursive: boolean;
  /** 0: the source's mode */
  mode: number;
  uid?: number;
  gid?: number;
  interleave?: InterleaveRequest;
  verbose: boolean;
}

/** Show a progress bar for copies of at least this much (when stdout is a terminal). */
const PROGRESS_MIN = 64 * 1024 * 1024;

/**
 * Copy one local file into famfs. An existing destination of the same size
 * is overwritten in place (cp is restartable); a different size is an
 * error. On an unmounted device the data is read straight into device
 * memory and flushed.
 */
export async function copyFileIn(b: Backend, io: CliIo, src: string, rel: string, c: CpContext, st: nodefs.Stats): Promise<void> {
  await b.createFile(rel, st.size, { mode: c.mode !== 0 ? c.mode : st.mode & 0o777, uid: c.uid, gid: c.gid, interleave: c.interleave });
  const fd = nodefs.openSync(src, 'r');
  const bar = io.isTty && st.size >= PROGRESS_MIN ? new Progress(io, `famfs cp: ${b.display(rel)}`, st.size) : undefined;
  try {
    // an emulated device (image file): the kernel copies, as coreutils cp does
    if (bar === undefined && (await b.copyFromFd(rel, fd))) return;
    await b.writeAll(rel, (buf, fileOffset) => {
      for (let got = 0; got < buf.length; ) {
        const n = nodefs.readSync(fd, buf, got, buf.length - got, fileOffset + got);
        if (n === 0) throw new FamfsError('EIO', 'cp', `cp: ${src}: file shrank while being copied`, src);
        got += n;
      }
      bar?.update(fileOffset + buf.length);
    });
  } finally {
    nodefs.closeSync(fd);
    bar?.done();
  }
}

export const cpSpec: CommandSpec<CpContext> = {
  command: () =>
    withInterleaveOptions(
      new Command('cp')
        .description('Copy files (and with -r, trees) from the local file system into famfs')
        .argument('<paths...>', 'sources then the famfs destination')
        .option('-r, --recursive', 'copy directories recursively')
        .option('-m, --mode <octal>', 'mode of the new files (default: the source mode)')
        .option('-u, --uid <uid>', 'owner uid (default: yours)')
        .option('-g, --gid <gid>', 'owner gid (default: yours)')
        .option('-t, --threadct <n>', 'accepted for compatibility')
        .option('-v, --verbose', 'print each file copied'),
    ),
  context: (args, o) => {
    const all = (Array.isArray(args[0]) ? (args[0] as unknown as string[]) : args) ?? [];
    if (all.length < 2) throw new FamfsError('EINVAL', 'cp', 'famfs cp error: source and dest args required');
    return {
      sources: all.slice(0, -1),
      dest: all[all.length - 1]!,
      recursive: o.recursive === true,
      mode: o.mode === undefined ? 0 : parseMode(text(o.mode, 'mode')) & ~process.umask(),
      uid: o.uid === undefined ? undefined : parseUint(text(o.uid, 'uid'), 'uid'),
      gid: o.gid === undefined ? undefined : parseUint(text(o.gid, 'gid'), 'gid'),
      interleave: interleaveOf(o, 'cp'),
      verbose: o.verbose === true,
    };
  },
  run: (io: CliIo, g: GlobalOptions, c: CpContext) =>
    withBackend(io, g, 'cp', [c.dest], true, async (b) => {
      let errs = 0;
      const dest = b.rel(c.dest);
      const isDir = async (rel: string) => rel === '' || (await b.lookup(rel))?.kind === 'dir';
      const destIsDir = await isDir(dest);
      if ((c.sources.length > 1 || c.recursive) && !destIsDir) {
        if ((await b.lookup(dest)) !== undefined) {
          throw new FamfsError('ENOTDIR', 'cp', `cp: destination (${c.dest}) exists and is not a directory`);
        }
        if (!c.recursive) throw new FamfsError('ENOENT', 'cp', `cp: destination directory (${c.dest}) does not exist`);
      }
      const copyTree = async (src: string, to: string, st: nodefs.Stats): Promise<void> => {
        if (!(await isDir(to))) await b.mkdir(to, { mode: st.mode & 0o777, uid: c.uid, gid: c.gid });
        for (const name of nodefs.readdirSync(src).sort()) await copyOne(path.join(src, name), `${to}/${name}`);
      };
      const copyOne = async (src: string, to: string): Promise<void> => {
        const st = nodefs.statSync(src);
        if (st.isDirectory()) {
          if (!c.recursive) {
            io.err(`famfs cp: -r not specified; omitting directory '${src}'\n`);
            errs++;
            return;
          }
          return copyTree(src, to, st);
        }
        if (!st.isFile()) throw new FamfsError('EINVAL', 'cp', `cp: skipping '${src}': not a regular file or directory`, src);
        if (st.size === 0) {
          io.err(`famfs cp: skipping empty file '${src}' (famfs files have a fixed, non-zero size)\n`);
          errs++;
          return;
        }
        await copyFileIn(b, io, src, to, c, st);
        if (c.verbose) io.out(`famfs cp: 100%: ${b.display(to)}\n`);
      };
      for (const src of c.sources) {
        let st: nodefs.Stats;
        try {
          st = nodefs.statSync(src);
        } catch (e) {
          const err = fromSystemError(e, 'cp', src);
          throw new FamfsError(err.code, 'cp', `cp: cannot stat '${src}': ${describeErrno(err.code)}`, { path: src, kind: err.kind });
        }
        const base = path.basename(path.resolve(src));
        if (destIsDir) await copyOne(src, dest === '' ? base : `${dest}/${base}`);
        else if (st.isDirectory()) {
          // cp -r srcdir newdir: newdir is made and receives srcdir's contents
          if (!(await isDir(parentOf(dest)))) throw new FamfsError('ENOENT', 'cp', `cp: parent of ${c.dest} does not exist`);
          await copyTree(src, dest, st);
        } else await copyOne(src, dest);
      }
      return errs > 0 ? 1 : 0;
    }),
  // upstream: a failed file is exit 1 (an abort is -1, also 1)
  exitCode: () => 1,
};
