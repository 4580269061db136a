import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as native from '@famfs/native';
import { uringParameter } from '@famfs/native';
import { Famfs, FamfsError, daxDeviceName, daxDriverOf, famfsModeAvailable, fromSystemError } from '@famfs/core';
import { type FamfsModeWish, leaveStaleFamfsMode } from './famfs-mode.js';
import { controlRequest } from './control.js';
import type { CacheMode } from './filesystem.js';
import type { FamfsProfileName } from './protocol/index.js';
import { famfsMountAt, famfsMountsOfDevice, isDeadMount, realPath, unmount } from './mounts.js';
import {
  type DaemonState, type Warn, checkDaemonFiles, daemonFiles, isDaemonRunning, listDaemons, openDaemonLog, openRunDir, readState,
  removeDaemonFiles, warnToStderr,
} from './run-dir.js';

/** How `famfs mount` asks for a mount; the daemon gets the same object. */
export interface MountRequest {
  device: string;
  mountpoint: string;
  systemUuid: string;
  cache: CacheMode;
  /** famfs protocol profile: which opcode numbers the famfs extension uses */
  profile: FamfsProfileName;
  /** attribute/entry timeout in seconds (default by cache mode) */
  timeout?: number;
  /** every user may use the mount (allow_other; default true) */
  allowOther?: boolean;
  /** the kernel checks modes (default_permissions; default true) */
  defaultPermissions?: boolean;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  /** seconds between metadata refresh checks on a client (0: only on access and on request) */
  refreshInterval: number;
  /**
   * famfs mode on a dax device (the kernel maps files from their fmaps):
   * 'auto' when the kernel can (default), 'on' (fail when it cannot), 'off'
   * (READ/WRITE through the daemon even on a famfs kernel)
   */
  famfsMode?: FamfsModeWish;
  /** leave the dax device in famfs mode when the daemon ends (default: back to the driver it had) */
  keepFamfsMode?: boolean;
  /**
   * native request queues answering READ/WRITE: 0 = none (the JS event loop
   * answers everything), N = N cloned /dev/fuse channels (default: one per CPU)
   */
  queues?: number;
  /**
   * FUSE-over-io_uring for the queues: 'auto' (default) when the kernel offers
   * it (the fuse module's enable_uring is on), 'on' turns enable_uring on
   * (machine-wide, and left on) and fails without it, 'off'
   */
  uring?: 'auto' | 'on' | 'off';
  /**
   * bytes of DAX window (virtio-fs SETUPMAPPING/REMOVEMAPPING), a multiple
   * of 2 MiB; absent: no window (both opcodes answer ENOSYS)
   */
  daxWindow?: number;
  /**
   * Experimental: how many daxdev indexes the famfs kernel maps (default:
   * the profile's — 1 for every known series, whose kernels refuse an fmap
   * with an extent off daxdev 0 and fail the open with EINVAL). More lets a
   * multi-device file system into famfs mode, for kernels past V10; the
   * secondaries are not switched to fsdev_dax.
   */
  famfsDaxdevs?: number;
  /**
   * Set by mountFamfs for the daemon: the file system UUID it checked. The
   * daemon refuses a device whose superblock says otherwise (the path was
   * swapped for another device in between).
   */
  fsUuid?: string;
}

// The daemon always runs the built entry point (`make build`), whether this
// module runs from src/ (tests) or dist/: both are one level below the package.
const DAEMON_MAIN = fileURLToPath(new URL('../dist/bin/famfs-fused.js', import.meta.url));

/**
 * `famfs mount`: check everything, clean up a dead mount, start the daemon
 * detached (its log in the run directory), and wait until the mount answers.
 *
 * Mount points are compared by their real path (what /proc/mounts records)
 * and devices by identity (fileIdentity), so no alias — a symlinked or
 * relative mount point, `..`, a symlink to the image — gets around "one
 * mount per mount point" or "one mount per host per file system". The run
 * directory is checked first (nothing is written in a refused one) and
 * locked (flock) until the daemon answers, so two `famfs mount`s at once
 * cannot both pass these checks.
 */
export async function mountFamfs(req: MountRequest, waitMs = 20_000, warn: Warn = warnToStderr): Promise<DaemonState> {
  const op = 'famfs mount';
  const run = openRunDir(op, { create: true });
  try {
    native.flock(run.fd, 'ex');
    return await mountLocked(req, run.path, waitMs, warn);
  } finally {
    fs.closeSync(run.fd); // releases the lock
  }
}

