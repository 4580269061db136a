import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ALLOC_UNIT, Famfs, FamfsError, SUPERBLOCK_SIZE, checkLogLen, existingSuperblock, fromSystemError, fsck, killSuperblock, minDeviceSize, mkfs, openDevice, usageError,
} from '@famfs/core';
import { Command } from 'commander';
import type { CliIo } from '../io.js';
import { formatReport } from '../report.js';
import { parseSize } from '../sizes.js';
import { type GlobalOptions, systemUuidOf } from '../context.js';
import { VERSION_FLAGS, VERSION_HELP, versionText } from '../version.js';

export interface MkfsContext {
  device: string;
  /** more devices: each becomes a secondary (daxdev 1, 2, …) of the file system */
  secondaries: string[];
  force: boolean;
  kill: boolean;
  logLen: number;
  /** create the device as a sparse emulated image file of this size first */
  createSize?: number;
  verbose: boolean;
  global: GlobalOptions;
}

/** Upstream mkfs.famfs exits 1 for usage errors and 2 for every failure. */
export const MKFS_EXIT_FAILURE = 2;

export function mkfsCommand(io: CliIo, run: (ctx: MkfsContext) => void): Command {
  return new Command('mkfs.famfs')
    .description('Create a famfs file system on a dax device, block device or emulated device (image) file')
    .argument('<memdevice>', 'dax device (/dev/daxX.Y), block device (/dev/pmem0, /dev/loop0) or image file: the primary (it holds the log)')
    .argument('[secondaries...]', 'more devices of the same file system (daxdev 1, 2, …; famfs-ts, after upstream\'s multi-daxdev roadmap)')
    .option('-f, --force', 'overwrite an existing famfs superblock')
    .option('-k, --kill', 'with -f: invalidate (kill) the superblock and stop')
    .option('-l, --loglen <size>', 'log length: a power of two >= 8m (k/m/g suffixes, 0x hex)', '8m')
    .option('--create-size <size>', 'first create <memdevice> (and each secondary) as a sparse image file of this size (an emulated device)')
    .option('--system-uuid <uuid>', 'act as this host (default: $FAMFS_SYSTEM_UUID or /opt/famfs/system_uuid)')
    .option('-v, --verbose', 'say what is done')
    // upstream's options about how its C tools reach the device; famfs-ts
    // always maps the device itself and is always the FUSE kind of famfs
    .option('-D, --nodax', 'accepted for compatibility (famfs-ts maps the device directly)')
    .option('-M, --set-daxmode', 'accepted for compatibility (the dax device is switched to famfs mode at mount)')
    .option('-F, --nofuse', 'accepted for compatibility (the format is the same for every mode)')
    .option('--fuse', 'accepted for compatibility (famfs-ts is always FUSE famfs)')
    .version(versionText('mkfs.famfs'), VERSION_FLAGS, VERSION_HELP)
    .action((device: string, secondaries: string[], o: { force?: boolean; kill?: boolean; loglen: string; createSize?: string; systemUuid?: string; verbose?: boolean }) => {
      const ctx: MkfsContext = {
        device,
        secondaries,
        force: o.force === true,
        kill: o.kill === true,
        logLen: parseSize(o.loglen, 'log length'),
        createSize: o.createSize === undefined ? undefined : parseSize(o.createSize, 'device size'),
        verbose: o.verbose === true,
        global: { systemUuid: o.systemUuid },
      };
      run(ctx);
    });
}

export function runMkfs(io: CliIo, ctx: MkfsContext): number {
  // Everything that can be checked without touching the device is checked first.
  checkLogLen(ctx.logLen);
  const systemUuid = systemUuidOf(io, ctx.global);
  const all = [ctx.device, ...ctx.secondaries];
  if (new Set(all.map((d) => path.resolve(d))).size !== all.length) throw usageError('mkfs', 'mkfs.famfs: a device is named twice');
  if (ctx.createSize === undefined) return mkfsOn(io, ctx, systemUuid);
  const made: string[] = [];
  try {
    for (const d of all) {
      createImage(d, ctx.createSize, ctx.logLen);
      made.push(d);
    }
    return mkfsOn(io, ctx, systemUuid);
  } catch (e) {
    // a refused mkfs leaves no image behind that it created itself
    for (const d of made) fs.rmSync(d, { force: true });
    throw e;
  }
}

/** The secondaries: each gets its superblock and an ADD_DAXDEV entry (Famfs.addDaxdev), in order. */
function addSecondaries(io: CliIo, ctx: MkfsContext, systemUuid: string): void {
  if (ctx.secondaries.length === 0) return;
  const f = Famfs.open(ctx.device, { writable: true, systemUuid });
  try {
    for (const d of ctx.secondaries) {
      const added = f.addDaxdev(d, { force: ctx.force });
      if (ctx.verbose) io.out(`mkfs.famfs: ${d}: daxdev ${added.index} (${added.uuid}), ${added.size} bytes\n`);
    }
  } finally {
    f.close();
  }
}

function mkfsOn(io: CliIo, ctx: MkfsContext, systemUuid: string): number {
  const dev = openDevice(ctx.device, { writable: true });
  try {
    if (ctx.kill && ctx.force) {
      killSuperblock(dev);
      for (const d of ctx.secondaries) {
        const sd = openDevice(d, { writable: true });
        try {
          killSuperblock(sd);
        } finally {
          sd.close();
        }
      }
      io.out('Famfs superblock killed\n');
      return 0;
    }
    if (ctx.verbose) io.out(`mkfs.famfs: ${ctx.device}: ${dev.kind} device, log length ${ctx.logLen}${ctx.force ? ', forced' : ''}\n`);
    // the secondaries are checked before anything is written (each is checked again as it is added)
    for (const d of ctx.secondaries) checkSecondaryTarget(d, ctx.force);
    io.out(`devsize: ${dev.size}\n`);
    mkfs(dev, { systemUuid, logLen: ctx.logLen, force: ctx.force, devicePath: ctx.device });
    addSecondaries(io, ctx, systemUuid);
    io.out(formatReport(fsck(dev, systemUuid), { human: true, verbose: false }));
    return 0;
  } finally {
    dev.close();
  }
}

/** A device that may become a secondary: openable read-write, big enough, blank (or -f). */
function checkSecondaryTarget(device: string, force: boolean): void {
  const d = openDevice(device, { writable: true });
  try {
    const min = SUPERBLOCK_SIZE + ALLOC_UNIT;
    if (d.size < min) throw new FamfsError('ENOSPC', 'mkfs', `${device}: ${d.size} bytes is too small for a secondary device (at least ${min})`, device);
    const st = existingSuperblock(d);
    if (st.state !== 'blank' && !force) throw new FamfsError('EEXIST', 'mkfs', `${device} has ${st.message}; use -f to overwrite`, device);
  } finally {
    d.close();
  }
}

function createImage(path: string, size: number, logLen: number): void {
  const need = minDeviceSize(logLen);
  if (size < need) throw new FamfsError('EINVAL', 'mkfs', `--create-size ${size} is too small: need at least ${need} bytes`, path);
  let fd: number;
  try {
    fd = fs.openSync(path, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new FamfsError('EEXIST', 'mkfs', `${path} already exists; --create-size only creates new image files`, path);
    }
    throw fromSystemError(e, 'mkfs', path);
  }
  try {
    fs.ftruncateSync(fd, size);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
    throw fromSystemError(e, 'mkfs', path);
  }
  fs.closeSync(fd);
}
