import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ErrnoName, FamfsError, fromSystemError } from '@famfs/core';
import { realPath } from './mounts.js';

/**
 * The run directory ($FAMFS_RUN_DIR, default /run/famfs), where each mount
 * daemon keeps its state file, control socket and log. The daemon runs as
 * root, so everything here is treated as hostile ground:
 *
 * - the directory must be a real directory (not a symlink) owned by the
 *   effective uid that group and others cannot write (mode bits 0o022 clear;
 *   read/search bits are allowed: the files inside are 0600). It is created
 *   0700 when missing. Every existing ancestor must be owned by root or the
 *   effective uid and not be writable by group/others unless sticky (like
 *   /tmp): otherwise someone else could rename the checked directory away and
 *   put their own in its place.
 * - nothing in it is ever followed: a symlink, FIFO, directory or hard link
 *   where a daemon file belongs is refused before anything is written; the
 *   log is opened O_NOFOLLOW, the state is written to an O_EXCL temporary and
 *   renamed into place, the socket is bound only after unlinking a stale one.
 * - state files are parsed as untrusted input: a file that is not a valid
 *   state is ignored with a warning.
 */

/** Where mount daemons keep their state, control sockets and logs (root only). */
export function runDir(): string {
  return process.env.FAMFS_RUN_DIR || '/run/famfs';
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = fs.constants;
/** The sticky bit (Node's fs.constants lacks S_ISVTX): in such a directory only an entry's owner may rename or remove it. */
const S_ISVTX = 0o1000;

const euid = (): number => process.geteuid?.() ?? 0;
const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/** Where warnings about a run directory's contents go (the daemon's log, or the CLI's stderr). */
export type Warn = (message: string) => void;
export const warnToStderr: Warn = (m) => void process.stderr.write(`famfs: warning: ${m}\n`);

function refuseDir(op: string, dir: string, why: string, code: ErrnoName): FamfsError {
  return new FamfsError(code, op, `${op}: refusing run directory ${dir}: ${why} (it must be a directory owned by uid ${euid()} that group and others cannot write; FAMFS_RUN_DIR chooses another)`, dir);
}

/** Why an ancestor of the run directory would let another user replace it, if it would. */
function ancestorProblem(st: fs.Stats): string | undefined {
  if (st.uid !== 0 && st.uid !== euid()) return `is owned by uid ${st.uid}`;
  if ((st.mode & 0o022) !== 0 && (st.mode & S_ISVTX) === 0) return `is writable by group or others and not sticky (mode ${octal(st.mode)})`;
  return undefined;
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** An open, checked run directory: its real path, and a descriptor to lock it by. */
export interface RunDir {
  path: string;
  fd: number;
}

/**
 * Check the run directory (see the rules above) and open it; with `create`,
 * make it (0700) and its missing parents first. Without `create`, a missing
 * run directory is undefined (there is nothing to read in it). A refusal is
 * a one-line FamfsError (ELOOP symlink, ENOTDIR, EPERM owner or mode) and
 * nothing was written. The caller closes `fd`.
 */
export function openRunDir(op: string, opts: { create: true }): RunDir;
export function openRunDir(op: string, opts: { create: boolean }): RunDir | undefined;
export function openRunDir(op: string, opts: { create: boolean }): RunDir | undefined {
  const given = runDir();
  const abs = given.startsWith('/') ? given : `${process.cwd()}/${given}`;
  const base = path.basename(abs);
  // the directory itself must not be a symlink, so only its parent is resolved
  const dir = base === '.' || base === '..' ? realPath(abs) : path.join(realPath(path.dirname(abs)), base);
  for (let a = path.dirname(dir); ; a = path.dirname(a)) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(a);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fromSystemError(e, op, a);
    }
    const why = st && ancestorProblem(st);
    if (why !== undefined) throw refuseDir(op, dir, `its parent directory ${a} ${why}`, 'EPERM');
    if (a === '/') break;
  }
  let created = false;
  if (opts.create) {
    try {
      fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
      fs.mkdirSync(dir, { mode: 0o700 });
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(e, op, dir);
    }
  }
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted here must not block the open (O_DIRECTORY refuses it anyway)
    fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !opts.create) return undefined;
    // O_NOFOLLOW|O_DIRECTORY on a symlink is ENOTDIR: lstat says which it was
    if (code === 'ELOOP' || (code === 'ENOTDIR' && isSymlink(dir))) throw refuseDir(op, dir, 'it is a symbolic link', 'ELOOP');
    if (code === 'ENOTDIR') throw refuseDir(op, dir, 'it is not a directory', 'ENOTDIR');
    throw fromSystemError(e, op, dir);
  }
  try {
    if (created) fs.fchmodSync(fd, 0o700); // whatever the umask was
    const st = fs.fstatSync(fd);
    if (st.uid !== euid()) throw refuseDir(op, dir, `it is owned by uid ${st.uid}`, 'EPERM');
    if ((st.mode & 0o022) !== 0) throw refuseDir(op, dir, `group or others can write it (mode ${octal(st.mode)})`, 'EPERM');
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return { path: dir, fd };
}

