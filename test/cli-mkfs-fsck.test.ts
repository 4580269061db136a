/**
 * mkfs.famfs and `famfs fsck` end to end: the real binaries (bin/mkfs.famfs,
 * bin/famfs, spawned) for the main cases, the in-process program (runFamfs,
 * same code, no node start-up) for the loops over hundreds of corruptions.
 * Images are sparse files in a temp dir; the host identity comes from
 * FAMFS_SYSTEM_UUID (never /opt/famfs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type LogEntryRecord, encodeLogEntry } from '@famfs/core';
import { bufferIo, runFamfs, runMkfsFamfs } from '@famfs/cli';
import {
  FIXTURE_SYSTEM_UUID, GiB, MiB, fixtureImage, fixtureText, lines, seeded, readAt, requireBuiltCli, runBin,
  noisyImage, sha256File, sparseImage, tmpDirs, u64le, writeAt,
} from './helpers.js';

const ENV = { FAMFS_SYSTEM_UUID: FIXTURE_SYSTEM_UUID };
const OTHER_HOST = { FAMFS_SYSTEM_UUID: '0e0e0e0e-1111-2222-3333-444444444444' };
const LOG = 2 * MiB;
const dirs = tmpDirs('famfs-cli-');

beforeAll(() => requireBuiltCli());

/** A failure must say one thing, on one line, without a JS stack trace. */
function expectOneLineError(stderr: string, match?: RegExp): void {
  const l = lines(stderr);
  expect(l, `stderr was: ${JSON.stringify(stderr)}`).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s{4}at /m);
  expect(l[0]!.trim().length).toBeGreaterThan(0);
  if (match) expect(l[0]).toMatch(match);
}

async function famfs(argv: string[], env: Record<string, string> = ENV): Promise<{ status: number; stdout: string; stderr: string }> {
  const io = bufferIo(env);
  const status = await runFamfs(argv, io);
  return { status, stdout: io.stdout, stderr: io.stderr };
}

async function mkfsInProcess(argv: string[], env: Record<string, string> = ENV): Promise<{ status: number; stdout: string; stderr: string }> {
  const io = bufferIo(env);
  const status = await runMkfsFamfs(argv, io);
  return { status, stdout: io.stdout, stderr: io.stderr };
}

/** A fresh famfs image of `size` bytes made by the real mkfs.famfs. */
function formattedImage(name: string, size: number, env: Record<string, string> = ENV): string {
  const img = sparseImage(path.join(dirs.make(), name), size);
  const r = runBin('mkfs.famfs', [img], env);
  expect(r.status, r.stderr).toBe(0);
  return img;
}

// ---------------------------------------------------------------- the upstream fixture

