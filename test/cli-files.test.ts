/**
 * The file commands of the real `famfs` binary on emulated devices (sparse
 * image files): the upstream fixture listed and mapped as upstream's own YAML
 * says, cp/cat/creat/verify round trips, getmap exit codes, cross-links, four
 * hosts' worth of processes creating files at once, SIGKILL at random moments,
 * and hand-crafted bad log entries (built byte by byte here, not with the
 * production encoder), one per rule.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { Famfs } from '@famfs/core';
import { bufferIo, runFamfs } from '@famfs/cli';
import {
  FIXTURE_SYSTEM_UUID, GiB, MiB, REPO, type RunResult, fixtureImage, lines, readAt, requireBuiltCli, runBin,
  sparseImage, tmpDirs, writeAt,
} from './helpers.js';
import { type YamlExt, type YamlFile, loadFixtureYaml } from './fixture.js';
import { seeded } from './random.js';

/** every random byte and choice of this file: seeded (test/random.ts) */
const R = seeded('cli-files.test');

/** The emulated host every test here runs as (mkfs makes it the master). */
const MASTER = FIXTURE_SYSTEM_UUID;
const ENV = { FAMFS_SYSTEM_UUID: MASTER };
const FAMFS_BIN = path.join(REPO, 'bin/famfs');
const CORE_DIST = path.join(REPO, 'packages/famfs-core/dist/index.js');

/** On-media facts from the spec, spelled out here rather than imported from the code under test. */
const LOG_OFFSET = 2 * MiB;
const LOG_HDR_SIZE = 48;
const HDR_NEXT_SEQNUM = 32;
const HDR_NEXT_INDEX = 40;
const ENTRY_SIZE = 544;
const ENTRY_CRC = 536;
const BODY = 16;
const HEAD_BYTES = LOG_OFFSET + 8 * MiB;

const tmp = tmpDirs('famfs-cli-files-');

function famfs(img: string, ...args: string[]): RunResult {
  return runBin('famfs', ['-D', img, ...args], ENV);
}

/** `famfs cat` with its stdout as bytes (runBin decodes text, and caps the buffer). */
function catBytes(img: string, file: string): Buffer {
  const r = spawnSync(FAMFS_BIN, ['-D', img, 'cat', file], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...ENV },
    maxBuffer: 512 * MiB,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`famfs cat ${file} exited ${r.status}: ${r.stderr.toString()}`);
  return r.stdout;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface FsckJson {
  clean: boolean;
  files: number;
  directories: number;
  collisions: number;
  log: { entriesUsed: number };
  badEntries: Array<{ index: number; fault: string; message: string }>;
  errors: string[];
}

function fsckJson(img: string): { status: number | null; report: FsckJson; stderr: string } {
  const r = runBin('famfs', ['fsck', '--json', img], ENV);
  return { status: r.status, report: JSON.parse(r.stdout) as FsckJson, stderr: r.stderr };
}

function entriesUsed(img: string): number {
  return fsckJson(img).report.log.entriesUsed;
}

/** A fresh sparse image formatted by the real mkfs.famfs. */
function newImage(name: string, size = '8g'): string {
  const img = path.join(tmp.make(name), 'img');
  const r = runBin('mkfs.famfs', ['--create-size', size, img], ENV);
  expect(r.status, r.stderr).toBe(0);
  return img;
}

function ok(r: RunResult): RunResult {
  if (r.status !== 0) throw new Error(`exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

interface LsEntry {
  path: string;
  type: 'file' | 'dir';
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

function lsJson(img: string, dir = ''): LsEntry[] {
  return JSON.parse(ok(famfs(img, 'ls', '-R', '--json', ...(dir ? [dir] : []))).stdout) as LsEntry[];
}

/** Wait for a child to end; resolves with its exit code and signal. */
function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
}

beforeAll(() => {
  requireBuiltCli();
  if (!fs.existsSync(CORE_DIST)) throw new Error(`${CORE_DIST} is missing: run \`make build\` first`);
});

// ---------------------------------------------------------------- the upstream fixture

function fixtureYaml(): Map<string, YamlFile> {
  return loadFixtureYaml(tmp.make('yaml'));
}

