import * as nodefs from 'node:fs';
import { Errno, FamfsError, MAX_BUCKETS, SuperblockLayout, fromSystemError, fsck, fsckRepair, openDevice, superblockMetaName, usageError } from '@famfs/core';
import { famfsMountOf, famfsMountsOfDevice } from '@famfs/fuse';
import { Command } from 'commander';
import type { CliIo } from '../io.js';
import { formatReport, reportJson } from '../report.js';
import { type GlobalOptions, openMountedDevice, systemUuidOf } from '../context.js';
import type { CommandSpec } from './spec.js';
import { parseUint, text } from '../sizes.js';

export interface FsckContext {
  /** undefined: `famfs fsck -h` alone, which prints the help */
  device?: string;
  /** the command's help text (for `famfs fsck -h` alone; '' when a device is given) */
  help: string;
  human: boolean;
  verbose: boolean;
  json: boolean;
  /** -B N: per-bucket usage */
  buckets?: number;
  /** --repair: fix what can be fixed without losing an entry, then check */
  repair: boolean;
}

/**
 * Exit status: 0 when clean; otherwise the number of problems (allocation
 * collisions plus bad log entries), capped at 127. Upstream counts only
 * collisions; a bad entry is an error here. No valid superblock or log
 * header: 1 (as upstream); a path that is not a device or image: EINVAL.
 */
export function runFsck(io: CliIo, g: GlobalOptions, ctx: FsckContext): number {
  if (ctx.device === undefined) {
    io.out(ctx.help);
    return 0;
  }
  const systemUuid = systemUuidOf(io, g);
  const { target, mount } = deviceToCheck(ctx.device);
  if (ctx.repair) {
    if (mount !== undefined) {
      throw new FamfsError('EBUSY', 'fsck', `famfs fsck: --repair needs the unmounted device, not a mount (${ctx.device}): unmount it first`, ctx.device);
    }
    const rw = openDevice(target, { writable: true });
    try {
      const done = fsckRepair(rw);
      io.err(done.length === 0 ? 'famfs fsck: --repair: nothing to repair\n' : done.map((d) => `famfs fsck: repaired: ${d}\n`).join(''));
    } finally {
      rw.close();
    }
  }
  const dev = mount === undefined ? openDevice(target, { writable: false }) : openMountedDevice(mount, target);
  try {
    // a mount: each secondary's superblock is read through its .meta/.superblock.N (the daemon's view of it)
    const readSecondary = mount === undefined ? undefined : (rec: { index: number }) => readMetaSuperblock(mount, rec.index);
    const report = fsck(dev, systemUuid, { buckets: ctx.buckets, readSecondary });
    for (const p of report.badEntries) io.err(`famfs fsck: bad log ${p.message}\n`);
    // every other error too (a device smaller than recorded, collisions): a
    // non-zero exit always comes with a reason on stderr
    const entryMessages = new Set(report.badEntries.map((p) => p.message));
    for (const m of report.errors) if (!entryMessages.has(m)) io.err(`famfs fsck: ${m}\n`);
    io.out(ctx.json ? reportJson(report) : formatReport(report, { human: ctx.human, verbose: ctx.verbose }));
    const problems = report.collisions + report.badEntries.length;
    if (problems > 0) return Math.min(problems, 127);
    return report.errors.length > 0 ? 1 : 0;
  } finally {
    dev.close();
  }
}

/** The first bytes of a mount's `.meta/.superblock.N` (the superblock of daxdev N). */
function readMetaSuperblock(mount: string, index: number): { path: string; bytes: Uint8Array } {
  const p = `${mount}/${superblockMetaName(index)}`;
  const bytes = new Uint8Array(SuperblockLayout.SIZE);
  let fd: number;
  try {
    fd = nodefs.openSync(p, 'r');
  } catch (e) {
    throw fromSystemError(e, 'open', p);
  }
  try {
    const n = nodefs.readSync(fd, bytes, 0, bytes.length, 0);
    if (n !== bytes.length) throw new FamfsError('EIO', 'fsck', `${p}: read ${n} of ${bytes.length} bytes`, p);
  } catch (e) {
    throw e instanceof FamfsError ? e : fromSystemError(e, 'read', p);
  } finally {
    nodefs.closeSync(fd);
  }
  return { path: p, bytes };
}