describe('the upstream fixture image', () => {
  let img: string;
  beforeAll(() => {
    img = fixtureImage(path.join(dirs.make(), 'basic.img'));
  });

  it('passes `famfs fsck` (exit 0, nothing on stderr)', () => {
    const r = runBin('famfs', ['fsck', img], ENV);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('`famfs fsck -v` prints exactly what upstream printed (fsck-v.out)', () => {
    const r = runBin('famfs', ['fsck', '-v', img], ENV);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(fixtureText('fsck-v.out'));
  });

  it('`famfs fsck --json` has the figures', async () => {
    const r = await famfs(['fsck', '--json', img]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.log.entriesUsed).toBe(9);
    expect(j.log.entriesTotal).toBe(15420);
    expect(j.files).toBe(4);
    expect(j.directories).toBe(5);
    expect(j.capacity.sumFileSizes).toBe(176160769);
    expect(j.capacity.allocatedBytes).toBe(188743680);
    expect(j.capacity.freeBytes).toBe(8401190912);
    expect(j.capacity.deviceCapacity).toBe(8589934592);
    expect(j.capacity.bitmapCapacity).toBe(8589934592);
    expect(j.collisions).toBe(0);
    expect(j.badEntries).toEqual([]);
    expect(j.clean).toBe(true);
    expect(j.thisHost.role).toBe('master');
  });

  it('on another host the role is Client and fsck is still clean', async () => {
    const r = await famfs(['fsck', img], OTHER_HOST);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('  role of this node: Client\n');
  });

  it('fsck -h (human) prints G figures like upstream', async () => {
    const r = await famfs(['fsck', '-h', img]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('  Device capacity:        8.00G\n');
    expect(r.stdout).toContain('  Allocated space:        0.18G\n');
    expect(r.stdout).toContain('  Percent used:            2.2%\n');
  });

  it('fsck never writes (superblock and log unchanged, mtime unchanged)', () => {
    const before = readAt(img, 0, 10 * MiB);
    const mtime = fs.statSync(img).mtimeMs;
    expect(runBin('famfs', ['fsck', '-v', img], ENV).status).toBe(0);
    expect(Buffer.from(readAt(img, 0, 10 * MiB)).equals(Buffer.from(before))).toBe(true);
    expect(fs.statSync(img).mtimeMs).toBe(mtime);
  });
});

// ---------------------------------------------------------------- mkfs

describe('mkfs.famfs on a fresh sparse image', () => {
  it('prints upstream\'s mkfs report (modulo UUIDs and device path), then fsck is clean', () => {
    const img = sparseImage(path.join(dirs.make(), 'eight.img'), 8 * GiB);
    const r = runBin('mkfs.famfs', [img], ENV);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // upstream's first line went to stderr (its pre-mkfs role check); the rest is stdout
    const want = lines(fixtureText('mkfs.out')).slice(1);
    const normalise = (l: string[]): string[] => l.map((x) => x
      .replace(/^( {2}Filesystem UUID: {3})\S+$/, '$1<uuid>')
      .replace(/^( {2}Device UUID: {7})\S+$/, '$1<uuid>')
      .replace(/^( {2}primary: )\S+( {3}\d+)$/, '$1<dev>$2'));
    const got = lines(r.stdout);
    expect(normalise(got)).toEqual(normalise(want));
    expect(got).toContain(`  primary: ${img}   8589934592`);
    const uuids = got.filter((l) => /UUID:/.test(l)).map((l) => l.split(/\s+/).at(-1));
    expect(uuids[0]).not.toBe('38936ce5-a1a2-4959-8318-4877746a937e');
    expect(uuids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(uuids[2]).toBe(FIXTURE_SYSTEM_UUID);

    const f = runBin('famfs', ['fsck', img], ENV);
    expect(f.stderr).toBe('');
    expect(f.status).toBe(0);
    expect(f.stdout).toContain('  0 of 15420 entries used\n');
  });

  it('--loglen 16m makes a 16 MiB log', () => {
    const img = sparseImage(path.join(dirs.make(), 'log16.img'), 64 * MiB);
    const r = runBin('mkfs.famfs', ['--loglen', '16m', img], ENV);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('  log size (bytes):  16777216\n');
    expect(r.stdout).toContain('  # of log entries in use: 0 of 30840\n');
    const v = new DataView(readAt(img, 0, 200).buffer);
    expect(v.getBigUint64(24, true)).toBe(16n * 1024n * 1024n);
    expect(runBin('famfs', ['fsck', img], ENV).status).toBe(0);
  });

  it('--create-size makes the image file, then formats it', () => {
    const img = path.join(dirs.make(), 'created.img');
    const r = runBin('mkfs.famfs', ['--create-size', '32m', img], ENV);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.statSync(img).size).toBe(32 * MiB);
    expect(fs.statSync(img).blocks * 512).toBeLessThan(32 * MiB); // sparse
    expect(r.stdout).toContain(`  primary: ${img}   33554432\n`);
    expect(runBin('famfs', ['fsck', img], ENV).status).toBe(0);
  });

  it('--create-size refuses an existing path (unchanged) and a size too small (nothing created)', () => {
    const d = dirs.make();
    const existing = sparseImage(path.join(d, 'exists.img'), 32 * MiB);
    fs.writeFileSync(existing, 'precious');
    const before = sha256File(existing);
    const r = runBin('mkfs.famfs', ['--create-size', '32m', existing], ENV);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, /exists/);
    expect(sha256File(existing)).toBe(before);

    const small = path.join(d, 'small.img');
    const s = runBin('mkfs.famfs', ['--create-size', '8m', small], ENV);
    expect(s.status).toBe(2);
    expectOneLineError(s.stderr, /too small/);
    expect(fs.existsSync(small)).toBe(false);
  });

  it('-h and --help print usage and exit 0 (mkfs.famfs, famfs, famfs fsck)', () => {
    for (const args of [['-h'], ['--help']]) {
      const r = runBin('mkfs.famfs', args, ENV);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: mkfs\.famfs /);
      expect(r.stdout).toContain('--loglen');
      expect(r.stdout).toContain('--force');
    }
    const f = runBin('famfs', ['--help'], ENV);
    expect(f.status).toBe(0);
    expect(f.stdout).toMatch(/^Usage: famfs /);
    expect(f.stdout).toMatch(/\bfsck\b/);
    const k = runBin('famfs', ['fsck', '--help'], ENV);
    expect(k.status).toBe(0);
    expect(k.stdout).toMatch(/^Usage: famfs fsck /);
    expect(k.stdout).toContain('--human');
  });

  it('-f -k kills the superblock (only its magic); fsck then fails', () => {
    const img = formattedImage('kill.img', 16 * MiB);
    const before = readAt(img, 0, 12 * MiB);
    const r = runBin('mkfs.famfs', ['-f', '-k', img], ENV);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Famfs superblock killed');
    const after = readAt(img, 0, 12 * MiB);
    expect(after.subarray(0, 8).every((x) => x === 0)).toBe(true);
    expect(Buffer.from(after.subarray(8)).equals(Buffer.from(before.subarray(8)))).toBe(true);
    const f = runBin('famfs', ['fsck', img], ENV);
    expect(f.status).not.toBe(0);
    expectOneLineError(f.stderr, /superblock/);
  });
});

describe('mkfs.famfs refuses bad input: one line on stderr, exit 2, nothing written', () => {
  /** Run mkfs and check the refusal; `file` must be unchanged (or still absent). */
  function refused(args: string[], file: string, match?: RegExp, status = 2): void {
    const existed = fs.existsSync(file);
    const isDir = existed && fs.statSync(file).isDirectory();
    const before = !existed ? undefined : isDir ? fs.readdirSync(file).join('\n') : sha256File(file);
    const r = runBin('mkfs.famfs', args, ENV);
    expect(r.status, `mkfs.famfs ${args.join(' ')}: ${r.stderr}`).toBe(status);
    expectOneLineError(r.stderr, match);
    if (!existed) expect(fs.existsSync(file)).toBe(false);
    else expect(isDir ? fs.readdirSync(file).join('\n') : sha256File(file)).toBe(before);
  }

  it('a missing path', () => {
    const p = path.join(dirs.make(), 'absent.img');
    refused([p], p, /no such file/);
  });

  it('a directory', () => {
    const d = dirs.make();
    refused([d], d, /directory/);
  });

  it('a file too small for superblock + log + one 2 MiB unit', () => {
    const d = dirs.make();
    for (const size of [12 * MiB - 4096, 10 * MiB, 4096]) {
      const img = noisyImage(path.join(d, `small-${size}.img`), size);
      refused([img], img, /too small/);
    }
    // 16 MiB is enough for the default log, not for a 16 MiB one
    const img = noisyImage(path.join(d, 'small-log.img'), 16 * MiB);
    refused(['-l', '16m', img], img, /too small/);
  });

  it('an empty file', () => {
    const img = path.join(dirs.make(), 'empty.img');
    fs.writeFileSync(img, '');
    refused([img], img);
  });

  it('a read-only file (chmod 0444: root could write it, the tool must not)', () => {
    const img = noisyImage(path.join(dirs.make(), 'ro.img'), 32 * MiB);
    fs.chmodSync(img, 0o444);
    refused([img], img, /read-only/);
    refused(['-f', img], img, /read-only/);
    expect(fs.statSync(img).mode & 0o777).toBe(0o444);
  });

  it('an already formatted image without -f; with -f it succeeds with a new file system', () => {
    const img = formattedImage('twice.img', 32 * MiB);
    const oldUuid = Buffer.from(readAt(img, 48, 16)).toString('hex');
    refused([img], img, /already has a famfs superblock/);
    // owned by another host: still refused
    const r0 = runBin('mkfs.famfs', [img], OTHER_HOST);
    expect(r0.status).toBe(2);
    expectOneLineError(r0.stderr, /another host/);
    const r = runBin('mkfs.famfs', ['-f', img], ENV);
    expect(r.status, r.stderr).toBe(0);
    expect(Buffer.from(readAt(img, 48, 16)).toString('hex')).not.toBe(oldUuid);
    expect(runBin('famfs', ['fsck', img], ENV).status).toBe(0);
  });

  it('a bad --loglen: not a power of two, below 8m, garbage', () => {
    const img = noisyImage(path.join(dirs.make(), 'loglen.img'), 64 * MiB);
    refused(['--loglen', '9m', img], img, /log length/);
    refused(['-l', '12m', img], img, /log length/);
    refused(['-l', '4m', img], img, /log length/);
    refused(['-l', '0', img], img, /log length/);
    refused(['--loglen', 'abc', img], img, /log length/);
    refused(['--loglen', '8q', img], img, /log length/);
  });

  it('a device path longer than the superblock\'s 63-byte name field (regression: it printed a stack trace)', () => {
    const d = path.join(dirs.make(), 'x'.repeat(64));
    fs.mkdirSync(d);
    const img = noisyImage(path.join(d, 'img'), 32 * MiB);
    refused([img], img, /longer than 63 bytes/);
    const created = path.join(d, 'created.img');
    refused(['--create-size', '32m', created], created, /longer than 63 bytes/);
  });

  it('no device argument: exit 1', () => {
    const r = runBin('mkfs.famfs', [], ENV);
    expect(r.status).toBe(1);
    expectOneLineError(r.stderr, /memdevice/);
  });

  it('a bad system UUID', () => {
    const img = noisyImage(path.join(dirs.make(), 'uuid.img'), 32 * MiB);
    const before = sha256File(img);
    const r = runBin('mkfs.famfs', [img], { FAMFS_SYSTEM_UUID: 'nope' });
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, /UUID/);
    expect(sha256File(img)).toBe(before);
  });
});

