/**
 * The log codec against the upstream fixture (header and 9 entries the C tools
 * wrote, and upstream's own YAML dump of each file), round trips, and every
 * way decodeLogEntry must refuse an entry.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from './codec.js';
import {
  type DecodedEntry, type FileEntryBody, type LogEntryRecord, checkLogHeader, decodeLogEntry, decodeLogHeader,
  encodeLogEntry, encodeLogHeader, logCountersProblem, logEntryOffset, newLogHeader,
} from './log.js';
import { fixtureHead, loadFixtureYaml } from '../../../../test/fixture.js';

const LOG = 2 * 1024 * 1024;
// read in beforeAll: a missing fixture fails these tests with one line, not the import
let log: Uint8Array = new Uint8Array(0);
beforeAll(() => {
  log = fixtureHead().subarray(LOG, LOG + 8 * 1024 * 1024);
});
const entryBytes = (i: number): Uint8Array => log.subarray(48 + i * 544, 48 + (i + 1) * 544);
const crcOf = (b: Uint8Array): number => zlib.crc32(b) >>> 0;

function mustDecode(d: DecodedEntry): LogEntryRecord {
  if (!d.ok) throw new Error(`expected a valid entry: ${d.message}`);
  return d.entry;
}

/** A fixture entry with `patch` applied; the CRC redone unless `recrc` is false. */
function patchedEntry(i: number, patch: (v: DataView, b: Uint8Array) => void, recrc = true): Uint8Array {
  const b = entryBytes(i).slice();
  const v = new DataView(b.buffer);
  patch(v, b);
  if (recrc) v.setBigUint64(536, BigInt(crcOf(b.subarray(0, 536))), true);
  return b;
}

// ---------------------------------------------------------------- upstream's YAML

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-yaml-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const yaml = loadFixtureYaml(tmp);

// ---------------------------------------------------------------- header

describe('log header of the fixture', () => {
  it('decodes to the values upstream fsck -v reported', () => {
    const h = decodeLogHeader(log, 0);
    expect(h).toEqual({
      magic: 0xbadcafef00dn,
      len: 8388608,
      lastIndex: 15419,
      crc: BigInt(crcOf(log.subarray(0, 24))),
      nextSeqnum: 9,
      nextIndex: 9,
    });
  });

  it('is valid for the superblock log length', () => {
    expect(checkLogHeader(log, 0, 8388608).ok).toBe(true);
  });

  it('re-encoding reproduces the fixture header bytes', () => {
    const h = decodeLogHeader(log, 0);
    expect(Buffer.from(encodeLogHeader(h)).equals(Buffer.from(log.subarray(0, 48)))).toBe(true);
  });
});

describe('checkLogHeader faults', () => {
  const good = encodeLogHeader({ ...newLogHeader(8388608), nextIndex: 3, nextSeqnum: 3 });
  const bad = (patch: (v: DataView) => void, logLen = 8388608): string => {
    const b = good.slice();
    patch(new DataView(b.buffer));
    const st = checkLogHeader(b, 0, logLen);
    if (st.ok) throw new Error('expected a bad header');
    return st.message;
  };

  it('a fresh header: magic, len, last_index, crc over [0, 24), next 0/0', () => {
    const b = encodeLogHeader(newLogHeader(8388608));
    const v = new DataView(b.buffer);
    expect(v.getBigUint64(0, true)).toBe(0xbadcafef00dn);
    expect(v.getBigUint64(8, true)).toBe(8388608n);
    expect(v.getBigUint64(16, true)).toBe(15419n);
    expect(v.getBigUint64(24, true)).toBe(BigInt(crcOf(b.subarray(0, 24))));
    expect(v.getBigUint64(32, true)).toBe(0n);
    expect(v.getBigUint64(40, true)).toBe(0n);
  });

  it('next_seqnum and next_index are not covered by the CRC', () => {
    const b = good.slice();
    new DataView(b.buffer).setBigUint64(40, 7n, true);
    new DataView(b.buffer).setBigUint64(32, 7n, true);
    expect(checkLogHeader(b, 0, 8388608).ok).toBe(true);
  });

  it('each fault has its message', () => {
    expect(bad((v) => v.setUint8(0, 0x0c))).toMatch(/magic/);
    expect(bad((v) => v.setUint8(8, 1))).toMatch(/CRC/);
    expect(bad((v) => v.setUint8(16, 1))).toMatch(/CRC/);
    expect(bad((v) => v.setUint8(24, 1))).toMatch(/CRC/);
    expect(bad(() => {}, 16 * 1024 * 1024)).toMatch(/length/);
    expect(bad((v) => v.setBigUint64(40, 15421n, true))).toMatch(/next_index 15421 is past/);
    // a value past 2^53 is printed exactly, not as NaN
    expect(bad((v) => v.setBigUint64(40, 2n ** 64n - 1n, true))).toMatch(/next_index 18446744073709551615 is past/);
  });

  it('next_seqnum is not a reader\'s business; the counter rule is logCountersProblem (what the writer refuses)', () => {
    const withCounters = (seq: bigint, idx: bigint): Uint8Array => {
      const b = good.slice();
      new DataView(b.buffer).setBigUint64(32, seq, true);
      new DataView(b.buffer).setBigUint64(40, idx, true);
      return b;
    };
    for (const [seq, idx, fine] of [
      [5n, 5n, true], [6n, 5n, true], // equal, or one ahead: a torn append
      [7n, 5n, false], [4n, 5n, false], [0n, 5n, false], [2n ** 63n, 5n, false],
    ] as const) {
      const b = withCounters(seq, idx);
      expect(checkLogHeader(b, 0, 8388608).ok, `seq ${seq} idx ${idx}`).toBe(true);
      const p = logCountersProblem(b, 0);
      if (fine) expect(p, `seq ${seq} idx ${idx}`).toBeUndefined();
      else expect(p, `seq ${seq} idx ${idx}`).toMatch(new RegExp(`next_seqnum ${seq} is (ahead of|behind) next_index ${idx}.*fsck --repair`));
    }
  });

  it('a full log (next_index = last_index + 1) is still a valid header', () => {
    const b = good.slice();
    new DataView(b.buffer).setBigUint64(40, 15420n, true);
    new DataView(b.buffer).setBigUint64(32, 15420n, true);
    expect(checkLogHeader(b, 0, 8388608).ok).toBe(true);
  });
});

