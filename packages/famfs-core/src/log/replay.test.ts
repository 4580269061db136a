/**
 * The check-only replay (fileNodes: false: what fsck and logplay's counts
 * use, no object per file) against the full replay, on seeded random logs
 * full of what a replay must get right: duplicate paths, a directory and a
 * file of the same path either way round, missing parents, bad paths
 * (absolute, empty / '.' / '..' components, non-ASCII, not UTF-8, no NUL),
 * bad, colliding and interleaved extents, DAXDEV and DELETE entries, bad
 * CRCs, wrong seqnums, structural garbage behind a good CRC. Every count,
 * every problem (and its message), every bitmap unit and every directory
 * must be the same; the batch CRC check must find exactly the entries the
 * decoder calls bad-crc.
 */
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../device.js';
import { FileMetaLayout as FileMeta, LogEntryLayout as LE, LogHeaderLayout as LH, MkdirLayout as MkdirMeta } from '../format/constants.js';
import { crc32 } from '../format/crc32.js';
import { type FmapRecord, type LogEntryBody, decodeLogEntry, encodeLogEntry, logEntryOffset } from '../format/log.js';
import { mkfs } from '../mkfs.js';
import { readGeometry } from '../superblock-io.js';
import { type Rng, seeded } from '../../../../test/random.js';
import { badCrcEntries, badCrcEntriesJs } from './entry-crc.js';
import { LogReplayer } from './replay.js';

const MiB = 1024 * 1024;
const MASTER = '11111111-2222-4333-8444-555555555555';
const LOG = 2 * MiB;
const DEV_SIZE = 128 * MiB;
const FIRST_DATA = LOG + 8 * MiB;
const UNITS = (DEV_SIZE - FIRST_DATA) / (2 * MiB);

const NAMES = ['a', 'b', 'c', 'dir', 'é', '日本', 'x.y', '...', '.', '..', '.a', 'a..', 'z'.repeat(30), 'd1', 'd2', 'f', 'g', 'h'];

function randomPath(R: Rng): string {
  const parts = Array.from({ length: 1 + R.int(3) }, () => R.pick(NAMES));
  let p = parts.join('/');
  switch (R.int(20)) {
    case 0:
      p = `/${p}`;
      break;
    case 1:
      p = `${p}/`;
      break;
    case 2:
      p = p.replace('/', '//');
      break;
    case 3:
      p = '';
      break;
    default:
  }
  return Buffer.byteLength(p) > 79 ? p.slice(0, 40) : p;
}

function randomFmap(R: Rng): { fmap: FmapRecord; size: number } {
  const extent = () => {
    let offset = FIRST_DATA + R.int(R.int(20) === 0 ? UNITS + 2 : UNITS - 1) * 2 * MiB;
    let len = (1 + R.int(2)) * 2 * MiB;
    let devIndex = 0;
    switch (R.int(60)) {
      case 0:
        offset = 0;
        break;
      case 1:
        offset += 4096;
        break;
      case 2:
        devIndex = 1;
        break;
      case 3:
        len = 0;
        break;
      case 4:
        offset = LOG;
        break;
      default:
    }
    return { devIndex, offset, len };
  };
  if (R.int(8) === 0) {
    const nstrips = 1 + R.int(3);
    const chunkSize = R.pick([2 * MiB, 4 * MiB, 3 * MiB]);
    const stripLen = chunkSize * (1 + R.int(2));
    const strips = Array.from({ length: nstrips }, () => ({ ...extent(), len: R.int(12) === 0 ? 2 * MiB : stripLen }));
    const cap = nstrips * stripLen;
    return { fmap: { type: 'interleave', extents: [{ nstrips, chunkSize, strips }] }, size: R.int(cap + 2 * MiB) };
  }
  const extents = Array.from({ length: R.int(4) }, extent);
  const cap = extents.reduce((n, x) => n + x.len, 0);
  return { fmap: { type: 'simple', extents }, size: R.int(10) === 0 ? 0 : R.int(5) === 0 ? R.int(cap + MiB) : R.int(cap + 1) };
}

function randomBody(R: Rng, dirs: string[], files: string[], daxdevs: number): LogEntryBody {
  const k = R.int(100);
  // reuse a path that exists (a duplicate, or a file/directory of the same path) or nest under a directory
  const path = (): string => {
    const c = R.int(10);
    if (c < 2 && files.length > 0) return R.pick(files);
    if (c < 4 && dirs.length > 0) return R.pick(dirs);
    if (c < 8 && dirs.length > 0) {
      const p = `${R.pick(dirs)}/${R.pick(NAMES)}`;
      return Buffer.byteLength(p) > 79 ? R.pick(NAMES) : p;
    }
    return randomPath(R);
  };
  if (k < 30) {
    const relpath = path();
    dirs.push(relpath);
    return { type: 'mkdir', mkdir: { relpath, mode: R.int(0o10000), uid: R.int(3), gid: R.int(3) } };
  }
  if (k < 33) return { type: 'daxdev', daxdev: { index: R.int(3) === 0 ? daxdevs + 5 : daxdevs + 1, uuid: MASTER, size: 4 * MiB } };
  const relpath = path();
  files.push(relpath);
  const { fmap, size } = randomFmap(R);
  return { type: 'file', file: { relpath, size, flags: R.int(4), mode: R.int(0o10000), uid: R.int(3), gid: R.int(3), fmap } };
}

