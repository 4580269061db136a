import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Famfs, FamfsError } from '@famfs/core';
import type { CacheMode } from './filesystem.js';
import type { FamfsProfileName } from './protocol/index.js';
import {
  type DaemonState, daemonFiles, famfsMountOf, famfsMounts, isAlive, isDeadMount, listDaemons, runDir, unmount,
} from './mounts.js';

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
}

// The daemon always runs the built entry point (`make build`), whether this
// module runs from src/ (tests) or dist/: both are one level below the package.
const DAEMON_MAIN = fileURLToPath(new URL('../dist/bin/famfs-fused.js', import.meta.url));

/**
 * `famfs mount`: check everything, clean up a dead mount, start the daemon
 * detached (its log in the run directory), and wait until the mount answers.
 */
export async function mountFamfs(req: MountRequest, waitMs = 20_000): Promise<DaemonState> {
  const mpt = path.resolve(req.mountpoint);
  // the mount table and the daemon state record the device as given: make it
  // absolute so that fsck/getmap work from any directory
  req = { ...req, device: path.resolve(req.device) };
  let st: fs.Stats;
  if (isDeadMount(mpt)) cleanupDeadMount(mpt);
  try {
    st = fs.statSync(mpt);
  } catch {
    throw new FamfsError('ENOENT', 'mount', `famfs mount: mount pt (${req.mountpoint}) not found`, req.mountpoint);
  }
  if (!st.isDirectory()) throw new FamfsError('ENOTDIR', 'mount', `famfs mount: ${req.mountpoint} is not a directory`, req.mountpoint);
  if (famfsMounts().some((m) => m.target === mpt)) throw new FamfsError('EBUSY', 'mount', `famfs mount: ${mpt} is already a famfs mount point`, mpt);

  // Validate the superblock and log before anything starts.
  const probe = Famfs.open(req.device, { writable: false, systemUuid: req.systemUuid });
  const fsUuid = probe.sb.uuid;
  // Bad log entries are skipped by replay (fsck reports them); the mount still works.
  probe.close();
  for (const d of listDaemons()) {
    if (d.fsUuid !== fsUuid || d.systemUuid !== req.systemUuid) continue;
    if (isAlive(d.pid) && famfsMounts().some((m) => m.target === d.mountpoint)) {
      throw new FamfsError('EBUSY', 'mount', `famfs mount: this host (${req.systemUuid}) already has ${req.device} mounted at ${d.mountpoint}`, req.device);
    }
    // a leftover from a daemon that died: clean it up
    if (isDeadMount(d.mountpoint)) cleanupDeadMount(d.mountpoint);
    fs.rmSync(daemonFiles(d.mountpoint).state, { force: true });
  }

  fs.mkdirSync(runDir(), { recursive: true, mode: 0o700 });
  const files = daemonFiles(mpt);
  const logFd = fs.openSync(files.log, 'a', 0o600);
  const child = spawn(process.execPath, [DAEMON_MAIN, JSON.stringify({ ...req, mountpoint: mpt })], {
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
    throw new FamfsError('EIO', 'mount', `famfs mount: the famfs daemon failed: ${answer.replace(/^error /, '')} (log: ${files.log})`, mpt);
  }
  const state = JSON.parse(fs.readFileSync(files.state, 'utf8')) as DaemonState;
  return state;
}

/** A mount point whose daemon died (ENOTCONN): detach it and forget its state. */
export function cleanupDeadMount(mpt: string): void {
  unmount(mpt, true);
  fs.rmSync(daemonFiles(mpt).state, { force: true });
  fs.rmSync(daemonFiles(mpt).socket, { force: true });
}

/**
 * `famfs umount`: unmount, then wait for the daemon to see ENODEV and exit.
 * Plain `umount` takes the same path in the daemon.
 */
export async function umountFamfs(mountpoint: string, waitMs = 10_000): Promise<void> {
  const mpt = path.resolve(mountpoint);
  const m = famfsMountOf(mpt);
  if (m === undefined || m.target !== mpt) throw new FamfsError('EINVAL', 'umount', `famfs umount: ${mountpoint} is not a famfs mount point`, mountpoint);
  const files = daemonFiles(mpt);
  let pid: number | undefined;
  try {
    pid = (JSON.parse(fs.readFileSync(files.state, 'utf8')) as DaemonState).pid;
  } catch {
    pid = undefined;
  }
  unmount(mpt, isDeadMount(mpt));
  if (pid !== undefined) {
    const until = Date.now() + waitMs;
    while (isAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (isAlive(pid)) throw new FamfsError('EBUSY', 'umount', `famfs umount: the famfs daemon (pid ${pid}) did not exit`, mountpoint);
  }
  // a daemon that died (SIGKILL) left its state and socket behind
  fs.rmSync(files.state, { force: true });
  fs.rmSync(files.socket, { force: true });
}