/** getmap's text output: per file, size and either extents or the interleave parameters and strips. */
function parseGetmap(text: string): { path: string; size: number; extents: Array<[number, number]>; chunkSize?: number; nstrips?: number } {
  const L = lines(text);
  const file = /^File:\s+(.*)$/.exec(L[0]!)![1]!;
  const size = Number(/^\tsize:\s+(\d+)$/.exec(L[1]!)![1]);
  expect(L[2]).toMatch(/^\textents: \d+$/);
  const extents: Array<[number, number]> = [];
  let chunkSize: number | undefined;
  let nstrips: number | undefined;
  for (const l of L.slice(3)) {
    let m: RegExpExecArray | null;
    if ((m = /^\t\t([0-9a-f]+)\t(\d+)$/.exec(l))) extents.push([parseInt(m[1]!, 16), Number(m[2])]);
    else if ((m = /^Interleave_Param chunk_size: (\d+)$/.exec(l))) chunkSize = Number(m[1]);
    else if ((m = /^Interleaved extent has (\d+) strips:$/.exec(l))) nstrips = Number(m[1]);
    else if (/^famfs_getmap: good file /.test(l)) continue;
    else throw new Error(`unexpected getmap line: ${JSON.stringify(l)}`);
  }
  return { path: file, size, extents, chunkSize, nstrips };
}

describe('the upstream fixture', () => {
  let img: string;
  let yaml: Map<string, YamlFile>;
  beforeAll(() => {
    img = fixtureImage(path.join(tmp.make('fixture'), 'img'));
    yaml = fixtureYaml();
  });

  it('the YAML dump holds the four files the README lists', () => {
    expect([...yaml.keys()].sort()).toEqual(['a/b/c/ilv', 'dir1/file1', 'file0', 'private/data']);
  });

  it('ls -lR shows exactly its files and directories with their modes, owners and sizes', () => {
    const got = lines(ok(famfs(img, 'ls', '-lR')).stdout).map((l) => {
      const m = /^([-d][-rwx]{9}) +(\d+) +(\d+) +(\d+) (.+)$/.exec(l);
      if (!m) throw new Error(`unparsed ls line: ${l}`);
      return `${m[1]} ${m[2]}:${m[3]} ${m[4]} ${m[5]}`;
    });
    expect(got.sort()).toEqual([
      '-rw------- 0:0 1 file0',
      '-rw-r----- 1000:1000 104857600 private/data',
      '-rw-r--r-- 0:0 4194304 dir1/file1',
      '-rw-r--r-- 0:0 67108864 a/b/c/ilv',
      'drwx------ 1000:1000 0 private/',
      'drwxr-xr-x 0:0 0 a/',
      'drwxr-xr-x 0:0 0 a/b/',
      'drwxr-xr-x 0:0 0 a/b/c/',
      'drwxr-xr-x 0:0 0 dir1/',
    ].sort());
  });

  it('ls --json agrees with upstream\'s YAML on every file\'s size, mode, uid and gid', () => {
    const files = lsJson(img).filter((e) => e.type === 'file');
    expect(files.map((f) => f.path).sort()).toEqual([...yaml.keys()].sort());
    for (const f of files) {
      const y = yaml.get(f.path)!;
      expect({ size: f.size, mode: f.mode, uid: f.uid, gid: f.gid }).toEqual({ size: y.size, mode: y.mode, uid: y.uid, gid: y.gid });
    }
  });

  it('getmap of every file prints the extents upstream\'s YAML gives', () => {
    for (const [p, y] of yaml) {
      const r = ok(famfs(img, 'getmap', p));
      const g = parseGetmap(r.stdout);
      expect(g.path).toBe(p);
      expect(g.size).toBe(y.size);
      expect(r.stdout).toContain(`famfs_getmap: good file ${p}\n`);
      if (y.striped) {
        expect(g.chunkSize).toBe(y.striped.chunkSize);
        expect(g.nstrips).toBe(y.striped.nstrips);
        expect(g.extents).toEqual(y.striped.strips.map((s) => [s.offset, s.length]));
      } else {
        expect(g.chunkSize).toBeUndefined();
        expect(g.extents).toEqual(y.simple.map((s) => [s.offset, s.length]));
      }
    }
  });

  it('getmap --json of every file equals upstream\'s YAML', () => {
    const r = ok(famfs(img, 'getmap', '--json', ...yaml.keys()));
    const maps = JSON.parse(r.stdout) as Array<{ path: string; size: number; fmap: { type: string; extents: unknown[] } }>;
    expect(maps.map((m) => m.path)).toEqual([...yaml.keys()]);
    for (const m of maps) {
      const y = yaml.get(m.path)!;
      expect(m.size).toBe(y.size);
      const ext = (e: YamlExt) => ({ devIndex: e.devindex, offset: e.offset, len: e.length });
      if (y.striped) {
        expect(m.fmap).toEqual({ type: 'interleave', extents: [{ nstrips: y.striped.nstrips, chunkSize: y.striped.chunkSize, strips: y.striped.strips.map(ext) }] });
      } else {
        expect(m.fmap).toEqual({ type: 'simple', extents: y.simple.map(ext) });
      }
      expect(y.nextents).toBe(1);
    }
  });

  it('getmap exit codes: 0 good, EBADF (9) missing, EISDIR (21) a directory, EINVAL (22) no file', () => {
    expect(famfs(img, 'getmap', 'file0').status).toBe(0);
    const missing = famfs(img, 'getmap', 'nosuch');
    expect(missing.status).toBe(9);
    expect(missing.stderr).toContain('file not found (nosuch)');
    expect(famfs(img, 'getmap', 'a/b').status).toBe(21);
    expect(famfs(img, 'getmap').status).toBe(22);
    // without -c it stops at the first bad file; the exit is the last file's
    expect(famfs(img, 'getmap', 'nosuch', 'file0').status).toBe(9);
    expect(famfs(img, 'getmap', '-c', 'nosuch', 'file0').status).toBe(0);
  });

  it('clone makes a cross-link that fsck reports (ALLOCATION COLLISIONS, non-zero)', () => {
    const own = fixtureImage(path.join(tmp.make('clone'), 'img'));
    expect(runBin('famfs', ['fsck', own], ENV).status).toBe(0);
    ok(famfs(own, 'clone', 'dir1/file1', 'file1clone'));
    expect(parseGetmap(ok(famfs(own, 'getmap', 'file1clone')).stdout).extents).toEqual([[0xa00000, 4 * MiB]]);
    const r = runBin('famfs', ['fsck', own], ENV);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/ERROR: 2 ALLOCATION COLLISIONS FOUND/);
    expect(fsckJson(own).report.collisions).toBe(2);
  });
});