// ---------------------------------------------------------------- entries

describe('the 9 fixture entries', () => {
  let decoded: LogEntryRecord[] = [];
  beforeAll(() => {
    decoded = Array.from({ length: 9 }, (_, i) => mustDecode(decodeLogEntry(log, logEntryOffset(i), i)));
  });

  it('are, in order: MKDIR dir1, FILE dir1/file1, FILE file0, MKDIR a, a/b, a/b/c, FILE a/b/c/ilv, MKDIR private, FILE private/data', () => {
    const summary = decoded.map((e) => `${e.seqnum} ${e.type} ${e.type === 'file' ? e.file.relpath : e.type === 'mkdir' ? e.mkdir.relpath : ''}`);
    expect(summary).toEqual([
      '0 mkdir dir1', '1 file dir1/file1', '2 file file0', '3 mkdir a', '4 mkdir a/b', '5 mkdir a/b/c',
      '6 file a/b/c/ilv', '7 mkdir private', '8 file private/data',
    ]);
  });

  it('directories carry the requested modes and owners', () => {
    const dirs = decoded.filter((e) => e.type === 'mkdir').map((e) => (e.type === 'mkdir' ? e.mkdir : undefined));
    expect(dirs).toEqual([
      { uid: 0, gid: 0, mode: 0o755, relpath: 'dir1' },
      { uid: 0, gid: 0, mode: 0o755, relpath: 'a' },
      { uid: 0, gid: 0, mode: 0o755, relpath: 'a/b' },
      { uid: 0, gid: 0, mode: 0o755, relpath: 'a/b/c' },
      { uid: 1000, gid: 1000, mode: 0o700, relpath: 'private' },
    ]);
  });

  it('files match upstream\'s YAML dump (path, size, flags, mode, uid, gid, extents)', () => {
    const files = decoded.filter((e): e is LogEntryRecord & { type: 'file' } => e.type === 'file').map((e) => e.file);
    expect(files.map((f) => f.relpath).sort()).toEqual([...yaml.keys()].sort());
    for (const f of files) {
      const y = yaml.get(f.relpath)!;
      expect({ size: f.size, flags: f.flags, mode: f.mode, uid: f.uid, gid: f.gid }, f.relpath).toEqual({
        size: y.size, flags: y.flags, mode: y.mode, uid: y.uid, gid: y.gid,
      });
      if (y.striped === undefined) {
        expect(f.fmap).toEqual({ type: 'simple', extents: y.simple.map((x) => ({ devIndex: x.devindex, offset: x.offset, len: x.length })) });
      } else {
        const s = y.striped;
        expect(f.fmap).toEqual({
          type: 'interleave',
          extents: [{ nstrips: s.nstrips, chunkSize: s.chunkSize, strips: s.strips.map((x) => ({ devIndex: x.devindex, offset: x.offset, len: x.length })) }],
        });
      }
    }
  });

  it('files match the values typed from the YAML by hand', () => {
    const byPath = new Map<string, FileEntryBody>();
    for (const e of decoded) if (e.type === 'file') byPath.set(e.file.relpath, e.file);
    expect(byPath.get('dir1/file1')).toEqual({
      size: 4194304, flags: 2, uid: 0, gid: 0, mode: 0o644, relpath: 'dir1/file1',
      fmap: { type: 'simple', extents: [{ devIndex: 0, offset: 0xa00000, len: 0x400000 }] },
    });
    expect(byPath.get('file0')).toEqual({
      size: 1, flags: 2, uid: 0, gid: 0, mode: 0o600, relpath: 'file0',
      fmap: { type: 'simple', extents: [{ devIndex: 0, offset: 0xe00000, len: 0x200000 }] },
    });
    expect(byPath.get('a/b/c/ilv')).toEqual({
      size: 67108864, flags: 2, uid: 0, gid: 0, mode: 0o644, relpath: 'a/b/c/ilv',
      fmap: {
        type: 'interleave',
        extents: [{
          nstrips: 4, chunkSize: 0x200000,
          strips: [
            { devIndex: 0, offset: 0x180000000, len: 0x1000000 },
            { devIndex: 0, offset: 0x100000000, len: 0x1000000 },
            { devIndex: 0, offset: 0x1c0000000, len: 0x1000000 },
            { devIndex: 0, offset: 0x40000000, len: 0x1000000 },
          ],
        }],
      },
    });
    expect(byPath.get('private/data')).toEqual({
      size: 104857600, flags: 2, uid: 1000, gid: 1000, mode: 0o640, relpath: 'private/data',
      fmap: { type: 'simple', extents: [{ devIndex: 0, offset: 0x1000000, len: 0x6400000 }] },
    });
  });

  it('re-encoding each entry reproduces the fixture bytes exactly', () => {
    decoded.forEach((e, i) => {
      const enc = encodeLogEntry(e);
      expect(Buffer.from(enc).equals(Buffer.from(entryBytes(i))), `entry ${i}`).toBe(true);
    });
  });

  it('the slot after the last entry (all zero) is not a valid entry', () => {
    expect(entryBytes(9).every((x) => x === 0)).toBe(true);
    expect(decodeLogEntry(log, logEntryOffset(9), 9)).toMatchObject({ ok: false, fault: 'bad-crc' });
  });
});

