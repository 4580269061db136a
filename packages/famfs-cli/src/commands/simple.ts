import * as nodefs from 'node:fs';
import { FamfsError, type FsNode } from '@famfs/core';
import { Command } from 'commander';
import { deviceOf, withFs } from '../context.js';
import { withBackend } from '../backend.js';
import type { CommandSpec } from './spec.js';
import { itemFailure } from '../failures.js';

/** `famfs clone SRC DEST` — test only: a second file with the same map (fsck reports the cross-link). */
export const cloneSpec: CommandSpec<{ src: string; dest: string }> = {
  command: () =>
    new Command('clone')
      .description('(testing) log DEST as a file sharing SRC\'s memory; fsck then reports the cross-link')
      .argument('[src]')
      .argument('[dest]')
      .option('-v, --verbose'),
  context: (args) => {
    if (args[0] === undefined || args[1] === undefined) throw new FamfsError('EINVAL', 'clone', 'clone: source and destination filenames required');
    return { src: args[0], dest: args[1] };
  },
  run: (io, g, c) => withFs(io, g, 'clone', true, (fs) => (fs.clone(c.src, c.dest), 0)),
  exitCode: () => 1,
};

/** `famfs flush FILE…` — write back the processor cache over files. Exit: the number of errors. */
export const flushSpec: CommandSpec<{ files: string[]; verbose: boolean; invalidate: boolean }> = {
  command: () =>
    new Command('flush')
      .description('Write back the processor cache over famfs files (for memory that is not cache-coherent)')
      .argument('[files...]')
      .option('-i, --invalidate', "drop this host's cached lines instead, to read what another host wrote")
      .option('-v, --verbose'),
  context: (args, o) => {
    const files = (Array.isArray(args[0]) ? (args[0] as unknown as string[]) : args) ?? [];
    if (files.length === 0) throw new FamfsError('EINVAL', 'flush', 'flush: file names required');
    return { files, verbose: o.verbose === true, invalidate: o.invalidate === true };
  },
  run: (io, g, c) =>
    withBackend(io, g, 'flush', c.files, false, async (b) => {
      let errs = 0;
      for (const f of c.files) {
        try {
          await b.flush(b.rel(f), c.invalidate);
          if (c.verbose) io.out(`${c.invalidate ? 'invalidated' : 'flushed'} ${f}\n`);
        } catch (e) {
          io.err(`famfs flush: ${itemFailure(e, 'flush', f).message}\n`);
          errs++;
        }
      }
      if (errs > 0) io.err(`famfs flush: ${errs} errors were detected\n`);
      return Math.min(errs, 127);
    }),
};

/**
 * `famfs chkread FILE` — read the file twice, through the device mapping and
 * with pread(2) of the device at the same runs, and compare.
 */
export const chkreadSpec: CommandSpec<{ file: string }> = {
  command: () =>
    new Command('chkread')
      .description('Read a file through the device mapping and with read(2), and compare')
      .argument('[file]')
      .option('-s', 'accepted for compatibility')
      .option('-l', 'accepted for compatibility'),
  context: (args) => {
    if (args[0] === undefined) throw new FamfsError('EINVAL', 'chkread', 'chkread: Must specify at least one file');
    return { file: args[0] };
  },
  run: (io, g, c) =>
    withFs(io, g, 'chkread', false, (fs) => {
      const file = fs.statFile(c.file);
      const mapped = fs.read(file);
      const viaRead = new Uint8Array(file.size);
      const fd = nodefs.openSync(deviceOf(io, g, 'chkread'), 'r');
      try {
        for (const r of fs.runs(file)) nodefs.readSync(fd, viaRead, r.fileOffset, r.len, r.offset);
      } finally {
        nodefs.closeSync(fd);
      }
      io.out(`read tried=${file.size} got=${mapped.length}\n`);
      if (Buffer.compare(mapped, viaRead) !== 0) {
        io.err('Read and mmap miscompare\n');
        return 1;
      }
      io.out('Read and mmap match\n');
      return 0;
    }),
  exitCode: () => 1,
};

/** `famfs cat FILE…` — file bytes through the fmap, to stdout. */
export const catSpec: CommandSpec<{ files: string[] }> = {
  command: () => new Command('cat').description('Write famfs files to stdout (read through their maps)').argument('<files...>'),
  context: (args) => ({ files: Array.isArray(args[0]) ? (args[0]) : args }),
  run: (io, g, c) =>
    withFs(io, g, 'cat', false, (fs) => {
      for (const f of c.files) {
        const file = fs.statFile(f);
        fs.readEach(file, 0, file.size, (v) => io.write(v));
      }
      return 0;
    }),
};

function modeString(n: FsNode): string {
  const m = n.mode;
  const rwx = (b: number) => `${b & 4 ? 'r' : '-'}${b & 2 ? 'w' : '-'}${b & 1 ? 'x' : '-'}`;
  return `${n.kind === 'dir' ? 'd' : '-'}${rwx((m >> 6) & 7)}${rwx((m >> 3) & 7)}${rwx(m & 7)}`;
}

/** `famfs ls [-l] [-R] [PATH]` — list an unmounted file system. */
export const lsSpec: CommandSpec<{ path: string; long: boolean; recursive: boolean; json: boolean }> = {
  command: () =>
    new Command('ls')
      .description('List directories of an unmounted famfs file system')
      .argument('[path]', 'directory or file (default: the root)', '')
      .option('-l, --long', 'modes, owners and sizes')
      .option('-R, --recursive', 'list subdirectories too')
      .option('--json', 'print the entries as JSON'),
  context: (args, o) => ({ path: args[0] ?? '', long: o.long === true, recursive: o.recursive === true, json: o.json === true }),
  run: (io, g, c) =>
    withFs(io, g, 'ls', false, (fs) => {
      const start = fs.stat(c.path);
      const nodes: FsNode[] = start.kind === 'file' ? [start] : c.recursive ? [...fs.namespace.walk(start)] : fs.readdir(start.relpath);
      if (c.json) {
        io.out(`${JSON.stringify(nodes.map((n) => ({ path: n.relpath, type: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, size: n.kind === 'file' ? n.size : 0 })), null, 2)}\n`);
        return 0;
      }
      for (const n of nodes) {
        const name = c.recursive || start.kind === 'file' ? n.relpath : n.relpath.slice(n.relpath.lastIndexOf('/') + 1);
        if (c.long) io.out(`${modeString(n)} ${String(n.uid).padStart(5)} ${String(n.gid).padStart(5)} ${String(n.kind === 'file' ? n.size : 0).padStart(12)} ${name}${n.kind === 'dir' ? '/' : ''}\n`);
        else io.out(`${name}${n.kind === 'dir' ? '/' : ''}\n`);
      }
      return 0;
    }),
};