// ---------------------------------------------------------------- cp and cat

describe('cp -r and cat', () => {
  let img: string;
  let src: string;
  const local = new Map<string, Buffer>(); // path under dst → contents

  beforeAll(() => {
    img = newImage('cp');
    const root = tmp.make('cp-src');
    src = path.join(root, 'src');
    const put = (rel: string, data: Buffer): void => {
      const p = path.join(src, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, data);
      local.set(`dst/src/${rel}`, data);
    };
    put('big.bin', R.bytes(50 * MiB));
    put('one.txt', Buffer.from('x'));
    put('odd.bin', R.bytes(4095));
    put('sub/mid.bin', R.bytes(2 * MiB + 1));
    put('sub/deeper/leaf.txt', Buffer.from('leaf\n'.repeat(20)));
    put('sub/deeper/deepest/three.bin', R.bytes(3 * MiB));
    fs.mkdirSync(path.join(src, 'emptydir'));
    const ilv = R.bytes(20 * MiB + 12345);
    fs.writeFileSync(path.join(root, 'ilv.bin'), ilv);
    local.set('dst/ilv.bin', ilv);
  });

  it('copies a tree and an interleaved file; cat gives back the same bytes; fsck is clean', () => {
    ok(famfs(img, 'mkdir', 'dst'));
    // upstream's cp -r: SRC's contents into DEST (made when missing), never DEST/basename(SRC)
    ok(famfs(img, 'cp', '-r', src, 'dst/src'));
    ok(famfs(img, 'cp', '-N', '4', '-B', '8', '-C', '2m', path.join(src, '..', 'ilv.bin'), 'dst/ilv.bin'));

    const tree = lsJson(img, 'dst');
    expect(tree.filter((e) => e.type === 'dir').map((e) => e.path).sort()).toEqual(
      ['dst/src', 'dst/src/emptydir', 'dst/src/sub', 'dst/src/sub/deeper', 'dst/src/sub/deeper/deepest'],
    );
    expect(tree.filter((e) => e.type === 'file').map((e) => e.path).sort()).toEqual([...local.keys()].sort());
    for (const e of tree) if (e.type === 'file') expect(e.size).toBe(local.get(e.path)!.length);

    const map = JSON.parse(ok(famfs(img, 'getmap', '--json', 'dst/ilv.bin')).stdout)[0].fmap;
    expect(map.type).toBe('interleave');
    expect(map.extents[0].nstrips).toBe(4);
    expect(map.extents[0].chunkSize).toBe(2 * MiB);
    // 20 MiB + 12345 over 4 strips of 2 MiB chunks: 3 stripes, strips of 6 MiB in 4 different 1 GiB buckets
    expect(map.extents[0].strips.map((s: { len: number }) => s.len)).toEqual([6 * MiB, 6 * MiB, 6 * MiB, 6 * MiB]);
    expect(new Set(map.extents[0].strips.map((s: { offset: number }) => Math.floor(s.offset / GiB))).size).toBe(4);

    for (const [p, data] of local) expect(sha256(catBytes(img, p)), p).toBe(sha256(data));
    const f = runBin('famfs', ['fsck', img], ENV);
    expect(f.status, f.stdout + f.stderr).toBe(0);
  });

  it('is restartable: cp onto the same destination (same sizes) re-copies the data and logs nothing', () => {
    const before = entriesUsed(img);
    const mid = R.bytes(2 * MiB + 1); // same size, new contents
    fs.writeFileSync(path.join(src, 'sub/mid.bin'), mid);
    local.set('dst/src/sub/mid.bin', mid);
    ok(famfs(img, 'cp', '-r', src, 'dst/src'));
    expect(entriesUsed(img)).toBe(before);
    expect(sha256(catBytes(img, 'dst/src/sub/mid.bin'))).toBe(sha256(mid));
    expect(sha256(catBytes(img, 'dst/src/big.bin'))).toBe(sha256(local.get('dst/src/big.bin')!));
    expect(runBin('famfs', ['fsck', img], ENV).status).toBe(0);
  });

  it('a destination of a different size fails non-zero and logs nothing', () => {
    const before = entriesUsed(img);
    const other = path.join(tmp.make('cp-other'), 'odd.bin');
    fs.writeFileSync(other, R.bytes(4096)); // the famfs copy is 4095 bytes
    const r = famfs(img, 'cp', other, 'dst/src/odd.bin');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/dst\/src\/odd\.bin/);
    // and inside a recursive copy
    fs.writeFileSync(path.join(src, 'one.txt'), 'xy');
    const r2 = famfs(img, 'cp', '-r', src, 'dst/src');
    expect(r2.status).not.toBe(0);
    fs.writeFileSync(path.join(src, 'one.txt'), 'x');
    expect(entriesUsed(img)).toBe(before);
    expect(sha256(catBytes(img, 'dst/src/odd.bin'))).toBe(sha256(local.get('dst/src/odd.bin')!));
    expect(runBin('famfs', ['fsck', img], ENV).status).toBe(0);
  });
});

