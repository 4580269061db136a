/**
 * Helpers for the tests that really mount famfs (FUSE through /dev/fuse):
 * shell commands with a controlled environment, the daemons' state files in
 * a per-test FAMFS_RUN_DIR, waiting for a daemon to end, and a cleanup that
 * unmounts every mount point a test made and stops only the daemons that
 * test started (never any other famfs daemon on the machine).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DaemonState } from '@famfs/fuse';
import { MiB, REPO, type Requirement, type RunResult, runBin } from './helpers.js';

/** The FUSE device node: without it nothing can be mounted. */
export const devFuseReq: Requirement = { what: '/dev/fuse', met: () => fs.existsSync('/dev/fuse') };

/** Run `cmd` with sh -c; the environment is `env` plus PATH and HOME only (as runBin). */
export function sh(cmd: string, env: Record<string, string> = {}, timeoutMs = 60_000): RunResult {
  const r = spawnSync('sh', ['-c', cmd], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    timeout: timeoutMs,
    maxBuffer: 64 * MiB,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Single-quote `s` for sh. */
export function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** What a famfs daemon writes to $FAMFS_RUN_DIR/<mountpoint>.json (the daemon's own type). */
export type DaemonStateFile = DaemonState;

/** The state files in `runDir`, by file name. */
export function daemonStates(runDir: string): Map<string, DaemonStateFile> {
  const out = new Map<string, DaemonStateFile>();
  let names: string[];
  try {
    names = fs.readdirSync(runDir);
  } catch {
    return out;
  }
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    try {
      out.set(path.join(runDir, n), JSON.parse(fs.readFileSync(path.join(runDir, n), 'utf8')) as DaemonStateFile);
    } catch {
      // a state file being written or removed right now
    }
  }
  return out;
}

/** The state of the daemon serving `mountpoint` (exactly one must exist). */
export function daemonOf(runDir: string, mountpoint: string): { file: string; state: DaemonStateFile } {
  const found = [...daemonStates(runDir)].filter(([, s]) => s.mountpoint === path.resolve(mountpoint));
  if (found.length !== 1) throw new Error(`expected one daemon state for ${mountpoint} in ${runDir}, found ${found.length}`);
  return { file: found[0]![0], state: found[0]![1] };
}

/** Has `pid` ended? A zombie (exited, not yet reaped by its parent) has. */
export function pidGone(pid: number): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

/** Is `pid` a famfs mount daemon (its command line runs famfs-fused)? */
export function isFamfsDaemon(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('famfs-fused');
  } catch {
    return false;
  }
}

/** Poll `pred` every 20 ms for up to `ms`; its last answer. */
export async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (pred()) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** /proc/mounts as (source, target, type), octal escapes undone. */
export function readMounts(): Array<{ source: string; target: string; type: string }> {
  const un = (x: string) => x.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return fs.readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l !== '').map((l) => {
    const f = l.split(' ');
    return { source: un(f[0]!), target: un(f[1]!), type: f[2]! };
  });
}

/** famfs mount points at or below `dir`, from /proc/mounts. */
export function famfsMountsUnder(dir: string): string[] {
  const prefix = path.resolve(dir) + '/';
  return readMounts().filter((m) => m.type === 'fuse.famfs' && (m.target + '/').startsWith(prefix)).map((m) => m.target);
}

export function isMounted(mountpoint: string): boolean {
  return readMounts().some((m) => m.type === 'fuse.famfs' && m.target === path.resolve(mountpoint));
}

/**
 * Undo everything a test mounted below `dir` with daemons recorded in
 * `runDir`: `famfs umount`, else `umount -l`; then SIGKILL any of those
 * daemons still running (only pids from our own run directory that really
 * are famfs daemons). Returns what it had to force, for a warning.
 */
