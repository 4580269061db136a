import * as fs from 'node:fs';
import * as path from 'node:path';
import * as native from '@famfs/native';
import { FamfsError, describeErrno, fromSystemError } from '@famfs/core';

/** The type /proc/mounts shows for a famfs mount. */
export const FUSE_FSTYPE = 'fuse.famfs';

export interface MountEntry {
  source: string;
  target: string;
  type: string;
  options: string;
}

/** /proc/mounts escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function readMounts(file = '/proc/self/mounts'): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    out.push({ source: unescapeMount(f[0]!), target: unescapeMount(f[1]!), type: f[2]!, options: f[3]! });
  }
  return out;
}

export function famfsMounts(): MountEntry[] {
  return readMounts().filter((m) => m.type === FUSE_FSTYPE);
}

/** The famfs mount containing `p` (the longest mount point that is a prefix), if any. */
export function famfsMountOf(p: string): MountEntry | undefined {
  const abs = path.resolve(p);
  let best: MountEntry | undefined;
  for (const m of famfsMounts()) {
    if (abs === m.target || abs.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`)) {
      if (!best || m.target.length > best.target.length) best = m;
    }
  }
  return best;
}

/** Where mount daemons keep their state, control sockets and logs (root only). */
export function runDir(): string {
  return process.env.FAMFS_RUN_DIR || '/run/famfs';
}

/** The files of the daemon serving `mountpoint`. */
export function daemonFiles(mountpoint: string): { state: string; socket: string; log: string } {
  const name = path.resolve(mountpoint).replace(/^\//, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'root';
  const dir = runDir();
  return { state: path.join(dir, `${name}.json`), socket: path.join(dir, `${name}.sock`), log: path.join(dir, `${name}.log`) };
}

/** What a running daemon records about itself. */
export interface DaemonState {
  pid: number;
  device: string;
  mountpoint: string;
  systemUuid: string;
  fsUuid: string;
  socket: string;
  log: string;
}

export function readState(file: string): DaemonState | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as DaemonState;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // an exited daemon waits as a zombie until its (re)parent reaps it: it is gone
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Every daemon whose state file is present (alive or not). */
export function listDaemons(): DaemonState[] {
  const dir = runDir();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.json')).flatMap((n) => readState(path.join(dir, n)) ?? []);
}

/** A mount whose server is gone answers ENOTCONN: such a mount point can be cleaned up. */
export function isDeadMount(mountpoint: string): boolean {
  try {
    fs.statSync(mountpoint);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOTCONN';
  }
}

const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOATIME = 1024;
export const MNT_DETACH = 2;

/**
 * mount(2) a FUSE file system served on `fd` (an open /dev/fuse). The source
 * is the device, so /proc/mounts shows `<device> <mountpoint> fuse.famfs`.
 * `default_permissions` lets the kernel enforce modes (a client's files have
 * no write bits); `allow_other` lets every user see the shared files.
 */
export function mountFuse(device: string, mountpoint: string, fd: number, maxRead: number, o = { allowOther: true, defaultPermissions: true }): void {
  const data = [
    `fd=${fd}`, 'rootmode=40755', 'user_id=0', 'group_id=0',
    ...(o.allowOther ? ['allow_other'] : []), ...(o.defaultPermissions ? ['default_permissions'] : []), `max_read=${maxRead}`,
  ].join(',');
  try {
    native.mount(device, mountpoint, FUSE_FSTYPE, MS_NOSUID | MS_NODEV | MS_NOATIME, data);
  } catch (e) {
    const err = fromSystemError(e, 'mount', mountpoint);
    throw new FamfsError(err.code, 'mount', `mount: cannot mount ${device} on ${mountpoint}: ${describeErrno(err.code)}`, { path: mountpoint, kind: err.kind, cause: e });
  }
}

export function unmount(mountpoint: string, lazy = false): void {
  try {
    native.umount2(mountpoint, lazy ? MNT_DETACH : 0);
  } catch (e) {
    throw fromSystemError(e, 'umount', mountpoint);
  }
}