// ---------------------------------------------------------------- creat and verify

describe('creat and verify', () => {
  let img: string;
  beforeAll(() => {
    img = newImage('creat');
  });

  it('creat -r -S then verify -S round trip; the wrong seed fails with exit 1', () => {
    const c = ok(famfs(img, 'creat', '-r', '-S', '42', '-s', '10m', 'rnd'));
    expect(c.stdout).toContain('randomized 10485760 bytes: rnd');
    const v = ok(famfs(img, 'verify', '-S', '42', '-f', 'rnd'));
    expect(v.stdout).toContain('Success: verified 10485760 bytes in file rnd');
    const bad = famfs(img, 'verify', '-S', '43', '-f', 'rnd');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('Verify fail: rnd at offset 0 of 10485760 bytes');
  });

  it('writes upstream\'s stream: seed 1 begins 284991ee66b6fb343a87ca18de441778', () => {
    ok(famfs(img, 'creat', '-r', '-S', '1', '-s', '16', 'vec1'));
    expect(catBytes(img, 'vec1').toString('hex')).toBe('284991ee66b6fb343a87ca18de441778');
  });

  it('one corrupted byte deep in the file is found at its word', () => {
    ok(famfs(img, 'creat', '-r', '-S', '9', '-s', '5m', 'flip'));
    const off = JSON.parse(ok(famfs(img, 'getmap', '--json', 'flip')).stdout)[0].fmap.extents[0].offset as number;
    const at = 3 * MiB + 6;
    const b = readAt(img, off + at, 1);
    writeAt(img, off + at, new Uint8Array([b[0]! ^ 0x40]));
    const r = famfs(img, 'verify', '-S', '9', '-f', 'flip');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`at offset ${at - 2} of`);
  });

  it('an interleaved randomized file holds the same bytes as a contiguous one with the same seed', () => {
    ok(famfs(img, 'creat', '-N', '4', '-B', '8', '-C', '2m', '-r', '-S', '5', '-s', '20m', 'ilvr'));
    ok(famfs(img, 'creat', '-r', '-S', '5', '-s', '20m', 'plain'));
    expect(JSON.parse(ok(famfs(img, 'getmap', '--json', 'ilvr')).stdout)[0].fmap.type).toBe('interleave');
    ok(famfs(img, 'verify', '-S', '5', '-f', 'ilvr'));
    expect(sha256(catBytes(img, 'ilvr'))).toBe(sha256(catBytes(img, 'plain')));
  });

  it('re-creating with the same size is a no-op; another size fails; size 0 fails; nothing logged', () => {
    const before = entriesUsed(img);
    ok(famfs(img, 'creat', '-s', '10m', 'rnd'));
    ok(famfs(img, 'verify', '-S', '42', '-f', 'rnd'));
    const other = famfs(img, 'creat', '-s', '11m', 'rnd');
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/rnd: exists with size 10485760/);
    const zero = famfs(img, 'creat', '-s', '0', 'zero');
    expect(zero.status).toBe(1);
    expect(zero.stderr).toMatch(/zero: Error: new file size=zero/);
    expect(entriesUsed(img)).toBe(before);
    expect(lsJson(img).map((e) => e.path)).not.toContain('zero');
  });

  it('a client host (another system UUID) may read but not create: EPERM, exit 1, nothing logged', () => {
    const before = entriesUsed(img);
    const client = { FAMFS_SYSTEM_UUID: '0badc0de-0000-4000-8000-000000000001' };
    const r = runBin('famfs', ['-D', img, 'creat', '-s', '1m', 'from_client'], client);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/client/);
    expect(runBin('famfs', ['-D', img, 'mkdir', 'client_dir'], client).status).toBe(1);
    expect(runBin('famfs', ['-D', img, 'verify', '-S', '42', '-f', 'rnd'], client).status).toBe(0);
    expect(entriesUsed(img)).toBe(before);
  });

  it('--multi creates several files, randomizes those with a seed, and verify -m checks them', () => {
    ok(famfs(img, 'mkdir', 'm'));
    const before = entriesUsed(img);
    const r = ok(famfs(img, 'creat', '-M', 'm/a,4m,7', '-M', 'm/b,3001,8', '-M', 'm/c,1m'));
    expect(r.stdout).toContain('Create complete for 3 of 3 files with 0 errs');
    expect(r.stdout).toContain('Randomize complete for 2 of 3 files with 0 errs');
    expect(entriesUsed(img)).toBe(before + 3);
    const v = ok(famfs(img, 'verify', '-m', 'm/a,7', '-m', 'm/b,8'));
    expect(v.stdout).toContain('Verify complete for 2 files with 0 errs');
    const bad = famfs(img, 'verify', '-m', 'm/a,7', '-m', 'm/b,7');
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('Verify complete for 2 files with 1 errs');
    expect(catBytes(img, 'm/c').equals(Buffer.alloc(MiB))).toBe(true);
    // a second run creates nothing new; a clash counts as an error
    const again = famfs(img, 'creat', '-M', 'm/a,4m', '-M', 'm/b,3000');
    expect(again.status).toBe(1);
    expect(again.stdout).toContain('Create complete for 0 of 2 files with 1 errs');
    expect(entriesUsed(img)).toBe(before + 3);
  });
});