async function mountLocked(req: MountRequest, dir: string, waitMs: number, warn: Warn): Promise<DaemonState> {
  const op = 'famfs mount';
  const mpt = realPath(req.mountpoint);
  const givenDevice = req.device;
  // the mount table and the daemon state record the device by its real path:
  // fsck/getmap then work from any directory, and an alias names the same device
  req = { ...req, device: realPath(req.device) };
  const shown = (given: string, real: string): string => (path.resolve(given) === real ? real : `${given} (${real})`);

  if (isDeadMount(mpt)) cleanupDeadMount(mpt, dir);
  let st: fs.Stats;
  try {
    st = fs.statSync(mpt);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new FamfsError('ENOENT', 'mount', `${op}: mount pt (${req.mountpoint}) not found`, req.mountpoint);
    throw fromSystemError(e, op, req.mountpoint);
  }
  if (!st.isDirectory()) throw new FamfsError('ENOTDIR', 'mount', `${op}: ${req.mountpoint} is not a directory`, req.mountpoint);
  if (famfsMountAt(mpt) !== undefined) throw new FamfsError('EBUSY', 'mount', `${op}: ${shown(req.mountpoint, mpt)} is already a famfs mount point`, mpt);

  // This mount point's own files first: a planted one is refused before
  // anything else in the run directory is read or written.
  const files = daemonFiles(mpt, dir);
  checkDaemonFiles(op, files);

  if (req.uring === 'on' && uringParameter() === undefined) {
    throw new FamfsError('ENODEV', 'mount', `${op}: uring=on: this kernel's fuse module has no enable_uring (no FUSE-over-io_uring)`);
  }
  if (req.uring === 'on' && req.queues === 0) throw new FamfsError('EINVAL', 'mount', `${op}: uring=on needs the native queues (queues=0 turns them off)`, { kind: 'usage' });
  if (req.famfsMode === 'on') {
    const why = daxDeviceName(req.device) === undefined ? `${shown(givenDevice, req.device)} is not a dax device` : !famfsModeAvailable() ? 'this kernel has no fsdev_dax driver (no famfs mode)' : undefined;
    if (why !== undefined) throw new FamfsError('ENODEV', 'mount', `${op}: famfs mode (-M, famfs_mode=on): ${why}`, req.device);
  }
  // A dax device still bound to fsdev_dax: a live famfs mount holds it (one
  // mount per device: refuse), or a daemon left it so (give it back, then check it).
  if (daxDeviceName(req.device) !== undefined && daxDriverOf(daxDeviceName(req.device) ?? '') === 'fsdev_dax') {
    const live = famfsMountsOfDevice(req.device).find((m) => !isDeadMount(m.target));
    if (live !== undefined) throw new FamfsError('EBUSY', 'mount', `${op}: ${shown(givenDevice, req.device)} is mounted (in famfs mode) at ${live.target}`, req.device);
    leaveStaleFamfsMode(req.device, (l) => warn(l));
  }
  // Validate the superblock and log before anything starts.
  const probe = Famfs.open(req.device, { writable: false, systemUuid: req.systemUuid });
  const fsUuid = probe.sb.uuid;
  // Bad log entries are skipped by replay (fsck reports them); the mount still works.
  probe.close();
  const device = shown(givenDevice, req.device);
  const daemons = listDaemons(dir, warn);
  for (const { file, state: d } of daemons) {
    if (d.fsUuid !== fsUuid || d.systemUuid !== req.systemUuid) continue;
    // A live daemon serves this file system for this host, wherever its mount
    // point is (even one /proc/mounts no longer lists: it is unmounting).
    if (isDaemonRunning(d.pid)) {
      throw new FamfsError('EBUSY', 'mount', `${op}: this host (${req.systemUuid}) already has ${device} mounted at ${d.mountpoint}`, req.device);
    }
    // a leftover of a daemon that died: detach its dead mount and forget it
    if (isDeadMount(d.mountpoint)) cleanupDeadMount(d.mountpoint, dir);
    // the files this state came with (its name, not one derived from what it says)
    const stem = file.slice(0, -'.json'.length);
    removeDaemonFiles({ state: file, socket: `${stem}.sock`, log: `${stem}.log`, window: `${stem}.window` }, d.pid);
  }
  // A live famfs mount of this very device that no state here accounts for
  // (its daemon keeps its state in another run directory): its host is
  // unknown, so it may be this one — refuse rather than mount twice.
  const known = new Set(daemons.map((d) => d.state.mountpoint));
  for (const m of famfsMountsOfDevice(req.device)) {
    if (!known.has(m.target) && !isDeadMount(m.target)) {
      throw new FamfsError('EBUSY', 'mount', `${op}: ${device} is already mounted at ${m.target} by a famfs daemon that ${dir} does not know`, req.device);
    }
  }

  const logFd = openDaemonLog(op, files.log);
  const child = spawn(process.execPath, [DAEMON_MAIN, JSON.stringify({ ...req, mountpoint: mpt, fsUuid })], {
    detached: true,
    stdio: ['ignore', logFd, logFd, 'pipe'],
  });
  fs.closeSync(logFd);
  const status = child.stdio[3] as NodeJS.ReadableStream;
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(`timeout`), waitMs);
    status.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(text.trim());
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(text.trim() || `exited with status ${code}`);
    });
  });
  (status as unknown as { destroy(): void }).destroy();
  child.unref();
  if (answer !== 'ready') {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw new FamfsError('EIO', 'mount', `${op}: the famfs daemon failed: ${answer.replace(/^error /, '')} (log: ${files.log})`, mpt);
  }
  const state = readState(files.state, warn);
  if (state === undefined) throw new FamfsError('EIO', 'mount', `${op}: the famfs daemon answered but left no valid state in ${files.state}`, mpt);
  return state;
}

