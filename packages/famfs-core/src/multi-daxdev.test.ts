/**
 * A file system on several devices (upstream's multi-daxdev roadmap, as
 * famfs-ts builds it; docs/on-media-format.md): the secondary superblock,
 * ADD_DAXDEV replay and its refusals, where the allocator puts files, data
 * through maps that span devices, `.meta/.superblock.N`, finding a device on
 * this host, and fsck's per-device figures.
 *
 * The primary and its secondaries are sparse image files in a temporary
 * directory; FAMFS_STATE_DIR points the daxdev map into it too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Device, MemoryDevice } from './device.js';
import { FamfsError } from './errors.js';
import { Famfs } from './famfs.js';
import { SUPERBLOCK_SIZE, SbFlag } from './format/constants.js';
import { checkSecondarySuperblock, checkSuperblock, encodeSuperblock } from './format/superblock.js';
import { fsck } from './fsck.js';
import { mkfs } from './mkfs.js';
import { appendLogEntry } from './log/writer.js';
import { MAX_DAXDEVS } from './log/replay.js';
import { readGeometry } from './superblock-io.js';
import { daxdevMapFile, readDaxdevMap, resolveDaxdev, stateDir } from './daxdevs.js';
import { extentsOf } from './log/replay.js';
import { thrown } from '../../../test/thrown.js';
import { seeded } from '../../../test/random.js';
import { formattedImage, sparseImage } from '../../../test/helpers.js';

const MiB = 1024 * 1024;
const MASTER = '11111111-2222-4333-8444-555555555555';
const CLIENT = '99999999-8888-4777-8666-555555555555';

const top = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-multi-core-'));
afterAll(() => fs.rmSync(top, { recursive: true, force: true }));

let dir: string;
let savedState: string | undefined;
const open: Famfs[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(top, 't-'));
  savedState = process.env.FAMFS_STATE_DIR;
  process.env.FAMFS_STATE_DIR = path.join(dir, 'state');
});

afterEach(() => {
  for (const f of open.splice(0)) f.close();
  if (savedState === undefined) delete process.env.FAMFS_STATE_DIR;
  else process.env.FAMFS_STATE_DIR = savedState;
});

function image(name: string, size: number): string {
  return sparseImage(path.join(dir, name), size);
}

/** mkfs a primary of `primarySize` bytes, add secondaries of the given sizes; the master's view. */
function multi(primarySize: number, secondarySizes: number[], systemUuid = MASTER): { f: Famfs; paths: string[] } {
  const primary = path.join(dir, 'primary.img');
  formattedImage(primary, primarySize, systemUuid).close();
  const f = Famfs.open(primary, { writable: true, systemUuid });
  open.push(f);
  const paths = [primary];
  secondarySizes.forEach((s, i) => {
    const p = image(`secondary${i + 1}.img`, s);
    f.addDaxdev(p);
    paths.push(p);
  });
  return { f, paths };
}

function reopen(p: string, systemUuid = MASTER, extra: Partial<Parameters<typeof Famfs.open>[1]> = {}): Famfs {
  const f = Famfs.open(p, { writable: true, systemUuid, ...extra });
  open.push(f);
  return f;
}

const famfsError = (fn: () => unknown): FamfsError => thrown(fn, FamfsError);