// ---------------------------------------------------------------- concurrency

/** A node script using the built core: create files `prefix{i}` for i in [from, to), pausing `pauseMs` between. */
const CREATE_SCRIPT = `
import { Famfs } from ${JSON.stringify(CORE_DIST)};
const [img, prefix, from, to, pauseMs] = process.argv.slice(2);
const fs = Famfs.open(img, { writable: true, systemUuid: process.env.FAMFS_SYSTEM_UUID });
const nap = new Int32Array(new SharedArrayBuffer(4));
for (let i = Number(from); i < Number(to); i++) {
  fs.createFile(prefix + i, 4096 + (i % 3) * 2 * 1024 * 1024);
  if (Number(pauseMs) > 0) Atomics.wait(nap, 0, 0, Number(pauseMs));
}
fs.close();
`;

describe('concurrent creators', () => {
  it('4 processes × 250 files on one image: 1,000 files, no collisions, fsck clean', async () => {
    const img = newImage('conc');
    ok(famfs(img, 'mkdir', 'conc'));
    const dir = tmp.make('conc-scripts');
    const script = path.join(dir, 'create.mjs');
    fs.writeFileSync(script, CREATE_SCRIPT);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...ENV };
    const children: ChildProcess[] = [];
    // two hosts' worth of the real binary: creat --multi in batches of 25
    for (const p of [0, 1]) {
      const sh: string[] = ['set -e'];
      for (let b = 0; b < 250; b += 25) {
        const args = Array.from({ length: 25 }, (_, k) => `-M conc/p${p}_${b + k},${4096 + ((b + k) % 3) * 2 * MiB}`).join(' ');
        sh.push(`"${FAMFS_BIN}" -D "${img}" creat ${args} >/dev/null`);
      }
      const file = path.join(dir, `loop${p}.sh`);
      fs.writeFileSync(file, `${sh.join('\n')}\n`);
      children.push(spawn('sh', [file], { env, stdio: ['ignore', 'ignore', 'pipe'] }));
    }
    // and two processes calling Famfs.createFile 250 times each
    for (const p of [2, 3]) children.push(spawn(process.execPath, [script, img, `conc/p${p}_`, '0', '250', '2'], { env, stdio: ['ignore', 'ignore', 'pipe'] }));
    const errs = children.map((c) => {
      let s = '';
      c.stderr!.on('data', (d) => (s += d));
      return () => s;
    });
    const results = await Promise.all(children.map(exited));
    results.forEach((r, i) => expect(r, `creator ${i}: ${errs[i]!()}`).toEqual({ code: 0, signal: null }));

    const f = fsckJson(img);
    expect(f.status).toBe(0);
    expect(f.report.files).toBe(1000);
    expect(f.report.collisions).toBe(0);
    expect(f.report.log.entriesUsed).toBe(1001);
    expect(f.report.errors).toEqual([]);
    const names = lsJson(img, 'conc').map((e) => e.path).sort();
    const want = [0, 1, 2, 3].flatMap((p) => Array.from({ length: 250 }, (_, i) => `conc/p${p}_${i}`)).sort();
    expect(names).toEqual(want);
   }, 120_000);
});