describe('encodeLogEntry / decodeLogEntry round trips', () => {
  const samples: LogEntryRecord[] = [
    { seqnum: 0, type: 'mkdir', mkdir: { uid: 1, gid: 2, mode: 0o1777, relpath: 'x' } },
    { seqnum: 5, type: 'mkdir', mkdir: { uid: 0xffffffff, gid: 0, mode: 0o755, relpath: 'p'.repeat(79) } },
    {
      seqnum: 7, type: 'file',
      file: { size: 0, flags: 1, uid: 3, gid: 4, mode: 0o600, relpath: 'empty', fmap: { type: 'simple', extents: [] } },
    },
    {
      seqnum: 8, type: 'file',
      file: {
        size: 2 ** 40 + 1, flags: 2, uid: 0, gid: 0, mode: 0o644, relpath: 'd/ümlaut',
        fmap: { type: 'simple', extents: Array.from({ length: 16 }, (_, i) => ({ devIndex: 0, offset: (i + 10) * 2 ** 31, len: 2 ** 31 })) },
      },
    },
    {
      seqnum: 9, type: 'file',
      file: {
        size: 123, flags: 2, uid: 0, gid: 0, mode: 0o644, relpath: 'ilv16',
        fmap: {
          type: 'interleave',
          extents: [{ nstrips: 16, chunkSize: 0x200000, strips: Array.from({ length: 16 }, (_, i) => ({ devIndex: 0, offset: (i + 1) * 0x40000000, len: 0x200000 })) }],
        },
      },
    },
    { seqnum: 10, type: 'daxdev', daxdev: { size: 2 ** 36, uuid: 'abcdef01-2345-6789-abcd-ef0123456789', index: 1 } },
  ];

  it.each(samples.map((s) => [`${s.type} seq ${s.seqnum}`, s] as const))('%s', (_name, s) => {
    const enc = encodeLogEntry(s);
    expect(enc.length).toBe(544);
    const v = new DataView(enc.buffer);
    expect(v.getBigUint64(0, true)).toBe(BigInt(s.seqnum));
    expect(v.getUint32(12, true)).toBe(0); // padding
    expect(v.getBigUint64(536, true)).toBe(BigInt(crcOf(enc.subarray(0, 536))));
    const buf = new Uint8Array(1000);
    buf.set(enc, 123);
    expect(decodeLogEntry(buf, 123, s.seqnum)).toEqual({ ok: true, entry: s });
  });

  it('writes the MKDIR and FILE fields at their spec offsets', () => {
    const m = encodeLogEntry({ seqnum: 3, type: 'mkdir', mkdir: { uid: 11, gid: 22, mode: 0o750, relpath: 'ab' } });
    const mv = new DataView(m.buffer);
    expect(mv.getUint32(8, true)).toBe(1);
    expect([mv.getUint32(16, true), mv.getUint32(20, true), mv.getUint32(24, true)]).toEqual([11, 22, 0o750]);
    expect([...m.subarray(28, 31)]).toEqual([0x61, 0x62, 0]);
    const f = encodeLogEntry({
      seqnum: 4, type: 'file',
      file: { size: 5, flags: 2, uid: 6, gid: 7, mode: 0o640, relpath: 'f', fmap: { type: 'simple', extents: [{ devIndex: 0, offset: 0x600000, len: 0x200000 }] } },
    });
    const fv = new DataView(f.buffer);
    expect(fv.getUint32(8, true)).toBe(0);
    expect(fv.getBigUint64(16, true)).toBe(5n);
    expect([fv.getUint32(24, true), fv.getUint32(28, true), fv.getUint32(32, true), fv.getUint32(36, true)]).toEqual([2, 6, 7, 0o640]);
    expect(f[40]).toBe(0x66);
    expect(fv.getUint32(120, true)).toBe(0); // fmap_ext_type SIMPLE
    expect(fv.getUint32(128, true)).toBe(1); // fmap_nextents
    expect([fv.getBigUint64(136, true), fv.getBigUint64(144, true), fv.getBigUint64(152, true)]).toEqual([0n, 0x600000n, 0x200000n]);
  });
});

