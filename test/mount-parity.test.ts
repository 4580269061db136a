/**
 * Upstream's command line on a MOUNTED famfs (the path forms scripts use):
 * mkdir -p of the mount point, creat --multi with a path outside the mount,
 * chkread / clone / check / ls / cat through the mount, flush and getmap of
 * .meta/.log and .meta/.superblock, and the mount options upstream has.
 * Every command goes through the one Backend, mounted or not.
 *
 * Needs root and /dev/fuse; without them it says why and skips, or fails
 * when FAMFS_TEST_NO_SKIP is set (CI).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MiB, REPO, type RunResult, lines, needsRoot, requireBuiltCli, runBin, tmpDirs } from './helpers.js';
import { cleanupMounts, devFuseReq, isMounted } from './mount-helpers.js';
import { seeded } from './random.js';

const R = seeded('mount-parity.test');
const MASTER = '7c4d5e6f-0000-4000-8000-0000000000aa';
const tmp = tmpDirs('famfs-mount-parity-');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function ok(r: RunResult, what: string): RunResult {
  expect(r.status, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

describe.runIf(needsRoot('the mounted-path parity tests (famfs mount)', [devFuseReq]))('upstream\'s commands on mounted paths', () => {
  let dir: string;
  let runDir: string;
  let img: string;
  let mnt: string;
  const env = (): Record<string, string> => ({ FAMFS_SYSTEM_UUID: MASTER, FAMFS_RUN_DIR: runDir });
  const famfs = (...args: string[]): RunResult => runBin('famfs', args, env());
  const data = R.bytes(3 * MiB + 77);

  beforeAll(() => {
    requireBuiltCli();
    dir = tmp.make('m-');
    runDir = path.join(dir, 'run');
    mnt = path.join(dir, 'mnt');
    img = path.join(dir, 'famfs.img');
    fs.mkdirSync(mnt);
    ok(runBin('mkfs.famfs', ['--create-size', '8g', img], env()), 'mkfs');
    const src = path.join(dir, 'data.bin');
    fs.writeFileSync(src, data);
    ok(famfs('-D', img, 'cp', src, 'data.bin'), 'cp');
    ok(famfs('mount', '-r', img, mnt), 'mount -r');
    expect(isMounted(mnt)).toBe(true);
  });

  afterAll(async () => {
    if (dir === undefined) return;
    const forced = await cleanupMounts(dir, runDir, env());
    if (forced.length > 0) console.warn(`mount-parity cleanup had to force: ${forced.join('; ')}`);
  });

  it('regression: mkdir -p MOUNTPOINT exits 0 and logs nothing; mkdir MOUNTPOINT fails', () => {
    const used = JSON.parse(ok(famfs('status', '--json', mnt), 'status').stdout).logEntries;
    ok(famfs('mkdir', '-p', mnt), 'mkdir -p MNT');
    ok(famfs('mkdir', '-p', `${mnt}/`), 'mkdir -p MNT/');
    expect(famfs('mkdir', mnt).status).toBe(1);
    expect(JSON.parse(ok(famfs('status', '--json', mnt), 'status').stdout).logEntries).toBe(used);
  });

  it('regression: creat --multi MNT/good,4k --multi /tmp/bad,4M creates good and exits non-zero', () => {
    const bad = path.join(dir, 'outside.bin');
    const r = famfs('creat', '--multi', `${mnt}/good,4k`, '--multi', `${bad},4M`);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('Create complete for 1 of 2 files with 1 errs');
    expect(r.stderr).toMatch(/not in the famfs mount/);
    expect(fs.statSync(path.join(mnt, 'good')).size).toBe(4096);
    expect(fs.existsSync(bad)).toBe(false);
  });

  it('regression: chkread and clone take mounted paths; clone\'s cross-link shows in fsck of the mount; check, ls, cat through the mount', () => {
    const c = ok(famfs('chkread', path.join(mnt, 'data.bin')), 'chkread');
    expect(c.stdout).toBe(`read tried=${data.length} got=${data.length}\nRead and mmap match\n`);
    ok(famfs('chkread', '-l', path.join(mnt, '.meta/.log')), 'chkread -l .meta/.log');
    expect(famfs('chkread', '-s', path.join(mnt, '.meta/.superblock')).stdout).toMatch(/superblock: magic 0x87b282ff version 48/);
    const chk = ok(famfs('check', mnt), 'check');
    // data.bin, good, and .meta with its two files (upstream counts them too)
    expect(chk.stdout).toMatch(/^famfs_check: 4 files, 1 directories, 0 errors$/m);
    expect(ok(famfs('ls', '-l', mnt), 'ls').stdout).toMatch(/^-rw-r--r-- +0 +0 +3145805 data\.bin$/m);
    const cat = spawnSync(path.join(REPO, 'bin/famfs'), ['cat', path.join(mnt, 'data.bin')], { env: { ...process.env, ...env() }, maxBuffer: 64 * MiB });
    expect(cat.status).toBe(0);
    expect(sha256(cat.stdout)).toBe(sha256(data));
    ok(famfs('clone', path.join(mnt, 'data.bin'), path.join(mnt, 'twin.bin')), 'clone');
    expect(fs.readFileSync(path.join(mnt, 'twin.bin')).equals(data)).toBe(true);
    const f = famfs('fsck', mnt);
    expect(f.status).not.toBe(0);
    expect(f.stdout).toMatch(/ALLOCATION COLLISIONS FOUND/);
  });

  it('regression: flush and getmap of MNT/.meta/.log and MNT/.meta/.superblock are good files', () => {
    const g = ok(famfs('getmap', path.join(mnt, '.meta/.log'), path.join(mnt, '.meta/.superblock')), 'getmap .meta');
    expect(g.stdout).toContain(`\t\t200000\t${8 * MiB}\n`);
    expect(g.stdout).toContain(`\t\t0\t${2 * MiB}\n`);
    expect(lines(g.stdout).filter((l) => l.startsWith('famfs_getmap: good file'))).toHaveLength(2);
    ok(famfs('flush', path.join(mnt, '.meta/.log'), path.join(mnt, '.meta/.superblock')), 'flush .meta');
    ok(famfs('flush', '-i', path.join(mnt, '.meta/.log')), 'flush -i .meta/.log');
    // a directory is not a file to flush: counted, non-zero
    expect(famfs('flush', path.join(mnt, '.meta')).status).toBe(1);
  });

  it('mount options upstream has: -c/--cache, -u, -p accepted (allow_other and default_permissions follow); -c with -t, -r with -m, -R are refused', () => {
    const m2 = path.join(dir, 'mnt2');
    fs.mkdirSync(m2);
    const img2 = path.join(dir, 'second.img');
    ok(runBin('mkfs.famfs', ['--create-size', '4g', img2], env()), 'mkfs 2');
    expect(famfs('mount', '-c', 'never', '-t', '5', img2, m2).status).toBe(1);
    expect(famfs('mount', '-r', '-m', img2, m2).status).toBe(1);
    expect(famfs('mount', '-R', img2, m2).status).toBe(1);
    expect(famfs('mount', '-c', 'sometimes', img2, m2).status).toBe(1);
    expect(isMounted(m2)).toBe(false);
    ok(famfs('mount', '-c', 'never', '-u', '-p', '-b', '-L', '-M', img2, m2), 'mount -c never -u -p');
    const opts = readMountOptions(m2);
    expect(opts).not.toContain('allow_other');
    expect(opts).not.toContain('default_permissions');
    expect(JSON.parse(ok(famfs('status', '--json', m2), 'status').stdout).cache).toBe('none');
    ok(famfs('umount', m2), 'umount');
  });
});

/** The mount's line in /proc/self/mountinfo (its options: allow_other, default_permissions …). */
function readMountOptions(target: string): string {
  const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === target);
  if (line === undefined) throw new Error(`${target} is not in mountinfo`);
  return line;
}
