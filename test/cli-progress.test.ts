/**
 * Progress bars on stderr — only when stderr is a terminal — for big
 * `creat -r`, `verify`, `cp` (the in-kernel copy too, done in pieces) and
 * `cp -r` (bytes and files of the whole tree); never in a pipe. The terminal
 * is a real pseudo-terminal: the command runs under script(1).
 * And `creat -r` without a seed picks one and prints it; seed 0 is refused.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { progressLine } from '../packages/famfs-cli/src/progress.js';
import { MiB, REPO, type Requirement, needs, requireBuiltCli, runBin, tmpDirs } from './helpers.js';
import { q } from './mount-helpers.js';

const SYS = '6a3b4c2d-0000-4000-8000-0000000000b1';
const env = { FAMFS_SYSTEM_UUID: SYS };
const tmp = tmpDirs('famfs-progress-');
const scriptReq: Requirement = { what: 'script(1) from util-linux (a pseudo-terminal)', met: () => spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0 };

/** Run bin/famfs ARGS with stdout and stderr on a pseudo-terminal: what a person at a terminal sees. */
function onTty(args: string[]): { status: number | null; out: string } {
  const cmd = [path.join(REPO, 'bin/famfs'), ...args].map(q).join(' ');
  const r = spawnSync('script', ['-qefc', cmd, '/dev/null'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/root', TERM: 'dumb', ...env },
    timeout: 120_000,
  });
  return { status: r.status, out: r.stdout };
}

describe('progressLine', () => {
  it('bar, percent, files, bytes and rate', () => {
    expect(progressLine('famfs cp', 512 * MiB, 1024 * MiB, 2, { done: 3, total: 10 })).toBe(
      'famfs cp [###############...............]  50% 3/10 files, 512 MiB of 1.0 GiB 256 MiB/s',
    );
    expect(progressLine('x', 0, 0, 0)).toBe('x [##############################] 100% 0.0 MiB of 0.0 MiB 0 MiB/s');
    expect(progressLine('x', 5 * MiB, 100 * MiB, 1)).toContain('  5% 5.0 MiB of 100 MiB 5 MiB/s');
  });
});

describe('creat -r seeds', () => {
  let img: string;
  beforeAll(() => {
    requireBuiltCli();
    img = path.join(tmp.make(), 'famfs.img');
    expect(runBin('mkfs.famfs', ['--create-size', '1g', img], env).status).toBe(0);
  });

  it('without -S: a seed is picked and printed, and famfs verify -S with it passes', () => {
    const r = runBin('famfs', ['-D', img, 'creat', '-s', '3m', '-r', 'picked'], env);
    expect(r.status, r.stderr).toBe(0);
    const m = /^randomized 3145728 bytes: picked \(seed (\d+): famfs verify -S \1 checks it\)$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const seed = Number(m![1]);
    expect(seed).toBeGreaterThan(0);
    expect(seed).toBeLessThan(2 ** 32);
    expect(runBin('famfs', ['-D', img, 'verify', '-S', String(seed), '-f', 'picked'], env).status).toBe(0);
    expect(runBin('famfs', ['-D', img, 'verify', '-S', String(seed + 1), '-f', 'picked'], env).status).not.toBe(0);
  });

  it('-S 0 is refused in one line before anything is created', () => {
    const r = runBin('famfs', ['-D', img, 'creat', '-s', '3m', '-r', '-S', '0', 'zero'], env);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/seed 0/);
    expect(runBin('famfs', ['-D', img, 'ls'], env).stdout).not.toMatch(/zero/);
  });
});

describe.runIf(needs('progress bars on a terminal', [scriptReq]))('progress bars', () => {
  let dir: string;
  let img: string;
  beforeAll(() => {
    requireBuiltCli();
    dir = tmp.make();
    img = path.join(dir, 'famfs.img');
    expect(runBin('mkfs.famfs', ['--create-size', '2g', img], env).status).toBe(0);
    // a tree of 120 small files and one big one, for cp -r
    const src = path.join(dir, 'tree');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    for (let i = 0; i < 120; i++) fs.writeFileSync(path.join(src, i % 2 === 0 ? 'sub' : '', `f${i}`), `file ${i}\n`);
    fs.writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc(96 * MiB, 7));
  });

  const bar = /\r[^\r\n]*\[[#.]{30}\] +\d+%/;
  const full = (label: string): RegExp => new RegExp(`\\r${label} \\[#{30}\\] 100%`);

  it('creat -r and verify of a big file draw a bar on a terminal, to 100 %', () => {
    const c = onTty(['-D', img, 'creat', '-s', '128m', '-r', '-S', '11', 'big']);
    expect(c.status, c.out).toBe(0);
    expect(c.out).toMatch(full('famfs creat: big'));
    const v = onTty(['-D', img, 'verify', '-S', '11', '-f', 'big']);
    expect(v.status, v.out).toBe(0);
    expect(v.out).toMatch(full('famfs verify: big'));
    expect(v.out).toMatch(/Success: verified 134217728 bytes in file big/);
  });

  it('in a pipe: no bar, the same words', () => {
    const c = runBin('famfs', ['-D', img, 'creat', '-s', '128m', '-r', '-S', '12', 'big2'], env);
    expect(c.status).toBe(0);
    expect(c.stderr).toBe('');
    expect(c.stdout).toBe('randomized 134217728 bytes: big2\n');
    const v = runBin('famfs', ['-D', img, 'verify', '-S', '12', '-f', 'big2'], env);
    expect(v.stderr).toBe('');
    expect(v.stdout).not.toMatch(bar);
  });

  it('cp of a big file: the in-kernel copy reports as it goes; the bytes land', () => {
    const c = onTty(['-D', img, 'cp', path.join(dir, 'big.bin'), '/big.bin']);
    expect(c.status, c.out).toBe(0);
    expect(c.out).toMatch(full('famfs cp: big.bin'));
    // more than one step drawn: the copy went in pieces
    expect(c.out.split('\r').filter((l) => l.startsWith('famfs cp: big.bin [')).length).toBeGreaterThan(1);
    expect(runBin('famfs', ['-D', img, 'cp', '-c', path.join(dir, 'big.bin'), '/big.bin'], env).status).toBe(0);
  });

  it('cp -r: one bar for the tree, counting files', () => {
    const c = onTty(['-D', img, 'cp', '-r', path.join(dir, 'tree'), '/tree']);
    expect(c.status, c.out).toBe(0);
    expect(c.out).toMatch(/\rfamfs cp \[#{30}\] 100% 120\/120 files/);
    expect(runBin('famfs', ['-D', img, 'cp', '-r', '-c', path.join(dir, 'tree'), '/tree'], env).status).toBe(0);
    const p = runBin('famfs', ['-D', img, 'cp', '-r', path.join(dir, 'tree'), '/tree2'], env);
    expect(p.status).toBe(0);
    expect(p.stderr).toBe('');
  });
});