// ---------------------------------------------------------------- daemon files

export interface DaemonFiles {
  state: string;
  socket: string;
  log: string;
  /** the DAX window's socket for VMMs (SOCK_SEQPACKET; only with -o dax_window) */
  window: string;
}

/**
 * The files of the daemon serving `mountpoint`, named after its real path
 * (a symlinked or relative spelling of a mount point names the same files).
 */
export function daemonFiles(mountpoint: string, dir = runDir()): DaemonFiles {
  const name = realPath(mountpoint).replace(/^\//, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'root';
  return { state: path.join(dir, `${name}.json`), socket: path.join(dir, `${name}.sock`), log: path.join(dir, `${name}.log`), window: path.join(dir, `${name}.window`) };
}

function refuseFile(op: string, file: string, why: string, code: ErrnoName): FamfsError {
  return new FamfsError(code, op, `${op}: refusing ${file}: ${why} (nothing in the run directory is followed or reused; remove it)`, file);
}

/** Why an existing regular file at a daemon file's path is not ours to reuse, if it is not. */
function regularFileProblem(st: fs.Stats): string | undefined {
  if (!st.isFile()) return 'it is not a regular file';
  if (st.uid !== euid()) return `it is owned by uid ${st.uid}`;
  if (st.nlink !== 1) return `it has ${st.nlink} hard links`;
  return undefined;
}

/**
 * Before a daemon is started: refuse anything at the state, socket or log
 * path that is not what a previous daemon leaves there (a regular file of
 * ours, a socket). A symlink is refused rather than replaced: something
 * planted it in root's run directory, and an administrator should look.
 */
export function checkDaemonFiles(op: string, files: DaemonFiles): void {
  for (const [file, want] of [[files.state, 'file'], [files.log, 'file'], [files.socket, 'socket'], [files.window, 'socket']] as const) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw fromSystemError(e, op, file);
    }
    if (st.isSymbolicLink()) throw refuseFile(op, file, 'it is a symbolic link', 'ELOOP');
    const why = want === 'socket' ? (st.isSocket() ? undefined : 'it is not a socket') : regularFileProblem(st);
    if (why !== undefined) throw refuseFile(op, file, why, 'EEXIST');
  }
}

/**
 * Open the daemon's log for appending, 0600, never through a symlink
 * (O_NOFOLLOW) nor into a FIFO, device or hard link planted at its path.
 * The caller closes the descriptor.
 */
