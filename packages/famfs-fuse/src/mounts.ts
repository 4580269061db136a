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

/** Linux's limit on symbolic links followed in one lookup (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/**
 * The real path of `p`, as the kernel would resolve it: relative to the
 * working directory, every symbolic link followed and `.`/`..` taken after
 * the link before them is resolved — what /proc/mounts records for a mount
 * point. It uses readlink(2) one component at a time rather than
 * realpath(3): readlink of a mount point never reaches the FUSE server behind
 * it (the VFS answers EINVAL for a directory), so this works on the mount
 * point of a dead or stopped daemon. From the first component that cannot be
 * looked up (missing, under a dead mount, not a directory) on, the rest is
 * appended as written, `..` taken lexically.
 */
export function realPath(p: string): string {
  if (p === '') throw new FamfsError('ENOENT', 'realpath', 'realpath: empty path', { kind: 'usage' });
  const split = (s: string): string[] => s.split('/').filter((c) => c !== '' && c !== '.');
  let todo = split(p.startsWith('/') ? p : `${process.cwd()}/${p}`);
  let out = '/';
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '..') {
      out = path.dirname(out);
      continue;
    }
    const next = out === '/' ? `/${c}` : `${out}/${c}`;
    let target: string;
    try {
      target = fs.readlinkSync(next);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EINVAL') {
        out = next; // exists and is not a symbolic link
        continue;
      }
      return path.join(next, ...todo);
    }
    if (++links > MAX_SYMLINKS) throw new FamfsError('ELOOP', 'realpath', `${p}: too many levels of symbolic links`, { path: p, kind: 'system' });
    if (target.startsWith('/')) out = '/';
    todo = [...split(target), ...todo];
  }
  return out;
}

/**
 * What a path names, for comparing aliases: a block or character device by
 * its device number (st_rdev: /dev/loop0 and a copy of its node are one
 * device), anything else by (st_dev, st_ino) (a symlink to an image, a bind
 * mount of it, a hard link are one file). undefined when it cannot be stat'ed.
 */
export function fileIdentity(p: string): string | undefined {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(p, { bigint: true });
  } catch {
    return undefined;
  }
  if (st.isBlockDevice()) return `block ${st.rdev}`;
  if (st.isCharacterDevice()) return `char ${st.rdev}`;
  return `inode ${st.dev}:${st.ino}`;
}

/** Do `a` and `b` name the same file or device (see fileIdentity)? */
export function sameFile(a: string, b: string): boolean {
  const id = fileIdentity(a);
  return id !== undefined && id === fileIdentity(b);
}

/** The famfs mounts of `device` (or of any alias of it: compared by identity, not by path). */
export function famfsMountsOfDevice(device: string): MountEntry[] {
  const id = fileIdentity(device);
  if (id === undefined) return [];
  return famfsMounts().filter((m) => fileIdentity(m.source) === id);
}

/** The famfs mount whose mount point is `p` itself, any alias of it included. */
export function famfsMountAt(p: string): MountEntry | undefined {
  const real = realPath(p);
  return famfsMounts().find((m) => m.target === real);
}

/**
 * The famfs mount containing `p` (the longest mount point that is a prefix
 * of its real path), if any: a symlink into a mount, a relative path or `..`
 * find the mount they really are in.
 */
export function famfsMountOf(p: string): MountEntry | undefined {
  const abs = realPath(p);
  let best: MountEntry | undefined;
  for (const m of famfsMounts()) {
    if (abs === m.target || abs.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`)) {
      if (!best || m.target.length > best.target.length) best = m;
    }
  }
  return best;
}

/**
 * A famfs mount point whose server is gone (ENOTCONN): it can be cleaned up.
 * Only famfs mounts count — a dead mount of another FUSE file system is not
 * ours to detach. statfs, not stat: the kernel answers stat from its
 * attribute cache for up to the attribute timeout after the daemon died,
 * while STATFS always goes to the server.
 */
export function isDeadMount(mountpoint: string): boolean {
  if (famfsMountAt(mountpoint) === undefined) return false;
  try {
    fs.statfsSync(mountpoint);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOTCONN';
  }
}

const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOATIME = 1024;
export const MNT_DETACH = 2;
/** umount2: do not follow a symbolic link in the last component (mount points are real paths here). */
const UMOUNT_NOFOLLOW = 8;

/**
 * mount(2) a FUSE file system served on `fd` (an open /dev/fuse) on the
 * directory whose real path is `mountpoint`. The source is the device, so
 * /proc/mounts shows `<device> <mountpoint> fuse.famfs`. `default_permissions`
 * lets the kernel enforce modes (a client's files have no write bits);
 * `allow_other` lets every user see the shared files.
 *
 * The directory is opened first (O_NOFOLLOW) and mounted on through
 * /proc/self/fd, after checking that the open directory is `mountpoint`: the
 * mount lands on the directory that was checked, even if someone swaps a
 * component of the path for a symlink meanwhile (as fusermount mounts on ".").
 */
export function mountFuse(device: string, mountpoint: string, fd: number, maxRead: number, o = { allowOther: true, defaultPermissions: true }): void {
  const data = [
    `fd=${fd}`, 'rootmode=40755', 'user_id=0', 'group_id=0',
    ...(o.allowOther ? ['allow_other'] : []), ...(o.defaultPermissions ? ['default_permissions'] : []), `max_read=${maxRead}`,
  ].join(',');
  let dirFd: number;
  try {
    dirFd = fs.openSync(mountpoint, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const err = fromSystemError(e, 'mount', mountpoint);
    throw new FamfsError(err.code, 'mount', `mount: cannot use ${mountpoint} as a mount point: ${describeErrno(err.code)}`, { path: mountpoint, kind: err.kind, cause: e });
  }
  try {
    const opened = fs.readlinkSync(`/proc/self/fd/${dirFd}`);
    if (opened !== mountpoint) {
      throw new FamfsError('EXDEV', 'mount', `mount: ${mountpoint} resolved to ${opened} when opened: a path component changed; not mounting`, mountpoint);
    }
    native.mount(device, `/proc/self/fd/${dirFd}`, FUSE_FSTYPE, MS_NOSUID | MS_NODEV | MS_NOATIME, data);
  } catch (e) {
    if (e instanceof FamfsError) throw e;
    const err = fromSystemError(e, 'mount', mountpoint);
    throw new FamfsError(err.code, 'mount', `mount: cannot mount ${device} on ${mountpoint}: ${describeErrno(err.code)}`, { path: mountpoint, kind: err.kind, cause: e });
  } finally {
    fs.closeSync(dirFd);
  }
}

/** umount2 of a mount point given by its real path (a symlink in its last component is not followed). */
export function unmount(mountpoint: string, lazy = false): void {
  try {
    native.umount2(mountpoint, (lazy ? MNT_DETACH : 0) | UMOUNT_NOFOLLOW);
  } catch (e) {
    throw fromSystemError(e, 'umount', mountpoint);
  }
}