// ---------------------------------------------------------------- crash safety

/** Creates `crash/f{i}` from i = argv[3] on, printing each path once createFile has returned. */
const CRASH_SCRIPT = `
import { writeSync } from 'node:fs';
import { Famfs } from ${JSON.stringify(CORE_DIST)};

const [img, from] = process.argv.slice(2);
const fs = Famfs.open(img, { writable: true, systemUuid: process.env.FAMFS_SYSTEM_UUID });
writeSync(1, 'ready\\n');
const nap = new Int32Array(new SharedArrayBuffer(4));
for (let i = Number(from); ; i++) {
  fs.createFile('crash/f' + i, 1 + (i % 5) * 1000000);
  writeSync(1, 'crash/f' + i + '\\n');
  Atomics.wait(nap, 0, 0, 0.5);
}
`;

describe('crash safety', () => {
  it('SIGKILL at 50 seeded moments: after each, fsck clean, every reported file whole, at most one more, nothing else logged', async () => {
    // 32 GiB sparse: room for thousands of small files; costs only the metadata written
    const img = newImage('crash', '32g');
    ok(famfs(img, 'mkdir', 'crash'));
    const script = path.join(tmp.make('crash-script'), 'crash.mjs');
    fs.writeFileSync(script, CRASH_SCRIPT);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...ENV };
    const reported = new Set<string>();
    let next = 0;
    for (let round = 0; round < 50; round++) {
      const child = spawn(process.execPath, [script, img, String(next)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const done = exited(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          const first = out === '';
          out += d;
          if (first) {
            if (!out.startsWith('ready\n')) reject(new Error(`child said ${out}`));
            setTimeout(() => {
              child.kill('SIGKILL');
              resolve();
            }, R.range(5, 200));
          }
        });
        void done.then((r) => reject(new Error(`child ended by itself (${JSON.stringify(r)}): ${err}`)));
      });
      const r = await done;
      expect(r.signal, err).toBe('SIGKILL');
      const got = lines(out).slice(1);
      for (const p of got) {
        reported.add(p);
        next = Math.max(next, Number(p.slice('crash/f'.length)) + 1);
      }
      // fsck clean (in-process: the real command, without another process start)
      const io = bufferIo(ENV);
      const code = await runFamfs(['fsck', '--json', img], io);
      expect(code, `round ${round}: ${io.stderr}`).toBe(0);
      const report = JSON.parse(io.stdout) as FsckJson;
      expect(report.collisions).toBe(0);
      expect(report.badEntries).toEqual([]);
      // every file the child reported is there
      // what this kill left behind: every reported file whole (its size, a map
      // that covers it), at most one more (logged, killed before it said so),
      // and the log holding exactly the directory plus those files
      const view = Famfs.open(img, { writable: false, systemUuid: MASTER });
      try {
        const files = [...view.namespace.walk()].filter((n) => n.kind === 'file');
        for (const p of reported) expect(view.namespace.lookup(p)?.kind, `round ${round}: ${p}`).toBe('file');
        expect(files.length, `round ${round}`).toBeGreaterThanOrEqual(reported.size);
        expect(files.length, `round ${round}`).toBeLessThanOrEqual(reported.size + 1);
        for (const f of files) {
          if (f.kind !== 'file') continue;
          const i = Number(f.relpath.slice('crash/f'.length));
          expect(f.size, `round ${round}: ${f.relpath}`).toBe(1 + (i % 5) * 1000000);
          expect(view.runs(f).reduce((n, r) => n + r.len, 0), `round ${round}: ${f.relpath} map`).toBe(f.size);
        }
        expect(view.logCursor, `round ${round}`).toBe(1 + files.length);
        expect(view.problems, `round ${round}`).toEqual([]);
        // a file that was logged but not reported counts from now on
        for (const f of files) {
          reported.add(f.relpath);
          next = Math.max(next, Number(f.relpath.slice('crash/f'.length)) + 1);
        }
      } finally {
        view.close();
      }
    }
    // and the file system still works after all that
    ok(famfs(img, 'creat', '-s', '1m', 'crash/after'));
    expect(runBin('famfs', ['fsck', img], ENV).status).toBe(0);
   }, 150_000);
});