describe('encodeLogEntry refusals', () => {
  const file = (fmap: FileEntryBody['fmap'], relpath = 'f'): LogEntryRecord => ({
    seqnum: 0, type: 'file', file: { size: 1, flags: 2, uid: 0, gid: 0, mode: 0o644, relpath, fmap },
  });
  const ext = { devIndex: 0, offset: 0xa00000, len: 0x200000 };

  it('more than 16 simple extents', () => {
    expect(() => encodeLogEntry(file({ type: 'simple', extents: Array(17).fill(ext) }))).toThrow(FormatError);
  });

  it('more than 1 interleaved extent, more than 16 strips, or strips != nstrips', () => {
    const ie = { nstrips: 1, chunkSize: 0x200000, strips: [ext] };
    expect(() => encodeLogEntry(file({ type: 'interleave', extents: [ie, ie] }))).toThrow(FormatError);
    expect(() => encodeLogEntry(file({ type: 'interleave', extents: [{ nstrips: 17, chunkSize: 0x200000, strips: Array(17).fill(ext) }] }))).toThrow(FormatError);
    expect(() => encodeLogEntry(file({ type: 'interleave', extents: [{ nstrips: 2, chunkSize: 0x200000, strips: [ext] }] }))).toThrow(FormatError);
  });

  it('a relpath of 80 bytes (no room for the NUL) or with a NUL', () => {
    expect(() => encodeLogEntry(file({ type: 'simple', extents: [ext] }, 'p'.repeat(80)))).toThrow(FormatError);
    expect(() => encodeLogEntry(file({ type: 'simple', extents: [ext] }, 'a\0b'))).toThrow(FormatError);
    // 79 bytes of UTF-8 fit: 39 two-byte characters + 1
    expect(() => encodeLogEntry(file({ type: 'simple', extents: [ext] }, `${'é'.repeat(39)}x`))).not.toThrow();
    expect(() => encodeLogEntry(file({ type: 'simple', extents: [ext] }, 'é'.repeat(40)))).toThrow(FormatError);
  });
});