function readHead(p: string): Uint8Array {
  const fd = fs.openSync(p, 'r');
  try {
    const b = new Uint8Array(SUPERBLOCK_SIZE);
    fs.readSync(fd, b, 0, b.length, 0);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

describe('the secondary superblock devadd writes', () => {
  it('is the primary struct with the SECONDARY flag, no log, the file system UUID and the primary device UUID', () => {
    const { f, paths } = multi(256 * MiB, [64 * MiB]);
    const head = readHead(paths[1]!);
    const st = checkSecondarySuperblock(head, 64 * MiB);
    expect(st.ok).toBe(true);
    if (!st.ok) return;
    expect(st.sb.flags).toBe(SbFlag.SECONDARY);
    expect(st.sb.logOffset).toBe(0);
    expect(st.sb.logLen).toBe(0);
    expect(st.sb.uuid).toBe(f.sb.uuid);
    expect(st.sb.systemUuid).toBe(f.sb.systemUuid);
    expect(st.sb.daxdev.uuid).toBe(f.sb.devUuid);
    expect(st.sb.daxdev.size).toBe(64 * MiB);
    expect(st.sb.allocUnit).toBe(f.sb.allocUnit);
    expect(st.sb.devUuid).toBe(f.daxdevTable()[1]!.uuid);
    // the rest of the 2 MiB region is zero
    expect(head.subarray(200).every((b) => b === 0)).toBe(true);
  });

  it('is not a primary: checkSuperblock says so with a one-line reason, and opening it as a file system fails', () => {
    const { paths } = multi(256 * MiB, [64 * MiB]);
    const st = checkSuperblock(readHead(paths[1]!), 64 * MiB);
    expect(st.ok).toBe(false);
    if (st.ok) return;
    expect(st.reason).toBe('secondary');
    expect(st.message).toMatch(/^a secondary device of famfs file system [0-9a-f-]{36} .*use the primary device or the mount point$/);
    const e = famfsError(() => Famfs.open(paths[1]!, { writable: false, systemUuid: MASTER }));
    expect(e.message).toContain('a secondary device of famfs file system');
  });

  it('a primary is not a secondary, and a secondary with a log, a zero size or a size past its device is refused', () => {
    const { paths } = multi(256 * MiB, [64 * MiB]);
    expect(checkSecondarySuperblock(readHead(paths[0]!), 256 * MiB)).toMatchObject({ ok: false, reason: 'bad-geometry', message: expect.stringContaining('a primary superblock') });
    const st = checkSecondarySuperblock(readHead(paths[1]!));
    if (!st.ok) throw new Error(st.message);
    const base = { ...st.sb, flags: SbFlag.SECONDARY };
    // a log makes it a (broken) primary, not a secondary
    expect(checkSecondarySuperblock(encodeSuperblock({ ...base, logOffset: 2 * MiB, logLen: 8 * MiB }), 64 * MiB).ok).toBe(false);
    expect(checkSecondarySuperblock(encodeSuperblock({ ...base, daxdev: { ...base.daxdev, size: 0 } }), 64 * MiB)).toMatchObject({ ok: false, message: expect.stringContaining('device size 0 is invalid') });
    expect(checkSecondarySuperblock(encodeSuperblock(base), 32 * MiB)).toMatchObject({ ok: false, message: 'secondary superblock says 67108864 bytes, the device has 33554432' });
  });
});

describe('devadd', () => {
  it('logs ADD_DAXDEV with the next index, the device UUID and size; a reopen finds the devices through this host\'s map', () => {
    const { f, paths } = multi(256 * MiB, [64 * MiB, 128 * MiB]);
    const t = f.daxdevTable();
    expect(t.map((d) => [d.index, d.size, d.path])).toEqual([[0, 256 * MiB, paths[0]], [1, 64 * MiB, paths[1]], [2, 128 * MiB, paths[2]]]);
    expect(new Set(t.map((d) => d.uuid)).size).toBe(3);
    const map = readDaxdevMap(f.sb.uuid);
    expect(map.map((r) => [r.devUuid, r.path]).sort()).toEqual([[t[1]!.uuid, paths[1]], [t[2]!.uuid, paths[2]]].sort());
    expect(daxdevMapFile(f.sb.uuid).startsWith(stateDir())).toBe(true);
    const g = reopen(paths[0]!);
    expect(g.daxdevTable()).toEqual(t);
    expect(g.metaNames()).toEqual(['.superblock', '.log', '.superblock.1', '.superblock.2']);
  });

  it('refuses the primary again, a member again, a famfs device without -f, a device too small, and a client', () => {
    const { f, paths } = multi(256 * MiB, [64 * MiB]);
    expect(famfsError(() => f.addDaxdev(paths[0]!)).message).toMatch(/is already a device of this file system/);
    expect(famfsError(() => f.addDaxdev(paths[1]!)).message).toMatch(/is already (a device of this file system|daxdev 1 of this file system)/);
    const link = path.join(dir, 'alias.img');
    fs.symlinkSync(paths[1]!, link);
    expect(famfsError(() => f.addDaxdev(link)).code).toBe('EEXIST');
    // another file system's primary
    const other = path.join(dir, 'other.img');
    formattedImage(other, 64 * MiB, MASTER).close();
    const before = readHead(other);
    expect(famfsError(() => f.addDaxdev(other)).message).toBe(`devadd: ${other} holds a primary famfs superblock; use -f to overwrite`);
    expect(Buffer.from(readHead(other)).equals(Buffer.from(before))).toBe(true);
    expect(f.daxdevTable()).toHaveLength(2);
    const tiny = image('tiny.img', 3 * MiB);
    expect(famfsError(() => f.addDaxdev(tiny)).code).toBe('ENOSPC');
    const client = reopen(paths[0]!, CLIENT);
    const spare = image('spare.img', 64 * MiB);
    expect(famfsError(() => client.addDaxdev(spare)).code).toBe('EPERM');
    // -f overwrites the other file system's superblock
    expect(f.addDaxdev(other, { force: true }).index).toBe(2);
    expect(fsck(f.dev, MASTER).errors).toEqual([]);
  });

  it('takes a device whose secondary superblock of this file system was written by an add that was interrupted before its log entry', () => {
    const { f, paths } = multi(256 * MiB, [64 * MiB]);
    // an add that wrote the superblock and stopped: copy daxdev 1's superblock with another device UUID
    const st = checkSecondarySuperblock(readHead(paths[1]!));
    if (!st.ok) throw new Error(st.message);
    const half = image('half.img', 64 * MiB);
    const fd = fs.openSync(half, 'r+');
    fs.writeSync(fd, encodeSuperblock({ ...st.sb, devUuid: 'abcdefab-cdef-4bcd-8fab-cdefabcdefab' }), 0, undefined, 0);
    fs.closeSync(fd);
    expect(f.addDaxdev(half).index).toBe(2);
  });

  it('a client replays the master\'s devadd and opens the new device without reopening', () => {
    const { f, paths } = multi(256 * MiB, []);
    const client = reopen(paths[0]!, CLIENT);
    expect(client.daxdevTable()).toHaveLength(1);
    const p = image('late.img', 64 * MiB);
    f.addDaxdev(p);
    const file = f.createFile('on-late', 5 * MiB, { device: 1 }).file;
    const bytes = seeded('late device').bytes(5 * MiB);
    f.writeAt(file, 0, bytes);
    client.refresh();
    expect(client.daxdevTable()[1]).toMatchObject({ index: 1, path: p });
    expect(Buffer.from(client.read(client.statFile('on-late'))).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('a device this host does not find', () => {
  it('is listed with the reason; only I/O to it fails (ENODEV), files elsewhere read; a candidate path or a refresh finds it', () => {
    const { f, paths } = multi(256 * MiB, [64 * MiB]);
    const onPrimary = f.createFile('p', 3 * MiB, { device: 0 }).file;
    const onSecondary = f.createFile('s', 3 * MiB, { device: 1 }).file;
    f.writeAt(onPrimary, 0, new Uint8Array(3 * MiB).fill(7));
    f.writeAt(onSecondary, 0, new Uint8Array(3 * MiB).fill(9));
    // another host: its own (empty) state dir; the device is somewhere else
    process.env.FAMFS_STATE_DIR = path.join(dir, 'other-host');
    const moved = path.join(dir, 'moved');
    fs.mkdirSync(moved);
    const there = path.join(moved, 'dev1');
    fs.renameSync(paths[1]!, there);
    const g = reopen(paths[0]!);
    const t = g.daxdevTable();
    expect(t[1]!.path).toBeUndefined();
    expect(t[1]!.problem).toMatch(/^daxdev 1 \([0-9a-f-]{36}\) is not found on this host: `famfs daxdev refresh` with its path$/);
    expect(g.read(g.statFile('p'))[0]).toBe(7);
    const e = famfsError(() => g.read(g.statFile('s')));
    expect(e.code).toBe('ENODEV');
    expect(e.message).toContain('daxdev 1');
    // the allocator does not choose it
    for (let i = 0; i < 4; i++) expect(extentsOf(g.createFile(`n${i}`, 2 * MiB).file.fmap)[0]!.devIndex).toBe(0);
    expect(famfsError(() => g.createFile('forced', 2 * MiB, { device: 1 })).code).toBe('ENODEV');
    // refresh with the path: found, recorded, read
    expect(resolveDaxdev(g.sb.uuid, t[1]!.uuid, [there]).path).toBe(there);
    g.retryDaxdevs();
    expect(g.daxdevTable()[1]!.path).toBe(there);
    expect(g.read(g.statFile('s'))[0]).toBe(9);
    expect(readDaxdevMap(g.sb.uuid).map((r) => r.path)).toEqual([there]);
    // the candidates option finds it too
    process.env.FAMFS_STATE_DIR = path.join(dir, 'third-host');
    expect(reopen(paths[0]!, MASTER, { daxdevCandidates: [there] }).daxdevTable()[1]!.path).toBe(there);
  });

  it('a map that names the wrong device, a device of another file system, or garbage is not trusted', () => {
    const { f, paths } = multi(256 * MiB, [64 * MiB, 64 * MiB]);
    const [, d1, d2] = f.daxdevTable();
    const file = daxdevMapFile(f.sb.uuid);
    // swap the two paths in the map: each check fails, the scan of candidates fixes it
    fs.writeFileSync(file, JSON.stringify([{ devUuid: d1!.uuid, path: paths[2] }, { devUuid: d2!.uuid, path: paths[1] }]));
    expect(resolveDaxdev(f.sb.uuid, d1!.uuid).path).toBeUndefined();
    expect(resolveDaxdev(f.sb.uuid, d1!.uuid, [paths[2]!, paths[1]!]).path).toBe(paths[1]);
    for (const junk of ['{', '[1,2,3]', JSON.stringify([{ devUuid: d1!.uuid, path: 'relative' }]), 'x'.repeat(2 * MiB)]) {
      fs.writeFileSync(file, junk);
      expect(readDaxdevMap(f.sb.uuid).every((r) => r.path.startsWith('/'))).toBe(true);
    }
    fs.rmSync(file);
    fs.symlinkSync('/etc/passwd', file);
    expect(readDaxdevMap(f.sb.uuid)).toEqual([]);
    expect(() => daxdevMapFile('../../etc')).toThrow(FamfsError);
  });
});

describe('where files go', () => {
  it('a simple file goes to the emptiest device; --daxdev puts it on the one asked for', () => {
    const { f } = multi(256 * MiB, [128 * MiB, 512 * MiB]);
    const dev = (n: string, size: number, device?: number): number => extentsOf(f.createFile(n, size, { device }).file.fmap)[0]!.devIndex;
    expect(dev('a', 64 * MiB)).toBe(2); // 510 MiB free beats 246 and 126
    expect(dev('b', 400 * MiB)).toBe(2); // still the emptiest (446 MiB)
    expect(dev('c', 8 * MiB)).toBe(0); // now the primary (246) beats 126 and 46
    expect(dev('d', 8 * MiB, 1)).toBe(1);
    expect(famfsError(() => f.createFile('e', 8 * MiB, { device: 3 })).message).toBe('no daxdev 3 in this file system (0..2)');
    expect(famfsError(() => f.createFile('e', 200 * MiB, { device: 1 })).code).toBe('ENOSPC');
    // a file larger than any one device's free space: out of space, nothing claimed
    const free = f.bitmaps.map((b) => b.freeBytes);
    expect(famfsError(() => f.createFile('huge', 300 * MiB)).code).toBe('ENOSPC');
    expect(f.bitmaps.map((b) => b.freeBytes)).toEqual(free);
  });

  it('an interleaved file puts its strips on distinct devices when there are enough, else round robin; every byte lands where the map says', () => {
    const { f, paths } = multi(256 * MiB, [256 * MiB, 256 * MiB]);
    const three = f.createFile('three', 48 * MiB, { interleave: { nstrips: 3, chunkSize: 2 * MiB } }).file;
    const strips = three.fmap.type === 'interleave' ? three.fmap.extents[0]!.strips : [];
    expect(new Set(strips.map((s) => s.devIndex))).toEqual(new Set([0, 1, 2]));
    const five = f.createFile('five', 40 * MiB, { interleave: { nstrips: 5, chunkSize: 2 * MiB } }).file;
    const s5 = five.fmap.type === 'interleave' ? five.fmap.extents[0]!.strips : [];
    const count = [0, 1, 2].map((d) => s5.filter((s) => s.devIndex === d).length).sort();
    expect(count).toEqual([1, 2, 2]);
    expect(famfsError(() => f.createFile('x', 8 * MiB, { interleave: { nstrips: 2 }, device: 1 })).code).toBe('EINVAL');
    // data: write through the map, read back through the devices' own bytes
    const bytes = seeded('three devices').bytes(three.size);
    f.writeAt(three, 0, bytes);
    const fds = paths.map((p) => fs.openSync(p, 'r'));
    try {
      const chunk = 2 * MiB;
      for (let c = 0; c < three.size / chunk; c++) {
        const strip = strips[c % 3]!;
        const at = strip.offset + Math.floor(c / 3) * chunk;
        const got = Buffer.alloc(chunk);
        fs.readSync(fds[strip.devIndex]!, got, 0, chunk, at);
        expect(got.equals(Buffer.from(bytes.subarray(c * chunk, (c + 1) * chunk)))).toBe(true);
      }
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
    const g = reopen(paths[0]!, CLIENT);
    expect(Buffer.from(g.read(g.statFile('three'))).equals(Buffer.from(bytes))).toBe(true);
    const rep = fsck(f.dev, MASTER);
    expect(rep.errors).toEqual([]);
    expect(rep.daxdevs.map((d) => d.path)).toEqual(paths);
    expect(rep.capacity.deviceCapacity).toBe(768 * MiB);
    expect(rep.capacity.allocatedBytes).toBe(rep.daxdevs.reduce((n, d) => n + d.allocatedBytes, 0));
    // each secondary: its superblock (2 MiB) and the strips on it
    for (const d of [1, 2]) {
      const onIt = [...strips, ...s5].filter((s) => s.devIndex === d).reduce((n, s) => n + s.len, 0);
      expect(rep.daxdevs[d]!.allocatedBytes).toBe(2 * MiB + onIt);
    }
  });
});

describe('.meta/.superblock.N', () => {
  it('is daxdev N\'s superblock region: 2 MiB on device N at offset 0, read-only; absent indices are ENOENT', () => {
    const { f, paths } = multi(256 * MiB, [64 * MiB]);
    const m = f.fileAt('.meta/.superblock.1');
    expect(m).toMatchObject({ size: SUPERBLOCK_SIZE, mode: 0o444, fmap: { type: 'simple', extents: [{ devIndex: 1, offset: 0, len: SUPERBLOCK_SIZE }] } });
    expect(Buffer.from(f.read(m)).equals(Buffer.from(readHead(paths[1]!)))).toBe(true);
    for (const bad of ['.meta/.superblock.2', '.meta/.superblock.0', '.meta/.superblock.01', '.meta/.superblock.1x']) {
      expect(famfsError(() => f.fileAt(bad)).code).toBe('ENOENT');
    }
  });
});

// ---------------------------------------------------------------- replay rules, on memory devices

/** A primary on a MemoryDevice and secondaries the test hands out through openDaxdev. */
function memoryFs(): { dev: MemoryDevice; f: () => Famfs; secondaries: Map<string, Device>; addEntry: (index: number, uuid: string, size: number) => void } {
  const dev = MemoryDevice.ofSize(64 * MiB, '/dev/mem-primary');
  mkfs(dev, { systemUuid: MASTER });
  const secondaries = new Map<string, Device>();
  const geo = readGeometry(dev);
  return {
    dev,
    secondaries,
    f: () => Famfs.fromDevice(dev, {
      systemUuid: MASTER,
      openDaxdev: (rec) => {
        const d = secondaries.get(rec.uuid);
        if (d === undefined) throw new FamfsError('ENODEV', 'daxdev', `no memory device ${rec.uuid}`);
        return d;
      },
    }),
    addEntry: (index, uuid, size) => {
      appendLogEntry(dev, geo.log, { type: 'daxdev', daxdev: { index, uuid, size } });
    },
  };
}

const U = (n: number): string => `0000000${n}-0000-4000-8000-000000000000`.slice(-36);

describe('ADD_DAXDEV replay (upstream\'s accumulator rules)', () => {
  it('indices are dense and in order, a UUID is never listed twice, a device holds its superblock and one unit; each refusal is an fsck error naming the entry', () => {
    const m = memoryFs();
    m.addEntry(1, U(1), 16 * MiB);
    m.addEntry(3, U(3), 16 * MiB); // not the next index
    m.addEntry(2, U(1), 16 * MiB); // UUID of daxdev 1 again
    m.addEntry(2, m.f().sb.devUuid, 16 * MiB); // the primary's UUID
    m.addEntry(2, U(2), 2 * MiB); // no room past the superblock
    m.addEntry(2, U(2), 16 * MiB); // fine: index 2
    m.secondaries.set(U(1), MemoryDevice.ofSize(16 * MiB, '/dev/mem1'));
    m.secondaries.set(U(2), MemoryDevice.ofSize(16 * MiB, '/dev/mem2'));
    const f = m.f();
    expect(f.daxdevTable().map((d) => [d.index, d.uuid])).toEqual([[0, f.sb.devUuid], [1, U(1)], [2, U(2)]]);
    expect(f.problems.map((p) => [p.index, p.fault])).toEqual([[1, 'bad-daxdev'], [2, 'bad-daxdev'], [3, 'bad-daxdev'], [4, 'bad-daxdev']]);
    expect(f.problems.map((p) => p.message)).toEqual([
      `entry 1: daxdev 3 (${U(3)}): index is not the next one (2)`,
      `entry 2: daxdev 2 (${U(1)}): the UUID of daxdev 1 again`,
      `entry 3: daxdev 2 (${f.sb.devUuid}): the UUID of daxdev 0 again`,
      `entry 4: daxdev 2 (${U(2)}): size 2097152 cannot hold a secondary superblock and one allocation unit`,
    ]);
    f.close();
  });

  it(`holds at most ${MAX_DAXDEVS} devices`, () => {
    const m = memoryFs();
    for (let i = 1; i <= MAX_DAXDEVS; i++) m.addEntry(i, `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`, 4 * MiB);
    const f = m.f();
    expect(f.daxdevTable()).toHaveLength(MAX_DAXDEVS);
    expect(f.problems.map((p) => p.message)).toEqual([`entry ${MAX_DAXDEVS - 1}: daxdev ${MAX_DAXDEVS} (000000${MAX_DAXDEVS.toString(16)}-0000-4000-8000-000000000000): the table is full (${MAX_DAXDEVS} devices)`]);
    // none was found here: every one carries its reason, the file system still works on the primary
    expect(f.daxdevTable().slice(1).every((d) => d.problem === `daxdev ${d.index} (${d.uuid}): no memory device ${d.uuid}`)).toBe(true);
    expect(extentsOf(f.createFile('x', 3 * MiB).file.fmap)[0]!.devIndex).toBe(0);
    f.close();
  });

  it('an extent on a device the log does not list, over a secondary\'s superblock, or past its end is a bad entry', () => {
    const m = memoryFs();
    m.addEntry(1, U(1), 16 * MiB);
    m.secondaries.set(U(1), MemoryDevice.ofSize(16 * MiB, '/dev/mem1'));
    const geo = readGeometry(m.dev);
    const file = (name: string, devIndex: number, offset: number, len: number): void => {
      appendLogEntry(m.dev, geo.log, {
        type: 'file',
        file: { size: len, flags: 0, uid: 0, gid: 0, mode: 0o644, relpath: name, fmap: { type: 'simple', extents: [{ devIndex, offset, len }] } },
      });
    };
    file('ok', 1, 2 * MiB, 2 * MiB);
    file('nodev', 2, 2 * MiB, 2 * MiB);
    file('oversb', 1, 0x200000 - 0x200000, 2 * MiB);
    file('oversb2', 1, 0, 4 * MiB);
    file('past', 1, 14 * MiB, 4 * MiB);
    file('cross', 1, 2 * MiB, 2 * MiB); // collides with 'ok'
    const f = m.f();
    expect(f.statFile('ok').fmap).toEqual({ type: 'simple', extents: [{ devIndex: 1, offset: 2 * MiB, len: 2 * MiB }] });
    const msgs = f.problems.map((p) => p.message);
    expect(msgs).toHaveLength(4);
    expect(msgs[0]).toContain('is on daxdev 2, which this file system does not have (0..1)');
    expect(msgs[1]).toContain('at device offset 0');
    expect(msgs[2]).toContain('at device offset 0');
    expect(msgs[3]).toContain('lies past the end of daxdev 1 (0x1000000)');
    const rep = fsck(m.dev, MASTER, { readSecondary: () => ({ path: '/dev/mem1', bytes: new Uint8Array(SUPERBLOCK_SIZE) }) });
    expect(rep.collisions).toBe(1);
    expect(rep.daxdevs[1]!.collisions).toBe(1);
    expect(rep.daxdevs[1]!.problem).toBe('/dev/mem1: no famfs superblock');
    f.close();
  });
});

describe('fsck of a multi-device file system', () => {
  it('checks each secondary\'s superblock against the log: found, of this file system, its device UUID, its primary', () => {
    const { f, paths } = multi(256 * MiB, [64 * MiB, 64 * MiB]);
    expect(fsck(f.dev, MASTER).errors).toEqual([]);
    // daxdev 2's device now holds daxdev 1's superblock
    const one = readHead(paths[1]!);
    const fd = fs.openSync(paths[2]!, 'r+');
    fs.writeSync(fd, one.subarray(0, 200), 0, 200, 0);
    fs.closeSync(fd);
    const [, d1, d2] = f.daxdevTable();
    // this host's map still names the path; the check reads what is there
    const rep = fsck(f.dev, MASTER);
    expect(rep.errors).toHaveLength(1);
    expect(rep.errors[0]).toMatch(new RegExp(`^daxdev 2 \\(${d2!.uuid}\\): `));
    expect(rep.errors[0]).toContain(d1!.uuid);
    expect(rep.daxdevs[2]!.path).toBeUndefined();
    // on another host the device is simply not found
    process.env.FAMFS_STATE_DIR = path.join(dir, 'elsewhere');
    expect(fsck(f.dev, MASTER).errors.every((e) => /not found on this host/.test(e))).toBe(true);
  });
});