// ---------------------------------------------------------------- hand-crafted bad log entries

interface RawFile {
  seqnum: number;
  /** a string is written NUL-terminated; bytes are written as is (up to 80) */
  relpath: string | Uint8Array;
  size: number;
  extents: Array<[offset: number, len: number]>;
  /** the fmap_nextents field (default: extents.length) */
  nextents?: number;
  /** XOR into the stored CRC (0: correct CRC) */
  crcXor?: number;
}

/** One 544-byte FILE log entry, built field by field from the spec's offsets, with its CRC. */
function rawFileEntry(e: RawFile): Uint8Array {
  const b = new Uint8Array(ENTRY_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(e.seqnum), true); // seqnum
  v.setUint32(8, 0, true); // type FILE
  v.setBigUint64(BODY + 0, BigInt(e.size), true); // fm_size
  v.setUint32(BODY + 8, 2, true); // fm_flags: ALL_HOSTS_RW
  v.setUint32(BODY + 12, 0, true); // fm_uid
  v.setUint32(BODY + 16, 0, true); // fm_gid
  v.setUint32(BODY + 20, 0o644, true); // fm_mode
  const rp = typeof e.relpath === 'string' ? new TextEncoder().encode(e.relpath) : e.relpath;
  if (rp.length > 80) throw new Error('relpath field is 80 bytes');
  b.set(rp, BODY + 24); // fm_relpath (zero-filled: NUL-terminated when shorter than 80)
  const fmap = BODY + 104;
  v.setUint32(fmap + 0, 0, true); // fmap_ext_type SIMPLE
  v.setUint32(fmap + 8, e.nextents ?? e.extents.length, true); // fmap_nextents
  e.extents.forEach(([off, len], i) => {
    const x = fmap + 16 + i * 24;
    v.setBigUint64(x, 0n, true); // se_devindex
    v.setBigUint64(x + 8, BigInt(off), true); // se_offset
    v.setBigUint64(x + 16, BigInt(len), true); // se_len
  });
  const crc = zlib.crc32(b.subarray(0, ENTRY_CRC)) >>> 0;
  v.setBigUint64(ENTRY_CRC, BigInt((crc ^ (e.crcXor ?? 0)) >>> 0), true);
  return b;
}

/** Append raw entry bytes: write the slot at next_index, then bump next_index and next_seqnum. */
function appendRaw(img: string, entry: (index: number) => Uint8Array): number {
  const hdr = readAt(img, LOG_OFFSET, LOG_HDR_SIZE);
  const hv = new DataView(hdr.buffer, hdr.byteOffset);
  const index = Number(hv.getBigUint64(HDR_NEXT_INDEX, true));
  const seq = Number(hv.getBigUint64(HDR_NEXT_SEQNUM, true));
  writeAt(img, LOG_OFFSET + LOG_HDR_SIZE + index * ENTRY_SIZE, entry(index));
  const bump = new Uint8Array(16);
  const bv = new DataView(bump.buffer);
  bv.setBigUint64(0, BigInt(seq + 1), true); // next_seqnum at 32
  bv.setBigUint64(8, BigInt(index + 1), true); // next_index at 40
  writeAt(img, LOG_OFFSET + HDR_NEXT_SEQNUM, bump);
  return index;
}