/** Damage entry bytes `e` (544, CRC good) in one of the ways a bad log shows. */
function damage(R: Rng, e: Uint8Array): void {
  const dv = new DataView(e.buffer, e.byteOffset, e.byteLength);
  const recrc = () => dv.setBigUint64(LE.CRC, BigInt(crc32(e.subarray(0, LE.CRC))), true);
  const type = dv.getUint32(LE.TYPE, true);
  const pathAt = LE.BODY + (type === 1 ? MkdirMeta.RELPATH : FileMeta.FM_RELPATH);
  switch (R.int(9)) {
    case 0: // a bit flip: bad CRC
      e[R.int(LE.CRC)]! ^= 1 << R.int(8);
      break;
    case 1: // the stored CRC's high word
      dv.setUint32(LE.CRC + 4, 1, true);
      break;
    case 2: // wrong seqnum, CRC good
      dv.setUint32(0, dv.getUint32(0, true) + 1, true);
      recrc();
      break;
    case 3: // a path that is not UTF-8
      e[pathAt] = 0xff;
      recrc();
      break;
    case 4: // no NUL in the path field
      e.fill(0x61, pathAt, pathAt + 80);
      recrc();
      break;
    case 5: // DELETE, or an unknown type
      dv.setUint32(LE.TYPE, R.pick([2, 4, 0xffffffff]), true);
      recrc();
      break;
    case 6: // extent count or type out of range
      dv.setUint32(LE.BODY + FileMeta.FM_FMAP + R.pick([0, 8]), R.pick([2, 17, 0xffffffff]), true);
      recrc();
      break;
    case 7: // a u64 past 2^53 (size, an extent field)
      dv.setUint32(LE.BODY + R.pick([0, FileMeta.FM_FMAP + 16, FileMeta.FM_FMAP + 24, FileMeta.FM_FMAP + 32]) + 4, 0xffffffff, true);
      recrc();
      break;
    default: // random bytes behind a good CRC
      for (let k = 0; k < 4; k++) e[R.int(LE.CRC)] = R.next() & 0xff;
      recrc();
  }
}

/** A device with `n` random entries; `badRate` of them damaged. */
function randomLog(R: Rng, n: number, badRate: number): MemoryDevice {
  const dev = MemoryDevice.ofSize(DEV_SIZE);
  mkfs(dev, { systemUuid: MASTER });
  const dirs: string[] = [];
  const files: string[] = [];
  let daxdevs = 0;
  for (let i = 0; i < n; i++) {
    const body = randomBody(R, dirs, files, daxdevs);
    if (body.type === 'daxdev') daxdevs++;
    const e = encodeLogEntry({ ...body, seqnum: i });
    if (R.float() < badRate) damage(R, e);
    dev.bytes.set(e, LOG + logEntryOffset(i));
  }
  setNext(dev, n);
  return dev;
}

function setNext(dev: MemoryDevice, n: number): void {
  const dv = new DataView(dev.bytes.buffer, dev.bytes.byteOffset + LOG);
  dv.setBigUint64(LH.NEXT_SEQNUM, BigInt(n), true);
  dv.setBigUint64(LH.NEXT_INDEX, BigInt(n), true);
}

/** Everything a replay ends with, as plain data. */
function outcome(rp: LogReplayer) {
  const bm = rp.bitmap;
  const units: number[] = [];
  for (let u = 0; u < bm.nunits; u++) units.push(bm.allocatedUnitsIn(u, u + 1));
  const dirs: unknown[] = [];
  for (const n of rp.namespace.walk()) if (n.kind === 'dir') dirs.push({ relpath: n.relpath, mode: n.mode, uid: n.uid, gid: n.gid, index: n.index });
  return {
    cursor: rp.cursor,
    problems: rp.problems,
    fileEntries: rp.fileEntries,
    dirEntries: rp.dirEntries,
    sumFileSizes: rp.sumFileSizes,
    files: rp.namespace.files,
    dirs: rp.namespace.dirs,
    allocated: bm.allocatedUnits,
    collisions: bm.collisionUnits,
    units,
    dirNodes: dirs,
    daxdevs: rp.daxdevs,
  };
}