/**
 * A mount point (or a path in a mount) is checked through its device; the
 * device itself is refused while mounted, as upstream does (EBUSY).
 */
function deviceToCheck(p: string): { target: string; mount?: string } {
  let st: nodefs.Stats | undefined;
  try {
    st = nodefs.statSync(p);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) {
    const m = famfsMountOf(p);
    if (m !== undefined) return { target: m.source, mount: m.target };
    // upstream: a path that is not in a mounted famfs (an unmounted mount point) is 1
    throw usageError('fsck', `famfs fsck: ${p} is a directory that is not in a mounted famfs file system`);
  }
  // any alias of a mounted device (a symlink, another path to the image) is that device
  const mounted = famfsMountsOfDevice(p)[0];
  if (mounted !== undefined) {
    throw new FamfsError('EBUSY', 'fsck', `famfs_fsck: error: cannot fsck by device (${p}) when mounted; fsck the mount point (${mounted.target}) instead`, p);
  }
  return { target: p };
}

export const fsckSpec: CommandSpec<FsckContext> = {
  command: () => {
    const cmd = new Command('fsck')
      .description('Check a famfs file system on a device or image file (read-only)')
      .argument('[memdevice]', 'dax device, block device or image file')
      // Upstream's fsck uses -h for --human; help is --help (and a bare `-h`).
      .helpOption('--help', 'display help for command')
      .option('-h, --human', 'print capacity figures in G')
      .option('-v, --verbose', 'also print the layout of the log')
      .option('--json', 'print the report as JSON (for scripts)')
      .option('-m, --mmap', 'read the device through a mapping (the default; accepted for compatibility)')
      .option('-r, --read', 'accepted for compatibility (upstream: read with read(2); famfs-ts maps the device)')
      .option('-f, --force', 'accepted for compatibility; fsck never writes (see --repair)')
      .option('-B, --nbuckets <n>', 'also show how full each of N strided-allocation buckets is')
      .option('--repair', 'first fix what can be fixed without losing an entry (log header counters); the device must be unmounted')
      .option('-M, --set-daxmode', 'accepted for compatibility')
      .option('-L, --load-module', 'accepted for compatibility')
      .option('-F, --nofuse', 'accepted for compatibility')
      .option('--fuse', 'accepted for compatibility')
      .option('-D, --nodax', 'accepted for compatibility (famfs-ts maps the device directly)');
    return cmd;
  },
  context: (args, o, cmd) => {
    const device = args[0];
    // upstream: "Must specify at least one dax device", a usage error (exit 1)
    if (device === undefined && o.human !== true) throw usageError('fsck', 'fsck: must specify a device or image file');
    if (o.read === true && o.mmap === true) throw usageError('fsck', 'Error: --mmap and --read are mutually exclusive');
    const buckets = o.nbuckets === undefined ? undefined : parseUint(text(o.nbuckets, 'nbuckets'), 'nbuckets');
    if (buckets !== undefined && (buckets < 1 || buckets > MAX_BUCKETS)) throw usageError('fsck', `fsck: --nbuckets ${buckets} is not in 1..${MAX_BUCKETS}`);
    return {
      // the help text is only printed by `famfs fsck -h` alone (formatting it costs start-up time)
      device, help: device === undefined ? cmd.helpInformation() : '', human: o.human === true, verbose: o.verbose === true, json: o.json === true,
      buckets, repair: o.repair === true,
    };
  },
  run: (io, g, c) => runFsck(io, g, c),
  // upstream: no valid superblock or log header, or a usage error, is 1; a
  // path that is not a device or image is EINVAL; otherwise the errno
  exitCode: (e) =>
    e.kind === 'format' || e.kind === 'usage' ? 1 : e.code === 'EISDIR' || e.code === 'ENODEV' ? Errno.EINVAL : Math.min(Errno[e.code], 127),
};
