import * as nodefs from 'node:fs';
import * as path from 'node:path';
import { FamfsError, type Famfs, type FileNode, normalize, parentOf } from '@famfs/core';
import { Command } from 'commander';
import { withFs, type GlobalOptions } from '../context.js';
import type { CliIo } from '../io.js';
import { parseMode, parseUint } from '../sizes.js';
import { Progress } from '../progress.js';
import { interleaveOf, withInterleaveOptions } from './creat.js';
import type { InterleaveParams } from '@famfs/core';
import type { CommandSpec } from './spec.js';

export interface CpContext {
  sources: string[];
  dest: string;
  recursive: boolean;
  /** 0: the source's mode */
  mode: number;
  uid?: number;
  gid?: number;
  interleave?: InterleaveParams;
  verbose: boolean;
}

/** Copy in 8 MiB pieces: big enough to stream, small enough to keep memory flat. */
const COPY_STEP = 8 * 1024 * 1024;
/** Show a progress bar for copies of at least this much (when stdout is a terminal). */
const PROGRESS_MIN = 64 * 1024 * 1024;

/**
 * Copy one local file into famfs. An existing destination of the same size
 * is overwritten in place (cp is restartable); a different size is EEXIST.
 * Data is read from the source straight into device memory and flushed.
 */
export function copyFileIn(fs: Famfs, io: CliIo, src: string, dest: string, c: CpContext, srcStat: nodefs.Stats): FileNode {
  const { file } = fs.createFile(dest, srcStat.size, {
    mode: c.mode !== 0 ? c.mode : srcStat.mode & 0o777,
    uid: c.uid,
    gid: c.gid,
    interleave: c.interleave,
  });
  const fd = nodefs.openSync(src, 'r');
  const bar = io.isTty && file.size >= PROGRESS_MIN ? new Progress(io, `famfs cp: ${dest}`, file.size) : undefined;
  try {
    fs.forEachView(file, 0, file.size, (view, fileOffset) => {
      for (let done = 0; done < view.length; ) {
        const piece = view.subarray(done, Math.min(view.length, done + COPY_STEP));
        let got = 0;
        while (got < piece.length) {
          const n = nodefs.readSync(fd, piece, got, piece.length - got, fileOffset + done + got);
          if (n === 0) throw new FamfsError('EIO', 'cp', `cp: ${src}: file shrank while being copied`, src);
          got += n;
        }
        fs.dev.flush(piece);
        done += piece.length;
        bar?.update(fileOffset + done);
      }
    });
  } finally {
    nodefs.closeSync(fd);
    bar?.done();
  }
  return file;
}

function isDir(fs: Famfs, p: string): boolean {
  return fs.namespace.lookup(normalize(p))?.kind === 'dir';
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
    const paths = args as unknown as string[];
    const all = Array.isArray(paths[0]) ? (paths[0] as unknown as string[]) : paths;
    if (all.length < 2) throw new FamfsError('EINVAL', 'cp', 'famfs cp error: source and dest args required');
    return {
      sources: all.slice(0, -1),
      dest: all[all.length - 1]!,
      recursive: o.recursive === true,
      mode: o.mode === undefined ? 0 : parseMode(String(o.mode)) & ~process.umask(),
      uid: o.uid === undefined ? undefined : parseUint(String(o.uid), 'uid'),
      gid: o.gid === undefined ? undefined : parseUint(String(o.gid), 'gid'),
      interleave: interleaveOf(o, 'cp'),
      verbose: o.verbose === true,
    };
  },
  run: (io: CliIo, g: GlobalOptions, c: CpContext) =>
    withFs(io, g, 'cp', true, (fs) => {
      let errs = 0;
      const dest = normalize(c.dest);
      return fs.locked('cp', () => {
        const destIsDir = dest === '' || isDir(fs, dest);
        if ((c.sources.length > 1 || c.recursive) && !destIsDir) {
          if (fs.namespace.lookup(dest) !== undefined) {
            throw new FamfsError('ENOTDIR', 'cp', `cp: destination (${c.dest}) exists and is not a directory`);
          }
          if (!c.recursive) throw new FamfsError('ENOENT', 'cp', `cp: destination directory (${c.dest}) does not exist`);
        }
        const copyOne = (src: string, to: string): void => {
          const st = nodefs.statSync(src);
          if (st.isDirectory()) {
            if (!c.recursive) {
              io.err(`famfs cp: -r not specified; omitting directory '${src}'\n`);
              errs++;
              return;
            }
            if (!isDir(fs, to)) fs.mkdir(to, { mode: st.mode & 0o777, uid: c.uid, gid: c.gid });
            for (const name of nodefs.readdirSync(src).sort()) copyOne(path.join(src, name), `${to}/${name}`);
            return;
          }
          if (!st.isFile()) throw new FamfsError('EINVAL', 'cp', `cp: skipping '${src}': not a regular file or directory`, src);
          if (st.size === 0) {
            io.err(`famfs cp: skipping empty file '${src}' (famfs files have a fixed, non-zero size)\n`);
            errs++;
            return;
          }
          copyFileIn(fs, io, src, to, c, st);
          if (c.verbose) io.out(`famfs cp: 100%: ${to}\n`);
        };
        for (const src of c.sources) {
          let st: nodefs.Stats;
          try {
            st = nodefs.statSync(src);
          } catch {
            throw new FamfsError('ENOENT', 'cp', `cp: cannot stat '${src}': no such file or directory`, src);
          }
          const base = path.basename(path.resolve(src));
          let to: string;
          if (destIsDir) to = dest === '' ? base : `${dest}/${base}`;
          else if (st.isDirectory()) {
            // cp -r srcdir newdir: newdir is created and receives srcdir's contents
            if (fs.namespace.lookup(parentOf(dest))?.kind !== 'dir') throw new FamfsError('ENOENT', 'cp', `cp: parent of ${c.dest} does not exist`);
            fs.mkdir(dest, { mode: st.mode & 0o777, uid: c.uid, gid: c.gid });
            for (const name of nodefs.readdirSync(src).sort()) copyOne(path.join(src, name), `${dest}/${name}`);
            continue;
          } else to = dest;
          copyOne(src, to);
        }
        return errs > 0 ? 1 : 0;
      });
    }),
};