describe('check-only replay (fileNodes: false) against the full replay', () => {
  const R = seeded('replay.test');

  it('same counts, problems, bitmap and directories on 200 random logs (with and without damage)', () => {
    let fast = 0;
    let entries = 0;
    for (let round = 0; round < 200; round++) {
      const dev = randomLog(R, 20 + R.int(300), round % 4 === 0 ? 0 : R.float() * 0.3);
      const geo = readGeometry(dev);
      const full = new LogReplayer(geo.sb, dev.size);
      const check = new LogReplayer(geo.sb, dev.size, { fileNodes: false });
      expect(check.checkOnly).toBe(true);
      expect(full.checkOnly).toBe(false);
      const a = full.replay(geo.log, dev);
      const b = check.replay(geo.log, dev);
      expect(b).toEqual(a);
      expect(outcome(check)).toEqual(outcome(full));
      // the check-only namespace has no files
      for (const n of check.namespace.walk()) expect(n.kind).toBe('dir');
      fast += check.fastEntries;
      entries += a.entries;
    }
    // both ways through the check-only replay were taken, often
    expect(fast).toBeGreaterThan(entries / 25);
    expect(fast).toBeLessThan(entries * 0.7);
  });

  it('a second replay() reads only what was appended, in both modes alike', () => {
    for (let round = 0; round < 40; round++) {
      const dev = randomLog(R, 200, 0.1);
      const geo = readGeometry(dev);
      const full = new LogReplayer(geo.sb, dev.size);
      const check = new LogReplayer(geo.sb, dev.size, { fileNodes: false });
      const cut = R.int(200);
      setNext(dev, cut);
      expect(check.replay(geo.log, dev)).toEqual(full.replay(geo.log, dev));
      setNext(dev, 200);
      expect(check.replay(geo.log, dev)).toEqual(full.replay(geo.log, dev));
      expect(outcome(check)).toEqual(outcome(full));
    }
  });

  it('counts a file once per path: duplicates, a directory over a file and a file over a directory', () => {
    const dev = MemoryDevice.ofSize(DEV_SIZE);
    mkfs(dev, { systemUuid: MASTER });
    const ext = (k: number) => ({ type: 'simple' as const, extents: [{ devIndex: 0, offset: FIRST_DATA + k * 2 * MiB, len: 2 * MiB }] });
    const bodies: LogEntryBody[] = [
      { type: 'mkdir', mkdir: { relpath: 'd', mode: 0o755, uid: 0, gid: 0 } },
      { type: 'file', file: { relpath: 'd/f', size: 1, flags: 0, mode: 0o644, uid: 0, gid: 0, fmap: ext(0) } },
      { type: 'file', file: { relpath: 'd/f', size: 1, flags: 0, mode: 0o644, uid: 0, gid: 0, fmap: ext(1) } }, // duplicate
      { type: 'mkdir', mkdir: { relpath: 'd/f', mode: 0o755, uid: 0, gid: 0 } }, // a directory over a file: exists
      { type: 'file', file: { relpath: 'd/f/g', size: 1, flags: 0, mode: 0o644, uid: 0, gid: 0, fmap: ext(2) } }, // under a file: no parent
      { type: 'file', file: { relpath: 'd', size: 1, flags: 0, mode: 0o644, uid: 0, gid: 0, fmap: ext(3) } }, // a file over a directory
      { type: 'file', file: { relpath: 'é/x', size: 1, flags: 0, mode: 0o644, uid: 0, gid: 0, fmap: ext(4) } }, // no parent
      { type: 'mkdir', mkdir: { relpath: 'é', mode: 0o755, uid: 0, gid: 0 } },
      { type: 'file', file: { relpath: 'é/x', size: 1, flags: 0, mode: 0o644, uid: 0, gid: 0, fmap: ext(0) } }, // a collision
      { type: 'file', file: { relpath: 'top', size: 1, flags: 0, mode: 0o644, uid: 0, gid: 0, fmap: ext(5) } },
    ];
    bodies.forEach((b, i) => dev.bytes.set(encodeLogEntry({ ...b, seqnum: i }), LOG + logEntryOffset(i)));
    setNext(dev, bodies.length);
    const geo = readGeometry(dev);
    const full = new LogReplayer(geo.sb, dev.size);
    const check = new LogReplayer(geo.sb, dev.size, { fileNodes: false });
    const s = check.replay(geo.log, dev);
    expect(s).toEqual(full.replay(geo.log, dev));
    expect(s).toMatchObject({ files: 3, existed: 3, dirs: 2 });
    expect(s.problems.map((p) => p.fault)).toEqual(['no-parent', 'no-parent']);
    expect(check.namespace.files).toBe(3);
    expect(check.bitmap.collisionUnits).toBe(1);
    expect(outcome(check)).toEqual(outcome(full));
  });
});

describe('badCrcEntries', () => {
  const R = seeded('replay.test crc');

  it('finds exactly the entries the decoder calls bad-crc (native batch and JavaScript alike)', () => {
    for (let round = 0; round < 30; round++) {
      const n = 50 + R.int(400);
      const dev = randomLog(R, n, R.float() * 0.3);
      const { log } = readGeometry(dev);
      const want: number[] = [];
      for (let i = 0; i < n; i++) {
        const d = decodeLogEntry(log, logEntryOffset(i), i);
        if (!d.ok && d.fault === 'bad-crc') want.push(i);
      }
      const first = R.int(n);
      const end = first + R.int(n - first + 1);
      const inRange = want.filter((i) => i >= first && i < end);
      expect([...badCrcEntries(log, first, end)]).toEqual(inRange);
      expect(badCrcEntriesJs(log, first, end)).toEqual(inRange);
    }
  });
});