export function openDaemonLog(op: string, file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw refuseFile(op, file, 'it is a symbolic link', 'ELOOP');
    if (code === 'ENXIO') throw refuseFile(op, file, 'it is a FIFO', 'EEXIST');
    throw fromSystemError(e, op, file);
  }
  try {
    const st = fs.fstatSync(fd);
    const why = regularFileProblem(st);
    if (why !== undefined) throw refuseFile(op, file, why, 'EEXIST');
    if ((st.mode & 0o077) !== 0) fs.fchmodSync(fd, 0o600);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
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

/** A state file is a few hundred bytes; anything much larger is not one. */
const MAX_STATE_BYTES = 64 * 1024;

const STATE_STRINGS = ['device', 'mountpoint', 'systemUuid', 'fsUuid', 'socket', 'log'] as const;
const STATE_PATHS = ['device', 'mountpoint', 'socket', 'log'] as const;

/** The state in `json`, or why it is not one. */
function parseState(json: string): DaemonState | string {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return 'not valid JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  const pid = o.pid;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid < 2) return `pid ${JSON.stringify(pid)} is not a process id`;
  const s: Partial<Record<(typeof STATE_STRINGS)[number], string>> = {};
  for (const k of STATE_STRINGS) {
    const x = o[k];
    if (typeof x !== 'string' || x === '' || x.length > 4096 || x.includes('\0')) return `${k} is missing or not a usable string`;
    s[k] = x;
  }
  for (const k of STATE_PATHS) if (!s[k]!.startsWith('/')) return `${k} is not an absolute path`;
  return { pid, device: s.device!, mountpoint: s.mountpoint!, systemUuid: s.systemUuid!, fsUuid: s.fsUuid!, socket: s.socket!, log: s.log! };
}

/**
 * Read a daemon's state file as untrusted input: not through a symlink, only
 * a regular file of sane size, only a well-formed state. A missing file is
 * undefined; anything else that is not a state is undefined with a warning.
 */
export function readState(file: string, warn: Warn = warnToStderr): DaemonState | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') warn(`ignoring daemon state ${file}: ${code === 'ELOOP' ? 'it is a symbolic link' : fromSystemError(e, 'open', file).message}`);
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_STATE_BYTES) {
      warn(`ignoring daemon state ${file}: ${st.isFile() ? `${st.size} bytes is too large` : 'not a regular file'}`);
      return undefined;
    }
    const r = parseState(fs.readFileSync(fd, 'utf8'));
    if (typeof r === 'string') {
      warn(`ignoring daemon state ${file}: ${r}`);
      return undefined;
    }
    return r;
  } catch (e) {
    warn(`ignoring daemon state ${file}: ${fromSystemError(e, 'read', file).message}`);
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Write a daemon's state atomically: to a temporary name created O_EXCL |
 * O_NOFOLLOW (0600), then renamed over the state file — rename replaces
 * whatever is at that name (a planted symlink included) and never follows it,
 * and a reader sees the old state or the new one, never half of one.
 */
export function writeState(file: string, state: DaemonState): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true }); // a leftover of an earlier process with our pid
  const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(state));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * Forget a daemon that is gone: its state file and its socket. Nothing is
 * removed while the state names a daemon still running other than `pid` (a
 * newer daemon's files are left alone).
 */
export function removeDaemonFiles(files: DaemonFiles, pid: number | undefined): void {
  const st = readState(files.state, () => {});
  if (st !== undefined && st.pid !== pid && isDaemonRunning(st.pid)) return;
  fs.rmSync(files.state, { force: true });
  for (const sock of [files.socket, files.window]) {
    try {
      if (fs.lstatSync(sock).isSocket()) fs.rmSync(sock, { force: true });
    } catch {
      // no socket
    }
  }
}

/** Every valid daemon state in the run directory `dir` (alive or not), with the file it came from. */
export function listDaemons(dir: string, warn: Warn = warnToStderr): Array<{ file: string; state: DaemonState }> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.json')).flatMap((n) => {
    const file = path.join(dir, n);
    const state = readState(file, warn);
    return state === undefined ? [] : [{ file, state }];
  });
}

/** The state of `/proc/<pid>/stat` (R, S, Z …), or undefined when there is no such process. */
function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Is `pid` a live process? An exited one waits as a zombie until its (re)parent reaps it: it is gone. */
export function isAlive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z';
}

/**
 * Is `pid` a live famfs mount daemon? A state file outlives its daemon (a
 * SIGKILL), and its pid may since belong to an unrelated process.
 */
export function isDaemonRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('famfs-fused');
  } catch {
    return false;
  }
}