// ---------------------------------------------------------------- fsck on damaged images

describe('fsck on a damaged superblock', () => {
  it('every byte 0..103 flipped (and a random bit of it): non-zero exit, one-line error', async () => {
    const img = formattedImage('sbflip.img', 16 * MiB);
    expect((await famfs(['fsck', img])).status).toBe(0);
    const sb = readAt(img, 0, 104);
    const rnd = seeded('fsck: superblock byte flips');
    for (let i = 0; i < 104; i++) {
      for (const mask of [0xff, 1 << rnd.int(8)]) {
        writeAt(img, i, Uint8Array.of(sb[i]! ^ mask));
        const r = await famfs(['fsck', img]);
        writeAt(img, i, sb.subarray(i, i + 1));
        if (r.status === 0) expect.fail(`byte ${i} ^ 0x${mask.toString(16)}: fsck exited 0`);
        expect(r.stdout, `byte ${i}`).toBe('');
        expectOneLineError(r.stderr, /superblock/);
      }
    }
    expect((await famfs(['fsck', img])).status).toBe(0);
  });

  it('through the real binary: a bad CRC is reported as such, exit 1', () => {
    const img = formattedImage('sbcrc.img', 16 * MiB);
    const b = readAt(img, 96, 1);
    writeAt(img, 96, Uint8Array.of(b[0]! ^ 0x40));
    const r = runBin('famfs', ['fsck', img], ENV);
    expect(r.status).toBe(1);
    expectOneLineError(r.stderr, /CRC/);
  });
});

