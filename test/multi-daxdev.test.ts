/**
 * A famfs file system on several devices, through the real CLI: mkfs.famfs
 * with secondaries, interleaved and placed files, getmap's daxdev column,
 * fsck's per-device block, devadd (offline and through a mounted master's
 * daemon), `famfs daxdev list|refresh|resolve`, a second host that finds the
 * devices itself, mounts that serve files spread over devices — and the same
 * on loop block devices.
 *
 * Each host is a system UUID and a daxdev-map directory (FAMFS_STATE_DIR) of
 * its own.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MiB, lines, needsRoot, onPathReq, readAt, requireBuiltCli, runBin, type RunResult, sparseImage, tmpDirs } from './helpers.js';
import { devFuseReq, sleep, spawnFamfs, withMountScratch } from './mount-helpers.js';
import { seeded } from './random.js';

const MASTER = '0a0b0c0d-1111-4222-8333-444455556666';
const CLIENT = 'f0e0d0c0-9999-4888-8777-666655554444';
const tmp = tmpDirs('famfs-multi-');

interface Host {
  env: Record<string, string>;
  famfs: (...args: string[]) => RunResult;
}

function host(dir: string, name: string, uuid: string): Host {
  const env = { FAMFS_SYSTEM_UUID: uuid, FAMFS_STATE_DIR: path.join(dir, `state-${name}`), FAMFS_RUN_DIR: path.join(dir, `run-${name}`) };
  return { env, famfs: (...args) => runBin('famfs', args, env) };
}

/** A run that must succeed: its stdout. */
function ok(r: RunResult): string {
  expect(r.stderr, r.stdout).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

/** A run that must fail with one line on stderr: that line. */
function fails(r: RunResult, status?: number): string {
  expect(r.status, r.stdout).not.toBe(0);
  if (status !== undefined) expect(r.status).toBe(status);
  expect(lines(r.stderr), r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return r.stderr.trim();
}

function sha(p: string, len: number): Buffer {
  return Buffer.from(readAt(p, 0, len));
}

interface Daxdev { index: number; uuid: string; size: number; path: string | null; problem: string | null; allocated: number }

describe('a file system on three image files, then four', () => {
  let dir: string;
  let imgs: string[];
  let m: Host;

  beforeAll(() => {
    requireBuiltCli();
    dir = tmp.make('images-');
    imgs = ['a', 'b', 'c', 'd'].map((n) => path.join(dir, `${n}.img`));
    m = host(dir, 'master', MASTER);
  });

  it('mkfs.famfs PRIMARY SECONDARY... makes each a device of one file system and reports them', () => {
    const out = ok(runBin('mkfs.famfs', ['--create-size', '256m', imgs[0]!, imgs[1]!, imgs[2]!], m.env));
    expect(out).toContain('\nDevices: 3\n');
    expect(out).toMatch(/\n {2}daxdev 1: [0-9a-f-]{36} .*b\.img\n/);
    const list = JSON.parse(ok(m.famfs('daxdev', 'list', '--json', imgs[0]!))) as Daxdev[];
    expect(list.map((d) => [d.index, d.size, d.problem])).toEqual([[0, 256 * MiB, null], [1, 256 * MiB, null], [2, 256 * MiB, null]]);
    expect(list.slice(1).map((d) => d.path)).toEqual([imgs[1], imgs[2]]);
    expect(new Set(list.map((d) => d.uuid)).size).toBe(3);
  });

  it('an interleaved file spreads over the three devices; getmap names each strip\'s device; its bytes verify', () => {
    ok(m.famfs('-D', imgs[0]!, 'creat', '-N', '3', '-C', '2m', '-s', '48m', '-r', '-S', '31', 'big'));
    const map = ok(m.famfs('-D', imgs[0]!, 'getmap', 'big'));
    const strips = [...map.matchAll(/^\t\t([0-9a-f]+)\t(\d+)\tdaxdev (\d)$/gm)].map((x) => Number(x[3]));
    expect(strips.sort()).toEqual([0, 1, 2]);
    expect(ok(m.famfs('-D', imgs[0]!, 'verify', '-S', '31', '-f', 'big'))).toContain('Success');
    // a file on the primary only keeps upstream's getmap lines exactly (no column)
    ok(m.famfs('-D', imgs[0]!, 'creat', '--daxdev', '0', '-s', '3m', '-r', '-S', '30', 'on0'));
    expect(ok(m.famfs('-D', imgs[0]!, 'getmap', 'on0'))).not.toContain('daxdev');
    ok(m.famfs('-D', imgs[0]!, 'creat', '--daxdev', '2', '-s', '3m', '-r', '-S', '32', 'on2'));
    expect(ok(m.famfs('-D', imgs[0]!, 'getmap', 'on2'))).toMatch(/^\t\t[0-9a-f]+\t4194304\tdaxdev 2$/m);
    expect(fails(m.famfs('-D', imgs[0]!, 'creat', '--daxdev', '7', '-s', '3m', 'nowhere'))).toContain('no daxdev 7 in this file system (0..2)');
  });

  it('fsck -v prints a block per device; fsck of a secondary says to use the primary', () => {
    const out = ok(m.famfs('fsck', '-v', imgs[0]!));
    expect(out).toContain('\nDevices: 3\n');
    for (const i of [1, 2]) expect(out).toMatch(new RegExp(`\\n {2}daxdev ${i}: [0-9a-f-]{36} ${imgs[i]!.replace(/[.]/g, '\\.')}\\n`));
    const json = JSON.parse(ok(m.famfs('fsck', '--json', imgs[0]!))) as { clean: boolean; daxdevs: Array<{ index: number; allocatedBytes: number }>; capacity: { deviceCapacity: number } };
    expect(json.clean).toBe(true);
    expect(json.capacity.deviceCapacity).toBe(768 * MiB);
    expect(json.daxdevs[2]!.allocatedBytes).toBe(2 * MiB + 16 * MiB + 4 * MiB); // superblock, a strip, on2
    expect(fails(m.famfs('fsck', imgs[1]!))).toMatch(/a secondary device of famfs file system [0-9a-f-]{36} .*use the primary device or the mount point/);
  });

  it('devadd adds a fourth device; the same device again, a famfs primary or a missing device is refused in one line, nothing written', () => {
    sparseImage(imgs[3]!, 128 * MiB);
    expect(ok(m.famfs('devadd', imgs[0]!, imgs[3]!))).toMatch(/^devadd: .*d\.img is daxdev 3 \([0-9a-f-]{36}, 134217728 bytes\)\n$/);
    const log = sha(imgs[0]!, 12 * MiB);
    expect(fails(m.famfs('devadd', imgs[0]!, imgs[3]!))).toMatch(/is already (daxdev 3|a device) of this file system/);
    expect(fails(m.famfs('devadd', imgs[0]!, imgs[0]!))).toContain('is already a device of this file system');
    const other = path.join(dir, 'other.img');
    ok(runBin('mkfs.famfs', ['--create-size', '64m', other], m.env));
    expect(fails(m.famfs('devadd', imgs[0]!, other))).toBe(`famfs: devadd: ${other} holds a primary famfs superblock; use -f to overwrite`);
    expect(fails(m.famfs('devadd', imgs[0]!, path.join(dir, 'missing.img')))).toMatch(/missing\.img/);
    expect(sha(imgs[0]!, 12 * MiB).equals(log)).toBe(true);
    expect(fails(runBin('famfs', ['devadd', imgs[0]!, other], { ...m.env, FAMFS_SYSTEM_UUID: CLIENT }))).toMatch(/this host is a client/);
    const list = JSON.parse(ok(m.famfs('daxdev', '--json', imgs[0]!))) as Daxdev[];
    expect(list).toHaveLength(4);
    expect(list[3]).toMatchObject({ index: 3, size: 128 * MiB, path: imgs[3], allocated: 2 * MiB });
  });

  it('another host does not know where the devices are: it says so, reads what is on the primary, and `daxdev refresh` finds them', () => {
    const c = host(dir, 'client', CLIENT);
    const listed = c.famfs('daxdev', 'list', imgs[0]!);
    expect(listed.status).toBe(1);
    expect(listed.stdout).toMatch(/^1 +[0-9a-f-]{36} +268435456 +\d+ +\(not found: daxdev 1 \([0-9a-f-]{36}\) is not found on this host: `famfs daxdev refresh` with its path\)$/m);
    expect(fails(c.famfs('-D', imgs[0]!, 'verify', '-S', '32', '-f', 'on2'))).toMatch(/^famfs: .*daxdev 2 \([0-9a-f-]{36}\) is not found on this host/);
    expect(ok(c.famfs('-D', imgs[0]!, 'verify', '-S', '30', '-f', 'on0'))).toContain('Success');
    const fsck = c.famfs('fsck', imgs[0]!);
    expect(fsck.status).not.toBe(0);
    // refresh with candidate paths: every device found and recorded in this host's map
    ok(c.famfs('daxdev', 'refresh', imgs[0]!, imgs[3]!, imgs[2]!, imgs[1]!));
    const list = JSON.parse(ok(c.famfs('daxdev', 'list', '--json', imgs[0]!))) as Daxdev[];
    expect(list.map((d) => d.path)).toEqual(imgs);
    expect(ok(c.famfs('-D', imgs[0]!, 'verify', '-S', '32', '-f', 'on2'))).toContain('Success');
    expect(ok(c.famfs('-D', imgs[0]!, 'verify', '-S', '31', '-f', 'big'))).toContain('Success');
    ok(c.famfs('fsck', imgs[0]!));
    // resolve: one device by UUID, from the map
    const fsUuid = (JSON.parse(ok(c.famfs('fsck', '--json', imgs[0]!))) as { superblock: { uuid: string } }).superblock.uuid;
    expect(ok(c.famfs('daxdev', 'resolve', fsUuid, list[2]!.uuid))).toBe(`${imgs[2]}\n`);
    expect(fails(c.famfs('daxdev', 'resolve', fsUuid, '12345678-1234-4234-8234-123456789abc'))).toMatch(/is not found on this host/);
    expect(fails(c.famfs('daxdev', 'resolve', '../../etc', list[2]!.uuid))).toBe("famfs: not a file system UUID: '../../etc'");
    expect(fails(c.famfs('daxdev', 'resolve', fsUuid, 'x'))).toBe("famfs: not a device UUID: 'x'");
  });

  it('mkfs.famfs refuses a secondary that is not blank before it writes anything; -f -k kills every superblock', () => {
    const p = path.join(dir, 'fresh.img');
    sparseImage(p, 64 * MiB);
    const other = path.join(dir, 'other.img');
    const before = sha(other, 4 * MiB);
    const e = fails(runBin('mkfs.famfs', [p, other], m.env), 2);
    expect(e).toMatch(/other\.img has .*use -f to overwrite/);
    expect(sha(p, 4 * MiB).every((b) => b === 0)).toBe(true);
    expect(sha(other, 4 * MiB).equals(before)).toBe(true);
    expect(fails(runBin('mkfs.famfs', [p, p], m.env))).toContain('a device is named twice');
    ok(runBin('mkfs.famfs', ['-f', p, other], m.env));
    expect(ok(runBin('mkfs.famfs', ['-f', '-k', p, other], m.env))).toBe('Famfs superblock killed\n');
    for (const x of [p, other]) expect(fails(m.famfs('fsck', x))).toMatch(/superblock/);
  });
});

describe.runIf(needsRoot('multi-device famfs mounts', [devFuseReq]))('mounted: a master and a client of a file system on three devices', () => {
  it('both serve files spread over the devices (READ/WRITE); a devadd through the master\'s daemon reaches the client without a remount', async () => {
    requireBuiltCli();
    await withMountScratch(tmp.make('mount-'), MASTER, async ({ dir, env }) => {
      const imgs = ['a', 'b', 'c', 'd'].map((n) => path.join(dir, `${n}.img`));
      const m = { env: { ...env, FAMFS_STATE_DIR: path.join(dir, 'state-m') }, famfs: (...a: string[]) => runBin('famfs', a, { ...env, FAMFS_STATE_DIR: path.join(dir, 'state-m') }) };
      const cenv = { ...env, FAMFS_SYSTEM_UUID: CLIENT, FAMFS_STATE_DIR: path.join(dir, 'state-c') };
      const c = { env: cenv, famfs: (...a: string[]) => runBin('famfs', a, cenv) };
      const mm = path.join(dir, 'mnt-master');
      const cm = path.join(dir, 'mnt-client');
      fs.mkdirSync(mm);
      fs.mkdirSync(cm);
      ok(runBin('mkfs.famfs', ['--create-size', '256m', imgs[0]!, imgs[1]!, imgs[2]!], m.env));
      ok(m.famfs('mount', imgs[0]!, mm));
      ok(c.famfs('daxdev', 'refresh', imgs[0]!, imgs[1]!, imgs[2]!));
      ok(c.famfs('mount', imgs[0]!, cm));
      const st = JSON.parse(ok(m.famfs('status', '--json', mm))) as { role: string };
      expect(st.role).toBe('master');
      // df sums the devices: three of 256 MiB
      const df = (mnt: string): number => {
        const sf = fs.statfsSync(mnt);
        return sf.blocks * sf.bsize;
      };
      expect(df(mm)).toBe(768 * MiB);
      expect(df(cm)).toBe(768 * MiB);
      ok(m.famfs('creat', '-N', '3', '-s', '24m', '-r', '-S', '41', path.join(mm, 'striped')));
      ok(m.famfs('mkdir', path.join(mm, 'd')));
      ok(m.famfs('creat', '--daxdev', '1', '-s', '5m', '-r', '-S', '42', path.join(mm, 'd', 'on1')));
      expect(ok(m.famfs('getmap', path.join(mm, 'd', 'on1')))).toMatch(/\tdaxdev 1$/m);
      // both mounts serve the seeded bytes
      for (const [h, mnt] of [[m, mm], [c, cm]] as const) {
        await waitForFile(path.join(mnt, 'd', 'on1'));
        expect(ok(h.famfs('verify', '-S', '41', '-f', path.join(mnt, 'striped')))).toContain('Success');
        expect(ok(h.famfs('verify', '-S', '42', '-f', path.join(mnt, 'd', 'on1')))).toContain('Success');
        expect(fs.readdirSync(path.join(mnt, '.meta')).sort()).toEqual(['.log', '.superblock', '.superblock.1', '.superblock.2']);
      }
      // .meta/.superblock.2 is daxdev 2's superblock, byte for byte
      expect(Buffer.from(fs.readFileSync(path.join(cm, '.meta', '.superblock.2'))).equals(Buffer.from(readAt(imgs[2]!, 0, 2 * MiB)))).toBe(true);
      // fsck through the mount checks the secondaries through .meta/.superblock.N
      expect(ok(m.famfs('fsck', mm))).toMatch(/daxdev 2: [0-9a-f-]{36} .*\.meta\/\.superblock\.2\n/);
      // devadd through the mounted master's daemon
      sparseImage(imgs[3]!, 64 * MiB);
      expect(ok(m.famfs('devadd', mm, imgs[3]!))).toMatch(/is daxdev 3/);
      ok(m.famfs('creat', '--daxdev', '3', '-s', '7m', '-r', '-S', '43', path.join(mm, 'on3')));
      // the client host learns where daxdev 3 is, and its mount (not remounted) serves the file
      ok(c.famfs('daxdev', 'refresh', cm, imgs[3]!));
      await waitForFile(path.join(cm, 'on3'));
      expect(ok(c.famfs('verify', '-S', '43', '-f', path.join(cm, 'on3')))).toContain('Success');
      expect((JSON.parse(ok(c.famfs('daxdev', 'list', '--json', cm))) as Daxdev[]).map((d) => d.path)).toEqual(imgs);
      expect(df(cm)).toBe(832 * MiB);
      // devadd is the master's: the client's daemon refuses
      expect(fails(c.famfs('devadd', cm, path.join(dir, 'x.img')))).toMatch(/client|master/);
      ok(c.famfs('umount', cm));
      ok(m.famfs('umount', mm));
      ok(m.famfs('fsck', imgs[0]!));
    });
  });
});

async function waitForFile(p: string): Promise<void> {
  for (let i = 0; i < 100 && !fs.existsSync(p); i++) await new Promise((r) => setTimeout(r, 100));
  expect(fs.existsSync(p)).toBe(true);
}

describe.runIf(needsRoot('multi-device famfs on loop block devices', [onPathReq('losetup')]))('on loop block devices', () => {
  const loops: string[] = [];
  let dir: string;

  beforeAll(() => {
    requireBuiltCli();
    dir = tmp.make('loop-');
    for (const n of ['p', 's1', 's2']) {
      const backing = sparseImage(path.join(dir, `${n}.img`), 256 * MiB);
      const r = spawnSync('losetup', ['-f', '--show', backing], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`losetup -f --show failed: ${r.stderr.trim()}`);
      loops.push(r.stdout.trim());
    }
  });

  afterAll(() => {
    for (const l of loops) {
      const r = spawnSync('losetup', ['-d', l], { encoding: 'utf8' });
      if (r.status !== 0) console.warn(`losetup -d ${l} failed: ${r.stderr.trim()}`);
    }
  });

  it('mkfs.famfs over three block devices, an interleaved file across them, fsck clean; the secondaries\' superblocks reached the backing files', () => {
    const h = host(dir, 'm', MASTER);
    ok(runBin('mkfs.famfs', loops, h.env));
    ok(h.famfs('-D', loops[0]!, 'creat', '-N', '3', '-s', '30m', '-r', '-S', '51', 'x'));
    expect(ok(h.famfs('-D', loops[0]!, 'verify', '-S', '51', '-f', 'x'))).toContain('Success');
    const rep = JSON.parse(ok(h.famfs('fsck', '--json', loops[0]!))) as { clean: boolean; daxdevs: Array<{ path: string; allocatedBytes: number }> };
    expect(rep.clean).toBe(true);
    expect(rep.daxdevs.map((d) => d.path)).toEqual(loops);
    for (const d of rep.daxdevs.slice(1)) expect(d.allocatedBytes).toBe(2 * MiB + 10 * MiB);
    for (const n of ['s1', 's2']) {
      const sb = readAt(path.join(dir, `${n}.img`), 0, 200);
      const v = new DataView(sb.buffer);
      expect(v.getBigUint64(0, true)).toBe(0x87b282ffn);
      expect(v.getUint32(104, true)).toBe(2); // SECONDARY
      expect(v.getBigUint64(16, true)).toBe(0n); // no log
    }
  });
});

describe('SIGKILL during devadd and creat on three devices', () => {
  it('leaves a file system that fsck finds clean after every kill; devadd again finishes an add that was cut short', async () => {
    requireBuiltCli();
    const R = seeded('multi-daxdev kill campaign');
    const dir = tmp.make('kill-');
    const h = host(dir, 'm', MASTER);
    const primary = path.join(dir, 'p.img');
    ok(runBin('mkfs.famfs', ['--create-size', '256m', primary, path.join(dir, 's1.img'), path.join(dir, 's2.img')], h.env));
    const devices = (): Daxdev[] => JSON.parse(ok(h.famfs('daxdev', 'list', '--json', primary))) as Daxdev[];
    const fsckClean = (what: string): void => {
      const r = h.famfs('fsck', '--json', primary);
      const rep = JSON.parse(r.stdout) as { clean: boolean; errors: string[]; collisions: number };
      expect(rep.errors, what).toEqual([]);
      expect(rep.clean, what).toBe(true);
      expect(r.status, what).toBe(0);
    };
    // calibration: how long an uncut run of each takes
    sparseImage(path.join(dir, 'cal.img'), 64 * MiB);
    const calAdd = await spawnFamfs(['devadd', primary, path.join(dir, 'cal.img')], h.env).done;
    expect(calAdd.status, calAdd.stderr).toBe(0);
    const calCreat = await spawnFamfs(['-D', primary, 'creat', '-N', '3', '-s', '12m', '-r', '-S', '99', 'cal'], h.env).done;
    expect(calCreat.status, calCreat.stderr).toBe(0);
    const landed = { before: 0, superblockOnly: 0, after: 0, creatBefore: 0, creatAfter: 0 };
    const ROUNDS = 8;
    for (let round = 0; round < ROUNDS; round++) {
      // devadd, killed at a seeded time
      const dev = sparseImage(path.join(dir, `k${round}.img`), 32 * MiB);
      const n = devices().length;
      const add = spawnFamfs(['devadd', primary, dev], h.env);
      await sleep(Math.round(calAdd.ms * (0.5 + 0.6 * R.float())));
      add.child.kill('SIGKILL');
      const r = await add.done;
      const what = `devadd round ${round}`;
      if (r.signal === null) expect(r.status, `${what}: ${r.stderr}`).toBe(0);
      fsckClean(what);
      const listed = devices();
      const head = readAt(dev, 0, 8);
      const hasSb = new DataView(head.buffer).getBigUint64(0, true) === 0x87b282ffn;
      if (listed.length === n + 1) {
        landed.after++;
        expect(hasSb, what).toBe(true);
        expect(fails(h.famfs('devadd', primary, dev)), what).toMatch(/is already/);
      } else {
        expect(listed, what).toHaveLength(n);
        if (hasSb) landed.superblockOnly++;
        else landed.before++;
        // the add again: a secondary superblock of this file system that the log lacks is taken
        expect(ok(h.famfs('devadd', primary, dev)), what).toMatch(new RegExp(`is daxdev ${n} `));
      }
      fsckClean(`${what}, then devadd again`);
      // an interleaved creat, killed at a seeded time
      const name = `f${round}`;
      const cr = spawnFamfs(['-D', primary, 'creat', '-N', '3', '-s', '12m', '-r', '-S', String(100 + round), name], h.env);
      await sleep(Math.round(calCreat.ms * (0.5 + 0.6 * R.float())));
      cr.child.kill('SIGKILL');
      const c = await cr.done;
      fsckClean(`creat round ${round}`);
      const exists = h.famfs('-D', primary, 'ls', name).status === 0;
      if (exists) landed.creatAfter++;
      else landed.creatBefore++;
      if (c.signal === null) {
        expect(c.status, c.stderr).toBe(0);
        expect(ok(h.famfs('-D', primary, 'verify', '-S', String(100 + round), '-f', name))).toContain('Success');
      }
    }
    console.log(
      `multi-daxdev kill campaign (seed ${R.seed}): ${ROUNDS} devadd kills landed ${landed.before} before the superblock, ` +
        `${landed.superblockOnly} between superblock and log entry, ${landed.after} after; ${ROUNDS} creat kills: ` +
        `${landed.creatBefore} before the entry, ${landed.creatAfter} after`,
    );
    expect(devices()).toHaveLength(4 + ROUNDS);
    // the seeded times span the runs: some kills land before their log entry, some after
    expect(landed.before + landed.superblockOnly + landed.creatBefore).toBeGreaterThan(0);
    expect(landed.after + landed.creatAfter).toBeGreaterThan(0);
    fsckClean('after the campaign');
  });
});