describe('decodeLogEntry faults', () => {
  const decode = (b: Uint8Array, index: number): DecodedEntry => decodeLogEntry(b, 0, index);

  it('bad CRC: any changed byte without a new CRC', () => {
    for (const off of [0, 8, 12, 16, 40, 100, 535, 536, 543]) {
      const b = patchedEntry(1, (_v, x) => { x[off]! ^= 0x10; }, false);
      expect(decode(b, 1), `byte ${off}`).toMatchObject({ ok: false, fault: 'bad-crc' });
    }
  });

  it('non-zero padding is covered by the CRC (so must be zero when written)', () => {
    const b = patchedEntry(1, (v) => v.setUint32(12, 1, true), false);
    expect(decode(b, 1)).toMatchObject({ ok: false, fault: 'bad-crc' });
  });

  it('wrong seqnum (valid CRC): bad-seqnum', () => {
    expect(decode(entryBytes(1), 2)).toMatchObject({ ok: false, fault: 'bad-seqnum', seqnum: 1 });
    const b = patchedEntry(1, (v) => v.setBigUint64(0, 1n << 60n, true));
    expect(decode(b, 1)).toMatchObject({ ok: false, fault: 'bad-seqnum' });
  });

  it('unknown type: unknown-type', () => {
    for (const t of [4, 5, 0xffffffff]) {
      expect(decode(patchedEntry(0, (v) => v.setUint32(8, t, true)), 0), `type ${t}`).toMatchObject({ ok: false, fault: 'unknown-type' });
    }
  });

  it('DELETE is recognised, and refused as unsupported', () => {
    const d = decode(patchedEntry(0, (v) => v.setUint32(8, 2, true)), 0);
    expect(d).toMatchObject({ ok: false, fault: 'delete-unsupported' });
    if (!d.ok) expect(d.message).toMatch(/DELETE/);
  });

  it('more than 16 simple extents: bad-fmap', () => {
    expect(decode(patchedEntry(1, (v) => v.setUint32(16 + 104 + 8, 16, true)), 1)).toMatchObject({ ok: true });
    expect(decode(patchedEntry(1, (v) => v.setUint32(16 + 104 + 8, 17, true)), 1)).toMatchObject({ ok: false, fault: 'bad-fmap' });
    expect(decode(patchedEntry(1, (v) => v.setUint32(16 + 104 + 8, 0xffffffff, true)), 1)).toMatchObject({ ok: false, fault: 'bad-fmap' });
  });

  it('more than 1 interleaved extent or more than 16 strips: bad-fmap', () => {
    expect(decode(patchedEntry(6, (v) => v.setUint32(16 + 104 + 8, 2, true)), 6)).toMatchObject({ ok: false, fault: 'bad-fmap' });
    expect(decode(patchedEntry(6, (v) => v.setBigUint64(16 + 104 + 16, 17n, true)), 6)).toMatchObject({ ok: false, fault: 'bad-fmap' });
  });

  it('unknown fmap extent type: bad-fmap', () => {
    expect(decode(patchedEntry(1, (v) => v.setUint32(16 + 104, 2, true)), 1)).toMatchObject({ ok: false, fault: 'bad-fmap' });
  });

  it('an extent offset past 2^53 makes the entry bad, not the scan', () => {
    const d = decode(patchedEntry(1, (v) => v.setBigUint64(16 + 104 + 16 + 8, 1n << 60n, true)), 1);
    expect(d).toMatchObject({ ok: false, fault: 'bad-fmap' });
  });

  it('a FILE or MKDIR relpath without a NUL in its 80 bytes: bad-relpath', () => {
    const fileNoNul = patchedEntry(1, (_v, b) => b.fill(0x61, 16 + 24, 16 + 24 + 80));
    expect(decode(fileNoNul, 1)).toMatchObject({ ok: false, fault: 'bad-relpath' });
    const dirNoNul = patchedEntry(0, (_v, b) => b.fill(0x61, 16 + 12, 16 + 12 + 80));
    expect(decode(dirNoNul, 0)).toMatchObject({ ok: false, fault: 'bad-relpath' });
    // 79 bytes and a NUL in the last byte is fine
    const dir79 = patchedEntry(0, (_v, b) => { b.fill(0x61, 16 + 12, 16 + 12 + 79); b[16 + 12 + 79] = 0; });
    expect(mustDecode(decode(dir79, 0))).toMatchObject({ type: 'mkdir', mkdir: { relpath: 'a'.repeat(79) } });
  });

  it('a relpath that is not UTF-8: bad-relpath', () => {
    const b = patchedEntry(0, (_v, x) => { x[16 + 12] = 0xff; });
    expect(decode(b, 0)).toMatchObject({ ok: false, fault: 'bad-relpath' });
  });

  it('messages name the entry index', () => {
    const d = decode(patchedEntry(3, () => {}, false).map((x, i) => (i === 20 ? x ^ 1 : x)), 3);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.message).toMatch(/^entry 3: /);
  });

  it('a truncated entry (fewer than 544 bytes at base) is a bad entry, not a throw', () => {
    const d = decodeLogEntry(entryBytes(0).subarray(0, 543), 0, 0);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.message).toMatch(/544/);
  });
});