describe('fsck on a damaged log header', () => {
  it('magic, len, last_index or crc bytes flipped: non-zero, the message names the log header', async () => {
    const img = formattedImage('lhflip.img', 16 * MiB);
    const h = readAt(img, LOG, 48);
    for (let i = 0; i < 32; i++) {
      writeAt(img, LOG + i, Uint8Array.of(h[i]! ^ 0xff));
      const r = await famfs(['fsck', img]);
      writeAt(img, LOG + i, h.subarray(i, i + 1));
      if (r.status === 0) expect.fail(`log header byte ${i}: fsck exited 0`);
      expectOneLineError(r.stderr, /log header/);
    }
    expect((await famfs(['fsck', img])).status).toBe(0);
  });

  it('next_index past the end of the log: non-zero, names the log header (binary)', () => {
    const img = formattedImage('lhnext.img', 16 * MiB);
    for (const next of [15421n, 1n << 40n, 0xffff_ffff_ffff_ffffn]) {
      writeAt(img, LOG + 32, u64le(next)); // next_seqnum, so only next_index is at fault
      writeAt(img, LOG + 40, u64le(next));
      const r = runBin('famfs', ['fsck', img], ENV);
      expect(r.status, `next_index ${next}`).not.toBe(0);
      expectOneLineError(r.stderr, /log header.*next_index/);
    }
  });
});

