import * as nodefs from 'node:fs';
import { FamfsError, checkLogHeader, decodeSuperblock, usageError } from '@famfs/core';
import { famfsMounts } from '@famfs/fuse';
import { Command } from 'commander';
import { type Entry, withBackend } from '../backend.js';
import type { CommandSpec } from './spec.js';
import { itemFailure } from '../failures.js';
import { escapeName } from '../terminal.js';

/** Do two paths name the same file (after symlinks)? */
function sameFile(a: string, b: string): boolean {
  try {
    return nodefs.realpathSync(a) === nodefs.realpathSync(b);
  } catch {
    return false;
  }
}

const listOf = (args: readonly unknown[]): string[] => (Array.isArray(args[0]) ? (args[0] as string[]) : (args as string[]));

/** `famfs clone SRC DEST` — test only: a second file with the same map (fsck reports the cross-link). */
export const cloneSpec: CommandSpec<{ src: string; dest: string; verbose: boolean }> = {
  command: () =>
    new Command('clone')
      .description("(testing) log DEST as a file sharing SRC's memory; fsck then reports the cross-link")
      .argument('[src]')
      .argument('[dest]')
      .option('-v, --verbose'),
  context: (args, o) => {
    if (args[0] === undefined || args[1] === undefined) throw usageError('clone', 'clone: source and destination filenames required');
    return { src: args[0], dest: args[1], verbose: o.verbose === true };
  },
  run: (io, g, c) =>
    withBackend(io, g, 'clone', [c.src, c.dest], true, async (b) => {
      await b.clone(b.rel(c.src), b.rel(c.dest));
      if (c.verbose) io.out(`famfs clone: ${c.src} -> ${c.dest}\n`);
      return 0;
    }),
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
    const files = listOf(args);
    if (files.length === 0) throw usageError('flush', 'flush: file names required');
    return { files, verbose: o.verbose === true, invalidate: o.invalidate === true };
  },
  run: (io, g, c) =>
    withBackend(io, g, 'flush', c.files, false, async (b) => {
      let errs = 0;
      for (const f of c.files) {
        try {
          const rel = b.rel(f);
          const e = await b.lookup(rel);
          if (e === undefined) throw new FamfsError('ENOENT', 'flush', `flush: ${f}: no such file`, f);
          if (e.kind !== 'file') throw new FamfsError('EISDIR', 'flush', `flush: ${f}: not a regular file`, f);
          await b.flush(rel, c.invalidate);
          if (c.verbose) io.out(`${c.invalidate ? 'invalidated' : 'flushed'} ${f}\n`);
        } catch (e) {
          io.err(`famfs flush: ${itemFailure(e, 'flush', f).message}\n`);
          errs++;
        }
      }
      if (errs > 0) io.err(`famfs flush: ${errs} errors were detected\n`);
      return Math.min(errs, 127);
    }),
  exitCode: (e) => (e.kind === 'usage' ? 1 : Math.min(e.errno, 127)),
};

/** A hex dump of the first bytes of `b`, 16 a line (chkread -s/-l). */
function hexDump(b: Uint8Array, len: number): string {
  const L: string[] = [];
  for (let off = 0; off < Math.min(len, b.length); off += 16) {
    const row = [...b.subarray(off, Math.min(off + 16, len))].map((x) => x.toString(16).padStart(2, '0')).join(' ');
    L.push(`${off.toString(16).padStart(6, '0')}: ${row}`);
  }
  return `${L.join('\n')}\n`;
}

/**
 * `famfs chkread FILE` — read the file twice, through a memory mapping and
 * with read(2) (on a mount: mmap and read of the mounted file; on a device:
 * the device mapping and pread of the device at the file's runs), and
 * compare. `-s`/`-l` also dump the file as a superblock / as a log.
 */
export const chkreadSpec: CommandSpec<{ file: string; superblock: boolean; log: boolean }> = {
  command: () =>
    new Command('chkread')
      .description('Read a file through a memory mapping and with read(2), and compare')
      .argument('[file]')
      .option('-s, --superblock', 'also dump the file as a famfs superblock (.meta/.superblock)')
      .option('-l, --log', 'also dump the file as a famfs log header (.meta/.log)'),
  context: (args, o) => {
    if (args[0] === undefined) throw usageError('chkread', 'chkread: Must specify at least one file');
    return { file: args[0], superblock: o.superblock === true, log: o.log === true };
  },
  run: (io, g, c) =>
    withBackend(io, g, 'chkread', [c.file], false, async (b) => {
      const { mapped, read } = await b.readTwice(b.rel(c.file));
      io.out(`read tried=${read.length} got=${mapped.length}\n`);
      if (c.superblock) {
        const sb = decodeSuperblock(mapped);
        io.out(`superblock: magic 0x${sb.magic.toString(16)} version ${sb.version} log ${sb.logOffset}+${sb.logLen} alloc_unit 0x${sb.allocUnit.toString(16)}\n`);
        io.out(`  uuid ${sb.uuid} dev_uuid ${sb.devUuid} system_uuid ${sb.systemUuid}\n`);
        io.out(hexDump(mapped, 200));
      }
      if (c.log) {
        const st = checkLogHeader(mapped, 0, mapped.length);
        const h = st.header;
        io.out(`log: magic 0x${h.magic.toString(16)} len ${h.len} last_index ${h.lastIndex} next_index ${h.nextIndex} next_seqnum ${h.nextSeqnum}${st.ok ? '' : ` (${st.message})`}\n`);
        io.out(hexDump(mapped, 48));
      }
      if (Buffer.compare(mapped, read) !== 0) {
        io.err('Read and mmap miscompare\n');
        return 1;
      }
      io.out('Read and mmap match\n');
      return 0;
    }),
  exitCode: () => 1,
};

