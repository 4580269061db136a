/**
 * mkfs.famfs and fsck on a real block device: a loop device over a 512 MiB
 * sparse file. Needs root and losetup; without them it says why and skips,
 * or fails when FAMFS_TEST_NO_SKIP is set (CI).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FIXTURE_SYSTEM_UUID, MiB, lines, needsRoot, onPathReq, readAt, requireBuiltCli, runBin, sparseImage, tmpDirs,
} from './helpers.js';

const ENV = { FAMFS_SYSTEM_UUID: FIXTURE_SYSTEM_UUID };
const SIZE = 512 * MiB;

describe.runIf(needsRoot('loop device mkfs/fsck', [onPathReq('losetup')]))('a loop block device', () => {
  const dirs = tmpDirs('famfs-loop-');
  let backing: string;
  let loop: string | undefined;

  beforeAll(() => {
    requireBuiltCli();
    backing = sparseImage(path.join(dirs.make(), 'loop-backing.img'), SIZE);
    const r = spawnSync('losetup', ['-f', '--show', backing], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`losetup -f --show failed: ${r.stderr.trim()}`);
    loop = r.stdout.trim();
    expect(loop).toMatch(/^\/dev\/loop\d+$/);
  });

  afterAll(() => {
    if (loop !== undefined) {
      const r = spawnSync('losetup', ['-d', loop], { encoding: 'utf8' });
      if (r.status !== 0) console.warn(`losetup -d ${loop} failed: ${r.stderr.trim()}`);
    }
  });

  it('is a block device of the file\'s size', () => {
    expect(fs.statSync(loop!).isBlockDevice()).toBe(true);
  });

  it('mkfs.famfs formats it, fsck is clean, the superblock records the device path and size', () => {
    const m = runBin('mkfs.famfs', [loop!], ENV);
    expect(m.stderr).toBe('');
    expect(m.status).toBe(0);
    expect(lines(m.stdout)[0]).toBe(`devsize: ${SIZE}`);
    expect(m.stdout).toContain(`  primary: ${loop}   ${SIZE}\n`);

    const f = runBin('famfs', ['fsck', loop!], ENV);
    expect(f.stderr).toBe('');
    expect(f.status).toBe(0);
    expect(f.stdout).toContain(`  primary: ${loop}   ${SIZE}\n`);
    expect(f.stdout).toContain('  role of this node: Owner\n');

    // read the superblock back through the block device, by hand
    const sb = readAt(loop!, 0, 200);
    const v = new DataView(sb.buffer);
    expect(v.getBigUint64(0, true)).toBe(0x87b282ffn);
    expect(v.getBigUint64(112, true)).toBe(BigInt(SIZE));
    const name = Buffer.from(sb.subarray(136, 200));
    expect(name.subarray(0, name.indexOf(0)).toString()).toBe(loop);
  });

  it('the bytes reached the backing file (mkfs synced the block device)', () => {
    const sb = readAt(backing, 0, 200);
    expect(new DataView(sb.buffer).getBigUint64(0, true)).toBe(0x87b282ffn);
    expect(Buffer.from(sb).equals(Buffer.from(readAt(loop!, 0, 200)))).toBe(true);
  });

  it('a second mkfs without -f refuses the formatted block device', () => {
    const before = Buffer.from(readAt(loop!, 0, 12 * MiB));
    const r = runBin('mkfs.famfs', [loop!], ENV);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/already has a famfs superblock/);
    expect(Buffer.from(readAt(loop!, 0, 12 * MiB)).equals(before)).toBe(true);
  });
});