describe('hand-crafted bad log entries: each is rejected alone', () => {
  let base: string;
  let devSize: number;
  beforeAll(() => {
    base = newImage('bad-base');
    ok(famfs(base, 'mkdir', 'd'));
    ok(famfs(base, 'creat', '-s', '4m', 'd/good'));
    devSize = fs.statSync(base).size;
  });

  /** A copy of the base image (only its metadata: no file data was written). */
  function copyOfBase(name: string): string {
    const img = path.join(tmp.make(name), 'img');
    sparseImage(img, devSize);
    writeAt(img, 0, readAt(base, 0, HEAD_BYTES));
    return img;
  }

  const FREE = 4 * GiB; // free space in the base image
  const ok1 = (): Array<[number, number]> => [[FREE, 2 * MiB]];
  // `why`: the reason logplay must give (so a rule caught only by some other check does not pass)
  const rules: Array<{ rule: string; token: string; why: RegExp; entry: (index: number) => RawFile }> = [
    { rule: 'an absolute path', token: 'abs_file', why: /absolute path/, entry: (i) => ({ seqnum: i, relpath: '/abs_file', size: MiB, extents: ok1() }) },
    { rule: "a '..' component", token: 'dotdot_file', why: /'\.\.' component/, entry: (i) => ({ seqnum: i, relpath: 'd/../dotdot_file', size: MiB, extents: ok1() }) },
    {
      rule: 'an 80-byte name with no NUL in the field',
      token: 'LLLLLLLLLL',
      why: /not NUL-terminated/,
      entry: (i) => ({ seqnum: i, relpath: new Uint8Array(80).fill(0x4c), size: MiB, extents: ok1() }),
    },
    {
      rule: 'an extent past the device end',
      token: 'pastend_file',
      why: /past the device end/,
      entry: (i) => ({ seqnum: i, relpath: 'pastend_file', size: 4 * MiB, extents: [[devSize - 2 * MiB, 4 * MiB]] }),
    },
    { rule: 'an extent at offset 0', token: 'zero_off_file', why: /at device offset 0/, entry: (i) => ({ seqnum: i, relpath: 'zero_off_file', size: MiB, extents: [[0, 2 * MiB]] }) },
    { rule: 'a bad CRC', token: 'badcrc_file', why: /CRC mismatch/, entry: (i) => ({ seqnum: i, relpath: 'badcrc_file', size: MiB, extents: ok1(), crcXor: 0x10 }) },
    { rule: 'a seqnum that is not its index', token: 'badseq_file', why: /seqnum 9 does not match its index/, entry: (i) => ({ seqnum: i + 7, relpath: 'badseq_file', size: MiB, extents: ok1() }) },
    {
      rule: 'more than 16 extents',
      token: 'many_ext_file',
      why: /17 simple extents \(max 16\)/,
      entry: (i) => ({
        seqnum: i,
        relpath: 'many_ext_file',
        size: 32 * MiB,
        extents: Array.from({ length: 16 }, (_, k): [number, number] => [FREE + k * 2 * MiB, 2 * MiB]),
        nextents: 17,
      }),
    },
  ];

  it('the hand builder makes entries the tools accept (a control for every rule below)', () => {
    const img = copyOfBase('bad-control');
    const index = appendRaw(img, (i) => rawFileEntry({ seqnum: i, relpath: 'control_file', size: MiB, extents: ok1() }));
    expect(index).toBe(2);
    const lp = ok(famfs(img, 'logplay'));
    expect(lp.stdout).toContain('famfs_logplay(v1): 3 log entries; 2 new files; 1 new directories');
    expect(lp.stderr).toBe('');
    expect(famfs(img, 'ls', '-R').stdout).toContain('control_file');
    expect(runBin('famfs', ['fsck', img], ENV).status).toBe(0);
  });

  for (const r of rules) {
    it(`${r.rule}: logplay reports exactly that entry, ls hides it, fsck fails naming it`, () => {
      const img = copyOfBase(`bad-${r.token.slice(0, 8)}`);
      const bad = appendRaw(img, (i) => rawFileEntry(r.entry(i)));
      expect(bad).toBe(2);
      // an entry after the bad one still appends and replays
      ok(famfs(img, 'mkdir', 'after'));

      const lp = famfs(img, 'logplay');
      expect(lp.status).not.toBe(0);
      const complaints = lines(lp.stderr);
      expect(complaints).toHaveLength(1);
      expect(complaints[0]).toMatch(new RegExp(`\\bentry ${bad}:`));
      expect(complaints[0]).toMatch(r.why);
      expect(lp.stdout).toContain('famfs_logplay(v1): 3 log entries; 1 new files; 2 new directories');
      expect(lp.stdout).toContain('1 bad or rejected log entries');

      const ls = ok(famfs(img, 'ls', '-R')).stdout;
      expect(lines(ls).sort()).toEqual(['after/', 'd/', 'd/good']);
      expect(ls).not.toContain(r.token);

      const f = runBin('famfs', ['fsck', img], ENV);
      expect(f.status).not.toBe(0);
      expect(f.stderr).toMatch(new RegExp(`\\bentry ${bad}:`));
      expect(f.stdout).toContain('1 bad log entries detected');
      const j = fsckJson(img);
      expect(j.report.badEntries.map((b) => b.index)).toEqual([bad]);
      expect(j.report.collisions).toBe(0);
    });
  }
});