describe('fsck on log entries with random bit flips', () => {
  const AU = 2 * MiB;
  /** 2 parent dirs, 4 empty dirs, 20 one-unit files (root, d0, d1): 26 entries. */
  function entries(): LogEntryRecord[] {
    const e: LogEntryRecord[] = [];
    const add = (x: LogEntryRecord): void => void e.push(x);
    add({ seqnum: 0, type: 'mkdir', mkdir: { uid: 0, gid: 0, mode: 0o755, relpath: 'd0' } });
    add({ seqnum: 1, type: 'mkdir', mkdir: { uid: 0, gid: 0, mode: 0o755, relpath: 'd1' } });
    for (let i = 0; i < 4; i++) add({ seqnum: e.length, type: 'mkdir', mkdir: { uid: 1, gid: 1, mode: 0o700, relpath: `e${i}` } });
    for (let i = 0; i < 20; i++) {
      const dir = ['', 'd0/', 'd1/'][i % 3]!;
      add({
        seqnum: e.length, type: 'file',
        file: {
          size: AU - i, flags: 2, uid: 0, gid: 0, mode: 0o644, relpath: `${dir}f${i}`,
          fmap: { type: 'simple', extents: [{ devIndex: 0, offset: 10 * MiB + i * AU, len: AU }] },
        },
      });
    }
    return e;
  }
  const all = entries();
  const isLeaf = (i: number): boolean => i >= 2; // corrupting d0/d1 would orphan their files too
  const fileCount = all.filter((x) => x.type === 'file').length;
  const dirCount = all.length - fileCount;
  const sumSizes = all.reduce((s, x) => s + (x.type === 'file' ? x.file.size : 0), 0);

  let img: string;
  let pristine: Uint8Array;
  beforeAll(async () => {
    img = sparseImage(path.join(dirs.make(), 'entries.img'), 64 * MiB);
    const m = await mkfsInProcess([img]);
    expect(m.status, m.stderr).toBe(0);
    const log = new Uint8Array(48 + all.length * 544);
    log.set(readAt(img, LOG, 48));
    all.forEach((x, i) => log.set(encodeLogEntry(x), 48 + i * 544));
    log.set(u64le(all.length), 32); // next_seqnum
    log.set(u64le(all.length), 40); // next_index
    pristine = log;
    writeAt(img, LOG, pristine);
  });

  it('the hand-made log is clean', async () => {
    const r = await famfs(['fsck', '--json', img]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect([j.files, j.directories, j.capacity.sumFileSizes]).toEqual([fileCount, dirCount, sumSizes]);
    expect(j.capacity.allocatedBytes).toBe((5 + fileCount) * AU);
  });

  /** Flip 1-3 distinct random bits in each of 1-4 random leaf entries; returns the bad indices. */
  function corrupt(seed: number): number[] {
    const rnd = seeded(`fsck: corrupt leaf entries ${seed}`);
    const log = pristine.slice();
    const bad = new Set<number>();
    const want = 1 + rnd.int(4);
    while (bad.size < want) {
      const i = rnd.int(all.length);
      if (isLeaf(i)) bad.add(i);
    }
    for (const i of bad) {
      const bits = new Set<number>();
      const nbits = 1 + rnd.int(3);
      while (bits.size < nbits) bits.add(rnd.int(544 * 8));
      for (const bit of bits) log[48 + i * 544 + (bit >> 3)]! ^= 1 << (bit & 7);
    }
    writeAt(img, LOG, log);
    return [...bad].sort((a, b) => a - b);
  }

  it('fsck names each bad entry on stderr, exits non-zero, and still counts the others (40 seeds)', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const bad = corrupt(seed);
      const r = await famfs(['fsck', '--json', img]);
      const ctx = `seed ${seed}, bad entries ${bad.join(',')}`;
      expect(r.status, ctx).not.toBe(0);
      const errLines = lines(r.stderr);
      expect(errLines, ctx).toHaveLength(bad.length);
      expect(r.stderr, ctx).not.toMatch(/^\s{4}at /m);
      const named = errLines.map((l) => Number(/\bentry (\d+)\b/.exec(l)?.[1]));
      expect(named, ctx).toEqual(bad);
      const j = JSON.parse(r.stdout);
      expect(j.badEntries.map((b: { index: number }) => b.index), ctx).toEqual(bad);
      const badFiles = bad.filter((i) => all[i]!.type === 'file');
      expect(j.files, ctx).toBe(fileCount - badFiles.length);
      expect(j.directories, ctx).toBe(dirCount - (bad.length - badFiles.length));
      expect(j.capacity.allocatedBytes, ctx).toBe((5 + fileCount - badFiles.length) * AU);
      expect(j.capacity.sumFileSizes, ctx).toBe(sumSizes - badFiles.reduce((s, i) => s + (all[i]!.type === 'file' ? (all[i] as { file: { size: number } }).file.size : 0), 0));
      expect(j.clean, ctx).toBe(false);
    }
    writeAt(img, LOG, pristine);
    expect((await famfs(['fsck', img])).status).toBe(0);
  });

  it('through the real binary: the report counts the bad entries', () => {
    const bad = corrupt(4242);
    const r = runBin('famfs', ['fsck', img], ENV);
    expect(r.status).not.toBe(0);
    expect(lines(r.stderr).map((l) => Number(/\bentry (\d+)\b/.exec(l)?.[1]))).toEqual(bad);
    expect(r.stdout).toContain(`  ${bad.length} bad log entries detected\n`);
    expect(r.stdout).toContain(`  ${all.length} of 15420 entries used\n`);
    writeAt(img, LOG, pristine);
  });
});