/**
 * A famfs mount point whose daemon died (ENOTCONN): detach it and forget its
 * state. Only a famfs mount is touched (`mpt` may come from a state file).
 */
export function cleanupDeadMount(mpt: string, dir?: string): void {
  const real = realPath(mpt);
  if (!isDeadMount(real)) return;
  unmount(real, true);
  if (dir !== undefined) removeDaemonFiles(daemonFiles(real, dir), undefined);
  else {
    const run = openRunDir('famfs mount', { create: false });
    if (run === undefined) return;
    fs.closeSync(run.fd);
    removeDaemonFiles(daemonFiles(real, run.path), undefined);
  }
}

/**
 * `famfs umount`: unmount, then wait for the daemon to see ENODEV and exit.
 * Plain `umount` takes the same path in the daemon. The mount point may be
 * given by any alias; a refused run directory refuses the unmount too
 * (plain `umount` still works).
 */
export async function umountFamfs(mountpoint: string, waitMs = 10_000, warn: Warn = warnToStderr): Promise<void> {
  const op = 'famfs umount';
  const mpt = realPath(mountpoint);
  if (famfsMountAt(mpt) === undefined) throw new FamfsError('EINVAL', 'umount', `${op}: ${mountpoint} is not a famfs mount point`, mountpoint);
  const run = openRunDir(op, { create: false });
  if (run !== undefined) fs.closeSync(run.fd);
  const files = run === undefined ? undefined : daemonFiles(mpt, run.path);
  const state = files === undefined ? undefined : readState(files.state, warn);
  // only a daemon that says it serves this mount point, and still runs, is waited for
  const pid = state !== undefined && state.mountpoint === mpt && isDaemonRunning(state.pid) ? state.pid : undefined;
  // famfs mode: the daemon holds the mount's .meta files open (mapped): ask it
  // to let go first, or the unmount is EBUSY
  if (pid !== undefined && files !== undefined) {
    try {
      await controlRequest(files.socket, { release: {} }, 5_000);
    } catch (e) {
      warn(`${op}: the daemon did not answer the release request: ${(e as Error).message}`);
    }
  }
  // the daemon closes its meta files off its event loop (their FLUSH comes
  // back to it): an EBUSY right after the release is that, for a moment
  for (const until = Date.now() + 5_000; ; ) {
    try {
      unmount(mpt, isDeadMount(mpt));
      break;
    } catch (e) {
      if (!(e instanceof FamfsError) || e.code !== 'EBUSY' || pid === undefined || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (pid !== undefined) {
    const until = Date.now() + waitMs;
    while (isDaemonRunning(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (isDaemonRunning(pid)) throw new FamfsError('EBUSY', 'umount', `${op}: the famfs daemon (pid ${pid}) did not exit`, mountpoint);
  }
  // a daemon that died (SIGKILL) left its state and socket behind
  if (files !== undefined) removeDaemonFiles(files, state?.pid);
}
