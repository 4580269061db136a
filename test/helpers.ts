/**
 * Shared helpers for the cross-package tests in test/: temporary directories
 * that are always removed, emulated device images (including the upstream
 * fixture), running the real CLI binaries, and the one place that decides
 * whether a test that needs root (loop devices, real mounts) may run here.
 */
import { afterAll } from 'vitest';
import { type Device, mkfs, openDevice } from '@famfs/core';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export const REPO = fileURLToPath(new URL('..', import.meta.url));
import { fixtureDevsize, fixtureHead } from './fixture.js';

export { FIXTURE_DIR, FIXTURE_SYSTEM_UUID, fixtureHead, fixtureText } from './fixture.js';

// ---------------------------------------------------------------- temp dirs

/**
 * Temporary directories for one test file, removed after its last test.
 * Call at the top level (or inside a describe) of a test file.
 */
export function tmpDirs(prefix = 'famfs-test-'): { make(name?: string): string } {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });
  return {
    make(name = '') {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}${name}`));
      made.push(d);
      return d;
    },
  };
}

// ---------------------------------------------------------------- images

/** A sparse file of `size` bytes (all zero), like `truncate -s`. */
export function sparseImage(file: string, size: number): string {
  const fd = fs.openSync(file, 'wx', 0o644);
  try {
    fs.ftruncateSync(fd, size);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** A sparse image of `size` bytes at `file`, formatted by core's mkfs as host `systemUuid`: the device, open read-write. */
export function formattedImage(file: string, size: number, systemUuid: string): Device {
  sparseImage(file, size);
  const dev = openDevice(file, { writable: true });
  try {
    mkfs(dev, { systemUuid, devicePath: file });
  } catch (e) {
    dev.close();
    throw e;
  }
  return dev;
}

/**
 * A sparse image whose first `min(size, 12 MiB)` bytes (superblock region,
 * a default log, the first data unit) are random: any write there — even of
 * zeros — changes its hash, so "nothing was written" can be checked.
 */
export function noisyImage(file: string, size: number): string {
  sparseImage(file, size);
  writeAt(file, 0, new Uint8Array(seeded(`noisy image ${path.basename(file)}`).bytes(Math.min(size, 12 * MiB))));
  return file;
}

/**
 * Rebuild the upstream fixture device as a sparse image, as its README says:
 * `truncate -s $(cat devsize) img && zcat head.bin.gz | dd of=img conv=notrunc`.
 */
export function fixtureImage(file: string): string {
  sparseImage(file, fixtureDevsize());
  writeAt(file, 0, fixtureHead());
  return file;
}

/** Write `bytes` into `file` at `offset` (the file must exist). */
export function writeAt(file: string, offset: number, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

export function readAt(file: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, out, 0, length, offset);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** A u64 little-endian, by hand (tests do not use the production codec to build bytes). */
export function u64le(v: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}

/** sha256 of a whole file, read in 1 MiB pieces (images may be larger than a Buffer). */
export function sha256File(file: string): string {
  const h = createHash('sha256');
  const buf = Buffer.alloc(MiB);
  const fd = fs.openSync(file, 'r');
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

// ---------------------------------------------------------------- PRNG

import { seeded } from './random.js';

export { rng, seeded, type Rng } from './random.js';

// ---------------------------------------------------------------- binaries

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const BINARIES = {
  famfs: { wrapper: path.join(REPO, 'bin/famfs'), built: path.join(REPO, 'packages/famfs-cli/dist/bin/famfs.js') },
  'mkfs.famfs': { wrapper: path.join(REPO, 'bin/mkfs.famfs'), built: path.join(REPO, 'packages/famfs-cli/dist/bin/mkfs-famfs.js') },
} as const;

/** Fail (not skip) with an actionable message when the CLI was not built. */
export function requireBuiltCli(): void {
  for (const b of Object.values(BINARIES)) {
    if (!fs.existsSync(b.built)) throw new Error(`${b.built} is missing: run \`make build\` before the CLI tests`);
  }
}

/**
 * Run a real CLI binary (bin/famfs or bin/mkfs.famfs). The environment is
 * the caller's `env` only (plus PATH and HOME), so that no host identity
 * leaks in from the shell that runs the tests.
 */
export function runBin(name: keyof typeof BINARIES, args: string[], env: Record<string, string> = {}): RunResult {
  const r = spawnSync(BINARIES[name].wrapper, args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    timeout: 30_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Lines of `text` without the final empty one. */
export function lines(text: string): string[] {
  const l = text.split('\n');
  if (l.at(-1) === '') l.pop();
  return l;
}

// ---------------------------------------------------------------- environment gates

/** Is `cmd` an executable on PATH? */
export function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export interface Requirement {
  /** what is needed, for the message: "root", "losetup on PATH" */
  what: string;
  met: () => boolean;
}

/**
 * Decide whether a test that needs the real machine may run. Returns true
 * when every requirement is met. Otherwise it says why on the console, in
 * one line, and returns false (skip) — unless FAMFS_TEST_NO_SKIP is set (CI),
 * where a missing requirement is a failure: the test file throws while
 * collecting.
 *
 * Use: `describe.runIf(needs('VM boot', vmRequirements()))(…)`.
 */
export function needs(reason: string, reqs: Requirement[]): boolean {
  const missing = reqs.filter((r) => !r.met()).map((r) => r.what);
  if (missing.length === 0) return true;
  const why = `${reason}: needs ${missing.join(', ')}`;
  if (process.env.FAMFS_TEST_NO_SKIP) {
    throw new Error(`${why} — and FAMFS_TEST_NO_SKIP is set, so this is a failure, not a skip`);
  }
  console.warn(`SKIPPED ${why} (set FAMFS_TEST_NO_SKIP=1 to make this a failure)`);
  return false;
}

/** The running user is root (euid 0). */
export const rootReq: Requirement = {
  what: 'root (euid 0)',
  met: () => typeof process.geteuid === 'function' && process.geteuid() === 0,
};

/**
 * `needs()` with root first among the requirements: for tests that use loop
 * devices or really mount.
 *
 * Use: `describe.runIf(needsRoot('loop device mkfs', [onPathReq('losetup')]))(…)`.
 */
export function needsRoot(reason: string, more: Requirement[] = []): boolean {
  return needs(reason, [rootReq, ...more]);
}

export function onPathReq(cmd: string): Requirement {
  return { what: `${cmd} on PATH`, met: () => onPath(cmd) };
}