describe('fsck on allocation problems', () => {
  const AU = 2 * MiB;
  const file = (seqnum: number, relpath: string, offset: number, len: number): LogEntryRecord => ({
    seqnum, type: 'file',
    file: { size: len, flags: 2, uid: 0, gid: 0, mode: 0o644, relpath, fmap: { type: 'simple', extents: [{ devIndex: 0, offset, len }] } },
  });
  /** A formatted 64 MiB image with `list` appended to its log (entries and header by hand). */
  function imageWith(list: LogEntryRecord[]): string {
    const img = formattedImage('alloc.img', 64 * MiB);
    list.forEach((e, i) => writeAt(img, LOG + 48 + i * 544, encodeLogEntry(e)));
    writeAt(img, LOG + 32, u64le(list.length));
    writeAt(img, LOG + 40, u64le(list.length));
    return img;
  }

  it('cross-linked units: exit = number of collisions, upstream\'s ERROR line, no Capacity section', () => {
    // a: units 5-6; b: unit 6 (1 collision); c: units 5-6 (2 more)
    const img = imageWith([file(0, 'a', 10 * MiB, 2 * AU), file(1, 'b', 12 * MiB, AU), file(2, 'c', 10 * MiB, 2 * AU)]);
    const r = runBin('famfs', ['fsck', img], ENV);
    expect(r.status).toBe(3);
    expect(r.stdout).toContain('\nERROR: 3 ALLOCATION COLLISIONS FOUND\nFamfs log:\n');
    expect(r.stdout).not.toContain('Capacity:');
    expect(r.stdout).toContain('  3 files\n');
    expectOneLineError(r.stderr, /3 allocation collisions/);
  });

  it('a device smaller than its superblock records: non-zero, and stderr says why (regression: silent exit 1)', () => {
    const img = imageWith([file(0, 'a', 10 * MiB, AU)]);
    fs.truncateSync(img, 14 * MiB);
    const r = runBin('famfs', ['fsck', img], ENV);
    expect(r.status).not.toBe(0);
    expectOneLineError(r.stderr, /smaller than the 67108864 bytes its superblock records/);
  });
});

describe('fsck usage and paths', () => {
  it('`famfs fsck` with no device: usage error, exit 1', () => {
    const r = runBin('famfs', ['fsck'], ENV);
    expect(r.status).toBe(1);
    expectOneLineError(r.stderr, /device/);
  });

  it('a missing path (exit 2), a directory not in a famfs mount (1, as upstream), an empty file: non-zero, one line', () => {
    const d = dirs.make();
    const empty = path.join(d, 'empty');
    fs.writeFileSync(empty, '');
    const cases: Array<[string, number | undefined]> = [[path.join(d, 'absent'), 2], [d, 1], [empty, undefined]];
    for (const [p, status] of cases) {
      const r = runBin('famfs', ['fsck', p], ENV);
      if (status === undefined) expect(r.status, p).not.toBe(0);
      else expect(r.status, p).toBe(status);
      expectOneLineError(r.stderr);
    }
  });

  it('an unformatted image: exit 1, no famfs file system', () => {
    const img = sparseImage(path.join(dirs.make(), 'blank.img'), 16 * MiB);
    const r = runBin('famfs', ['fsck', img], ENV);
    expect(r.status).toBe(1);
    expectOneLineError(r.stderr, /no famfs file system/);
  });
});
