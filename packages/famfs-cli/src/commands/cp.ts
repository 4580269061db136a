import * as nodefs from 'node:fs';
import * as path from 'node:path';
import { FamfsError, type InterleaveRequest, describeErrno, fromSystemError, parentOf, relpathProblem, usageError } from '@famfs/core';
import { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { type Backend, withBackend } from '../backend.js';
import type { CliIo } from '../io.js';
import { parseMode, parseUint, text } from '../sizes.js';
import { PROGRESS_MIN, Progress, wantProgress } from '../progress.js';
import { interleaveOf, placementOf, withInterleaveOptions } from './creat.js';
import type { CommandSpec } from './spec.js';
import { itemFailure } from '../failures.js';
import { escapeName } from '../terminal.js';

export interface CpContext {
  sources: string[];
  dest: string;
  recursive: boolean;
  /** -c: compare the famfs copy with the source instead of copying */
  compare: boolean;
  /** 0: the source's mode */
  mode: number;
  uid?: number;
  gid?: number;
  interleave?: InterleaveRequest;
  /** --daxdev N */
  device?: number;
  verbose: boolean;
}

/** Compare in pieces of this much. */
const COMPARE_PIECE = 8 * 1024 * 1024;

/** One file copied (or compared): upstream prints `famfs cp: 100%: DEST` per file with -v. */
interface Tally {
  errs: number;
}

/**
 * Copy one local file into famfs. An existing destination of the same size
 * is overwritten in place (cp is restartable); a different size is an
 * error. On an unmounted device the data goes straight into device memory.
 */
async function copyFileIn(b: Backend, io: CliIo, src: string, rel: string, mode: number, c: CpContext, st: nodefs.Stats, tree?: TreeMeter): Promise<void> {
  await b.createFile(rel, st.size, { mode, uid: c.uid, gid: c.gid, interleave: c.interleave, device: c.device });
  let fd: number;
  try {
    fd = nodefs.openSync(src, 'r');
  } catch (e) {
    throw fromSystemError(e, 'cp', src);
  }
  // a tree copy (-r) has one bar for all of it; a big file alone gets its own
  const own = tree === undefined && wantProgress(io, st.size) ? new Progress(io, `famfs cp: ${b.display(rel)}`, st.size) : undefined;
  const base = tree?.bytes ?? 0;
  const meter = own !== undefined ? (n: number) => own.update(n) : tree !== undefined ? (n: number) => tree.bar.update(base + n) : undefined;
  try {
    // an emulated device (image file): the kernel copies, as coreutils cp does
    if (await b.copyFromFd(rel, fd, meter)) return;
    await b.writeAll(rel, (buf, fileOffset) => {
      for (let got = 0; got < buf.length; ) {
        const n = nodefs.readSync(fd, buf, got, buf.length - got, fileOffset + got);
        if (n === 0) throw new FamfsError('EIO', 'cp', `cp: ${src}: file shrank while being copied`, src);
        got += n;
      }
      meter?.(fileOffset + buf.length);
    });
  } finally {
    nodefs.closeSync(fd);
    own?.finish();
    if (tree !== undefined) {
      tree.bytes = base + st.size;
      tree.bar.fileDone();
    }
  }
}

/** One progress bar for a whole `cp -r`: bytes and files across the tree. */
interface TreeMeter {
  bar: Progress;
  /** bytes of the files finished so far */
  bytes: number;
}

/** What `cp -r` of `sources` will copy: regular non-empty files and their bytes (for the bar; problems are found later). */
function treeTotals(sources: readonly string[]): { files: number; bytes: number } {
  const t = { files: 0, bytes: 0 };
  const walk = (p: string, depth: number): void => {
    let st: nodefs.Stats;
    try {
      st = nodefs.statSync(p);
    } catch {
      return;
    }
    if (st.isFile() && st.size > 0) {
      t.files++;
      t.bytes += st.size;
    } else if (st.isDirectory() && depth < 4096) {
      let names: string[];
      try {
        names = nodefs.readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) walk(path.join(p, n), depth + 1);
    }
  };
  for (const s of sources) walk(s, 0);
  return t;
}

/** `cp -c`: the famfs file's bytes equal the source's (a missing destination is made first, as upstream does). */
async function compareFileIn(b: Backend, src: string, rel: string, mode: number, c: CpContext, st: nodefs.Stats): Promise<boolean> {
  if ((await b.lookup(rel)) === undefined) await b.createFile(rel, st.size, { mode, uid: c.uid, gid: c.gid, interleave: c.interleave, device: c.device });
  const e = await b.lookup(rel);
  if (e?.kind !== 'file' || e.size !== st.size) return false;
  const fd = nodefs.openSync(src, 'r');
  const piece = Buffer.alloc(Math.min(COMPARE_PIECE, Math.max(st.size, 1)));
  let same = true;
  try {
    await b.readAll(rel, (v, off) => {
      for (let done = 0; done < v.length; ) {
        const want = Math.min(piece.length, v.length - done);
        const n = nodefs.readSync(fd, piece, 0, want, off + done);
        if (n !== want || Buffer.compare(piece.subarray(0, n), v.subarray(done, done + n)) !== 0) {
          same = false;
          return false;
        }
        done += n;
      }
      return true;
    });
  } finally {
    nodefs.closeSync(fd);
  }
  return same;
}

export const cpSpec: CommandSpec<CpContext> = {
  command: () =>
    withInterleaveOptions(
      new Command('cp')
        .description('Copy files (and with -r, the contents of directories) from the local file system into famfs')
        .argument('<paths...>', 'sources then the famfs destination')
        .option('-r, --recursive', "copy a directory's contents into DEST (made if missing)")
        .option('-c, --compare', 'compare the famfs copies with the sources instead of copying')
        .option('-m, --mode <octal>', 'mode of files named on the command line (default: the source mode)')
        .option('-u, --uid <uid>', 'owner uid (default: yours)')
        .option('-g, --gid <gid>', 'owner gid (default: yours)')
        .option('-t, --threadct <n>', 'accepted for compatibility (files are copied one after another)')
        .option('-v, --verbose', 'print each file copied'),
    ),
  context: (args, o) => {
    const all = Array.isArray(args[0]) ? (args[0] as string[]) : args;
    const dest = all[all.length - 1];
    if (all.length < 2 || dest === undefined) throw usageError('cp', 'famfs cp error: source and dest args required');
    return {
      sources: all.slice(0, -1),
      dest,
      recursive: o.recursive === true,
      compare: o.compare === true,
      mode: o.mode === undefined ? 0 : parseMode(text(o.mode, 'mode')) & ~process.umask(),
      uid: o.uid === undefined ? undefined : parseUint(text(o.uid, 'uid'), 'uid'),
      gid: o.gid === undefined ? undefined : parseUint(text(o.gid, 'gid'), 'gid'),
      interleave: interleaveOf(o, 'cp'),
      device: placementOf(o),
      verbose: o.verbose === true,
    };
  },
  /**
   * upstream's rules (famfs_cp_multi): a file source goes to DEST/basename
   * when DEST is a directory, else to DEST itself (one source only); with
   * -r a directory source's CONTENTS go into DEST (made, with the source
   * directory's mode, if missing) — never DEST/SRC — and each file under it
   * takes its directory's mode. Per-file problems (an empty or unreadable
   * source, a directory without -r, a path too long for the log) are
   * reported and the rest is copied (exit 1); a source that cannot be
   * stat'ed or a failed create stops the copy (exit 1), a source that is
   * not a file or directory stops it with EINVAL (22).
   */
  run: (io: CliIo, g: GlobalOptions, c: CpContext) =>
    withBackend(io, g, 'cp', [c.dest], true, async (b) => {
      const t: Tally = { errs: 0 };
      const dest = b.rel(c.dest);
      const destEntry = dest === '' ? { kind: 'dir' as const } : await b.lookup(dest);
      const destIsDir = destEntry?.kind === 'dir';
      if (destEntry !== undefined && !destIsDir && (c.sources.length > 1 || c.recursive)) {
        throw new FamfsError('ENOTDIR', 'cp', `cp: Error: destination (${c.dest}) exists and is not a directory`, { kind: 'usage' });
      }
      if (destEntry === undefined) {
        const parent = parentOf(dest);
        if (parent !== '' && (await b.lookup(parent))?.kind !== 'dir') {
          throw new FamfsError('ENOENT', 'cp', `cp: Error: the parent of the destination (${c.dest}) is not a directory in famfs`, { kind: 'usage' });
        }
        if (c.sources.length > 1 && !c.recursive) throw new FamfsError('ENOENT', 'cp', `cp: Error: destination directory (${c.dest}) does not exist`, { kind: 'usage' });
      }

      // cp -r on a terminal: one bar for the whole tree (files and bytes), when there is enough to copy
      let meter: TreeMeter | undefined;
      if (c.recursive && !c.compare && io.isTty) {
        const totals = treeTotals(c.sources);
        if (totals.bytes >= PROGRESS_MIN || totals.files >= 100) meter = { bar: new Progress(io, 'famfs cp', totals.bytes, totals.files), bytes: 0 };
      }
      // every message here starts "cp: " (system errors too: fromSystemError names the op)
      const fail = (e: unknown, what: string): void => {
        io.err(`famfs ${itemFailure(e, 'cp', what).message}\n`);
        t.errs++;
      };
      /** A regular file to `to` with `mode`: problems with this one file are reported and counted. */
      const oneFile = async (src: string, to: string, mode: number, st: nodefs.Stats): Promise<void> => {
        const shown = b.display(to);
        const long = relpathProblem(to);
        if (long !== undefined) return fail(new FamfsError(long.code, 'cp', `cp: skipping ${escapeName(src)}: ${long.message}`), src);
        if (st.size === 0) return fail(new FamfsError('EINVAL', 'cp', `cp: skipping empty file '${escapeName(src)}' (famfs files have a fixed, non-zero size)`), src);
        try {
          nodefs.accessSync(src, nodefs.constants.R_OK);
        } catch (e) {
          return fail(e, src);
        }
        if (c.compare) {
          if (await compareFileIn(b, src, to, mode, c, st)) {
            if (c.verbose) io.out(`famfs compare: 100%: ${escapeName(shown)}\n`);
          } else fail(new FamfsError('EIO', 'cp', `cp: compare: ${escapeName(shown)} differs from ${escapeName(src)}`), src);
          return;
        }
        await copyFileIn(b, io, src, to, mode, c, st, meter);
        if (c.verbose) io.out(`famfs cp: 100%: ${escapeName(shown)}\n`);
      };
      /** The contents of directory `src` into famfs directory `to` (made if missing, with `dirMode`). */
      const tree = async (src: string, to: string, dirMode: number): Promise<void> => {
        const have = to === '' ? { kind: 'dir' as const } : await b.lookup(to);
        if (have === undefined) await b.mkdir(to, { mode: dirMode, uid: c.uid, gid: c.gid });
        else if (have.kind !== 'dir') return fail(new FamfsError('ENOTDIR', 'cp', `cp: ${b.display(to)} exists and is not a directory`), src);
        let names: string[];
        try {
          names = nodefs.readdirSync(src).sort();
        } catch (e) {
          return fail(e, src);
        }
        for (const name of names) {
          const s = path.join(src, name);
          const child = to === '' ? name : `${to}/${name}`;
          let st: nodefs.Stats;
          try {
            st = nodefs.statSync(s);
          } catch (e) {
            fail(e, s);
            continue;
          }
          if (st.isDirectory()) await tree(s, child, st.mode & 0o777);
          else if (st.isFile()) await oneFile(s, child, dirMode, st); // upstream: the directory's mode
          else fail(new FamfsError('EINVAL', 'cp', `cp: skipping '${escapeName(s)}': not a regular file or directory`), s);
        }
      };

      for (const src of c.sources) {
        let st: nodefs.Stats;
        try {
          st = nodefs.statSync(src);
        } catch (e) {
          const err = fromSystemError(e, 'cp', src);
          throw new FamfsError(err.code, 'cp', `cp: cannot stat '${escapeName(src)}': ${describeErrno(err.code)}`, { path: src, kind: 'usage' });
        }
        if (st.isDirectory()) {
          if (!c.recursive) {
            fail(new FamfsError('EISDIR', 'cp', `cp: -r not specified; omitting directory '${escapeName(src)}'`), src);
            continue;
          }
          await tree(src, dest, st.mode & 0o777);
        } else if (st.isFile()) {
          const to = destIsDir ? (dest === '' ? path.basename(src) : `${dest}/${path.basename(src)}`) : dest;
          await oneFile(src, to, c.mode !== 0 ? c.mode : st.mode & 0o777, st);
        } else {
          // upstream stops the copy with EINVAL here (exit 22)
          throw new FamfsError('EINVAL', 'cp', `cp: '${escapeName(src)}' is not a regular file or directory`, { path: src, exitStatus: 22 });
        }
      }
      meter?.bar.finish();
      return t.errs > 0 ? 1 : 0;
    }),
  // upstream: every failure is 1 (but for the one that says 22 itself)
  exitCode: () => 1,
};