export async function cleanupMounts(dir: string, runDir: string, env: Record<string, string>): Promise<string[]> {
  const forced: string[] = [];
  const pids = [...daemonStates(runDir).values()].map((s) => s.pid);
  // deepest first, in case a test mounted inside a mount
  for (const m of famfsMountsUnder(dir).sort((a, b) => b.length - a.length)) {
    const r = runBin('famfs', ['umount', m], { ...env, FAMFS_RUN_DIR: runDir });
    if (r.status !== 0 && isMounted(m)) {
      forced.push(`umount -l ${m}`);
      spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
  for (const pid of pids) {
    if (pidGone(pid)) continue;
    if (await waitFor(() => pidGone(pid), 3000)) continue;
    if (isFamfsDaemon(pid)) {
      forced.push(`kill -9 ${pid}`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  return forced;
}

/** VmRSS of `pid` in bytes, from /proc/<pid>/status. */
export function vmRss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

// ---------------------------------------------------------------- hostile-surroundings helpers

/** A famfs CLI process started by spawnFamfs: its output so far, and its end. */
export interface Running {
  readonly child: ChildProcess;
  /** stdout so far */
  stdout(): string;
  /** when it exited (killed with SIGKILL after the timeout: a hang is a failure, not a stuck suite) */
  readonly done: Promise<RunResult & { ms: number }>;
}

/**
 * Start `file args` with `env` plus PATH and HOME (as runBin), collecting its
 * output; killed with SIGKILL after `timeoutMs` (a hang is a failure, not a
 * stuck suite).
 */
function spawnCollected(file: string, args: string[], env: Record<string, string>, opts: { cwd?: string; timeoutMs: number }): Running {
  const t0 = Date.now();
  const child = spawn(file, args, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => void (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => void (err += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const done = new Promise<RunResult & { ms: number }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: out, stderr: err, ms: Date.now() - t0 });
    });
  });
  return { child, stdout: () => out, done };
}

/** Start bin/famfs without waiting for it; the environment as runBin's (`env` plus PATH and HOME). */
export function spawnFamfs(args: string[], env: Record<string, string>, opts: { cwd?: string; timeoutMs?: number } = {}): Running {
  return spawnCollected(path.join(REPO, 'bin/famfs'), args, env, { cwd: opts.cwd, timeoutMs: opts.timeoutMs ?? 30_000 });
}

/** sh() without blocking: for several scripts running at once. */
export function shAsync(cmd: string, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<RunResult> {
  return spawnCollected('sh', ['-c', cmd], env, { timeoutMs }).done;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Connections to the unix socket at `socketPath` that its server has not
 * answered yet, from /proc/net/unix: every socket of a connection queued on
 * a listener carries the listener's path, so the count is the lines with
 * that path minus the listener's own.
 */
export function pendingConnections(socketPath: string): number {
  const rows = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1);
  return Math.max(0, rows.filter((l) => l.endsWith(` ${socketPath}`)).length - 1);
}

/** A scratch directory for one test, with its own run directory for the daemons it starts. */
export interface MountScratch {
  dir: string;
  /** $FAMFS_RUN_DIR for this test: dir/run */
  runDir: string;
  /** the environment for the CLI: system UUID and run directory */
  env: Record<string, string>;
}

/**
 * Run `fn` in `dir` (a fresh temporary directory) with its own run
 * directory; afterwards — also when `fn` failed — unmount every famfs mount
 * below `dir` and stop the daemons recorded in its run directory
 * (cleanupMounts). What had to be forced is a warning.
 */
export async function withMountScratch<T>(dir: string, systemUuid: string, fn: (s: MountScratch) => Promise<T>): Promise<T> {
  const runDir = path.join(dir, 'run');
  const env = { FAMFS_SYSTEM_UUID: systemUuid, FAMFS_RUN_DIR: runDir };
  try {
    return await fn({ dir, runDir, env });
  } finally {
    const forced = await cleanupMounts(dir, runDir, env);
    if (forced.length > 0) console.warn(`cleanup below ${dir} had to force: ${forced.join('; ')}`);
  }
}