/** `famfs cat FILE…` — file bytes (read through their maps, or through the mount) to stdout. */
export const catSpec: CommandSpec<{ files: string[] }> = {
  command: () => new Command('cat').description('Write famfs files to stdout').argument('<files...>'),
  context: (args) => ({ files: listOf(args) }),
  run: (io, g, c) =>
    withBackend(io, g, 'cat', c.files, false, async (b) => {
      for (const f of c.files) {
        const rel = b.rel(f);
        const e = await b.lookup(rel);
        if (e === undefined) throw new FamfsError('ENOENT', 'cat', `cat: ${f}: no such file`, f);
        if (e.kind !== 'file') throw new FamfsError('EISDIR', 'cat', `cat: ${f}: is a directory`, f);
        await b.readAll(rel, (v) => io.write(v));
      }
      return 0;
    }),
};

function modeString(e: Entry): string {
  const m = e.mode;
  const rwx = (x: number) => `${x & 4 ? 'r' : '-'}${x & 2 ? 'w' : '-'}${x & 1 ? 'x' : '-'}`;
  return `${e.kind === 'dir' ? 'd' : '-'}${rwx((m >> 6) & 7)}${rwx((m >> 3) & 7)}${rwx(m & 7)}`;
}

/**
 * `famfs ls [-l] [-R] [--json] [PATH]` — list a famfs file system, mounted
 * or not. Names are printed with control characters escaped (as `ls -b`
 * does), so a name cannot drive the terminal; `--json` gives them raw.
 */
export const lsSpec: CommandSpec<{ path: string; long: boolean; recursive: boolean; json: boolean }> = {
  command: () =>
    new Command('ls')
      .description('List directories of a famfs file system (mounted, or a device with -D)')
      .argument('[path]', 'directory or file (default: the root)', '')
      .option('-l, --long', 'modes, owners and sizes')
      .option('-R, --recursive', 'list subdirectories too')
      .option('--json', 'print the entries as JSON (names raw)'),
  context: (args, o) => ({ path: args[0] ?? '', long: o.long === true, recursive: o.recursive === true, json: o.json === true }),
  run: (io, g, c) =>
    withBackend(io, g, 'ls', [c.path], false, async (b) => {
      const rel = b.rel(c.path);
      const start = await b.lookup(rel);
      if (start === undefined) throw new FamfsError('ENOENT', 'ls', `ls: ${c.path || '/'}: no such file or directory`, c.path);
      const entries = start.kind === 'file' ? [start] : await b.list(rel, c.recursive);
      if (c.json) {
        io.out(`${JSON.stringify(entries.map((e) => ({ path: e.rel, type: e.kind, mode: e.mode, uid: e.uid, gid: e.gid, size: e.size })), null, 2)}\n`);
        return 0;
      }
      const prefix = rel === '' ? '' : `${rel}/`;
      for (const e of entries) {
        const shown = c.recursive || start.kind === 'file' ? (start.kind === 'file' ? e.rel : e.rel.slice(prefix.length)) : e.rel.slice(e.rel.lastIndexOf('/') + 1);
        const name = `${escapeName(shown)}${e.kind === 'dir' ? '/' : ''}`;
        if (c.long) io.out(`${modeString(e)} ${String(e.uid).padStart(5)} ${String(e.gid).padStart(5)} ${String(e.size).padStart(12)} ${name}\n`);
        else io.out(`${name}\n`);
      }
      return 0;
    }),
};

/**
 * `famfs mkmeta DEV` — upstream (standalone kernel module) creates the
 * `.meta` files of a mounted device with it. A famfs-ts mount always has
 * them: checked here, nothing to create. As upstream: 1 without an argument
 * or for a device that does not exist, else 0.
 */
export const mkmetaSpec: CommandSpec<{ device: string; verbose: boolean }> = {
  command: () =>
    new Command('mkmeta')
      .description('(compatibility) make the .meta files of a mounted device — a famfs-ts mount always has them')
      .argument('[memdevice]')
      .option('-v, --verbose'),
  context: (args, o) => {
    if (args[0] === undefined) throw usageError('mkmeta', 'mkmeta: Must specify a memory device');
    return { device: args[0], verbose: o.verbose === true };
  },
  run: (io, _g, c) => {
    let real: string;
    try {
      real = nodefs.realpathSync(c.device);
    } catch {
      throw usageError('mkmeta', `mkmeta: device (${c.device}) not found`, 'ENOENT');
    }
    const mounts = famfsMounts().filter((m) => sameFile(m.source, real));
    if (mounts.length === 0) {
      // upstream prints its error and still exits 0 here
      io.err(`famfs mkmeta: ${c.device} is not a mounted famfs device; nothing to do\n`);
      return 0;
    }
    for (const m of mounts) {
      const ok = nodefs.existsSync(`${m.target}/.meta/.superblock`) && nodefs.existsSync(`${m.target}/.meta/.log`);
      if (c.verbose || !ok) io.out(`famfs mkmeta: ${m.target}: ${ok ? 'found .meta/.superblock and .meta/.log; NOP' : 'the meta files are missing'}\n`);
    }
    return 0;
  },
  exitCode: () => 1,
};
