/**
 * Famfs (the programmatic API behind the CLI) on a MemoryDevice formatted by
 * core's mkfs: namespace operations and their errors, roles, the log filling
 * up, data I/O through maps (interleaved ones included), and the order in
 * which an append makes its stores visible.
 */
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from './device.js';
import { FamfsError } from './errors.js';
import { Famfs } from './famfs.js';
import { type FmapRecord, encodeLogEntry } from './format/log.js';
import { fsck } from './fsck.js';
import { mkfs } from './mkfs.js';
import type { FileNode } from './namespace.js';
import { thrown } from '../../../test/thrown.js';

import { seeded } from '../../../test/random.js';

/** every random byte of this file: seeded (test/random.ts) */
const R = seeded('famfs.test');

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const MASTER = '11111111-2222-4333-8444-555555555555';
const OTHER = '99999999-8888-4777-8666-555555555555';
/** spec: the log starts at 2 MiB; 48-byte header; 544-byte entries */
const LOG = 2 * MiB;
const HDR_NEXT_SEQNUM = 32;
const HDR_NEXT_INDEX = 40;
const ENTRY = 544;
/** entries in the default 8 MiB log: (8 MiB - 48) / 544 */
const LOG_ENTRIES = 15420;

function newDevice(size = 256 * MiB): MemoryDevice {
  const dev = MemoryDevice.ofSize(size);
  mkfs(dev, { systemUuid: MASTER });
  dev.flushes.length = 0;
  return dev;
}

function open(dev: MemoryDevice, systemUuid = MASTER): Famfs {
  return Famfs.fromDevice(dev, { systemUuid });
}

function headerU64(dev: MemoryDevice, off: number): number {
  return Number(new DataView(dev.bytes.buffer, dev.bytes.byteOffset + LOG).getBigUint64(off, true));
}

const famfsError = (fn: () => unknown): FamfsError => thrown(fn, FamfsError);

/** Device address of file byte x, from the spec's formula (not the resolver). */
function specAddress(fmap: FmapRecord, x: number): number {
  if (fmap.type === 'simple') {
    let base = 0;
    for (const e of fmap.extents) {
      if (x < base + e.len) return e.offset + x - base;
      base += e.len;
    }
    throw new Error('past the map');
  }
  const ie = fmap.extents[0]!;
  const chunk = Math.floor(x / ie.chunkSize);
  return ie.strips[chunk % ie.nstrips]!.offset + Math.floor(chunk / ie.nstrips) * ie.chunkSize + (x % ie.chunkSize);
}

describe('mkdir', () => {
  it('creates a directory with the given attributes, logged and replayed by a second opener', () => {
    const dev = newDevice();
    const fs = open(dev);
    const d = fs.mkdir('dir1', { mode: 0o700, uid: 1000, gid: 1001 });
    expect(d).toMatchObject({ kind: 'dir', relpath: 'dir1', mode: 0o700, uid: 1000, gid: 1001, index: 0 });
    expect(headerU64(dev, HDR_NEXT_INDEX)).toBe(1);
    expect(open(dev).stat('dir1')).toMatchObject({ kind: 'dir', mode: 0o700, uid: 1000, gid: 1001 });
  });

  it('without parents: an existing path is EEXIST, a missing parent ENOENT, a file parent ENOTDIR; nothing logged', () => {
    const fs = open(newDevice());
    fs.mkdir('a');
    fs.createFile('a/f', 10);
    const n = fs.logCursor;
    expect(famfsError(() => fs.mkdir('a')).code).toBe('EEXIST');
    expect(famfsError(() => fs.mkdir('x/y')).code).toBe('ENOENT');
    expect(famfsError(() => fs.mkdir('a/f/g')).code).toBe('ENOTDIR');
    expect(famfsError(() => fs.mkdir('a/f', { parents: true })).code).toBe('EEXIST');
    expect(fs.logCursor).toBe(n);
  });

  it('-p creates each missing ancestor as its own entry, and an existing directory is a no-op', () => {
    const dev = newDevice();
    const fs = open(dev);
    fs.mkdir('a');
    fs.mkdir('a/b/c/d', { parents: true, mode: 0o750 });
    expect(fs.logCursor).toBe(4);
    for (const p of ['a/b', 'a/b/c', 'a/b/c/d']) expect(fs.stat(p)).toMatchObject({ kind: 'dir', mode: 0o750 });
    fs.mkdir('a/b/c', { parents: true });
    expect(fs.logCursor).toBe(4);
    expect(fs.readdir('a/b').map((n) => n.relpath)).toEqual(['a/b/c']);
  });
});

describe('createFile', () => {
  it('allocates, logs and replays a file; a second opener sees the same map', () => {
    const dev = newDevice();
    const fs = open(dev);
    fs.mkdir('d');
    const { file, created } = fs.createFile('d/f', 3 * MiB + 5, { mode: 0o640, uid: 7, gid: 8 });
    expect(created).toBe(true);
    expect(file).toMatchObject({ kind: 'file', relpath: 'd/f', size: 3 * MiB + 5, mode: 0o640, uid: 7, gid: 8, flags: 2 });
    expect(file.fmap).toEqual({ type: 'simple', extents: [{ devIndex: 0, offset: 10 * MiB, len: 4 * MiB }] });
    // what a file is to its users (the node's private bookkeeping may differ)
    const seen = (f: FileNode) => ({ kind: f.kind, relpath: f.relpath, size: f.size, flags: f.flags, mode: f.mode, uid: f.uid, gid: f.gid, index: f.index, fmap: f.fmap });
    expect(seen(open(dev).statFile('d/f'))).toEqual(seen(file));
  });

  it('regression: a replayed file whose log entry changes afterwards gives EIO, never an unchecked map', () => {
    const dev = newDevice();
    const writer = open(dev);
    const { file } = writer.createFile('f', 2 * MiB);
    const good = file.fmap;
    const reader = open(dev); // replays the entry; the map is read from the log on first use
    // rewrite the entry with a valid CRC but an extent at offset 0
    const at = LOG + 48 + file.index * 544;
    dev.bytes.set(
      encodeLogEntry({ seqnum: file.index, type: 'file', file: { relpath: 'f', size: 2 * MiB, flags: 2, mode: 0o644, uid: 0, gid: 0, fmap: { type: 'simple', extents: [{ devIndex: 0, offset: 0, len: 2 * MiB }] } } }),
      at,
    );
    const e = famfsError(() => reader.statFile('f').fmap);
    expect(e.code).toBe('EIO');
    expect(e.message).toMatch(/changed after it was replayed.*offset 0/);
    // the writer had already read (and checked) its map: it keeps it
    expect(writer.statFile('f').fmap).toEqual(good);
  });

  it('re-creating with the same size is a no-op; a different size is EEXIST; nothing logged', () => {
    const fs = open(newDevice());
    const a = fs.createFile('f', 1000).file;
    const n = fs.logCursor;
    const again = fs.createFile('f', 1000);
    expect(again.created).toBe(false);
    expect(again.file).toBe(a);
    expect(fs.logCursor).toBe(n);
    const e = famfsError(() => fs.createFile('f', 1001));
    expect(e.code).toBe('EEXIST');
    expect(e.message).toMatch(/size 1000/);
    expect(fs.logCursor).toBe(n);
  });

  it('size 0 (and negative, fractional) is EINVAL; missing parent ENOENT; a directory in the way EISDIR', () => {
    const fs = open(newDevice());
    fs.mkdir('d');
    const n = fs.logCursor;
    const allocated = fs.bitmap.allocatedBytes;
    expect(famfsError(() => fs.createFile('z', 0)).code).toBe('EINVAL');
    expect(famfsError(() => fs.createFile('z', -1)).code).toBe('EINVAL');
    expect(famfsError(() => fs.createFile('z', 1.5)).code).toBe('EINVAL');
    expect(famfsError(() => fs.createFile('nodir/z', 10)).code).toBe('ENOENT');
    expect(famfsError(() => fs.createFile('d', 10)).code).toBe('EISDIR');
    expect(fs.logCursor).toBe(n);
    expect(fs.bitmap.allocatedBytes).toBe(allocated);
  });

  it('out of space is ENOSPC and leaves the bitmap and the log as they were', () => {
    const fs = open(newDevice(64 * MiB));
    fs.createFile('a', 40 * MiB);
    const n = fs.logCursor;
    const allocated = fs.bitmap.allocatedBytes;
    const e = famfsError(() => fs.createFile('b', 20 * MiB));
    expect(e.code).toBe('ENOSPC');
    expect(e.message).toMatch(/out of space/);
    expect(fs.logCursor).toBe(n);
    expect(fs.bitmap.allocatedBytes).toBe(allocated);
    expect(fs.createFile('c', 14 * MiB).file.fmap).toEqual({ type: 'simple', extents: [{ devIndex: 0, offset: 50 * MiB, len: 14 * MiB }] });
  });
});

describe('path rules', () => {
  it('leading and trailing slashes are normalised away: "/d/f" is d/f', () => {
    const fs = open(newDevice());
    fs.mkdir('/d/');
    expect(fs.createFile('/d/f', 10).file.relpath).toBe('d/f');
    expect(fs.stat('d/f').relpath).toBe('d/f');
  });

  const bad: Array<[string, string, string]> = [
    ['a ".." component', 'd/../f', 'EINVAL'],
    ['a leading ".." component', '../f', 'EINVAL'],
    ['a "." component', 'd/./f', 'EINVAL'],
    ['an empty component', 'd//f', 'EINVAL'],
    ['an 80-byte name', 'x'.repeat(80), 'ENAMETOOLONG'],
    ['an 80-byte path', `d/${'y'.repeat(78)}`, 'ENAMETOOLONG'],
    ['an 80-byte UTF-8 path of 40 characters', 'é'.repeat(40), 'ENAMETOOLONG'],
    ['a NUL', 'd/f\0g', 'EINVAL'],
  ];
  for (const [what, p, code] of bad) {
    it(`refuses ${what} in mkdir and createFile (${code}), logging nothing`, () => {
      const fs = open(newDevice());
      fs.mkdir('d');
      const n = fs.logCursor;
      expect(famfsError(() => fs.createFile(p, 10)).code).toBe(code);
      expect(famfsError(() => fs.mkdir(p)).code).toBe(code);
      expect(famfsError(() => fs.mkdir(p, { parents: true })).code).toBe(code);
      expect(fs.logCursor).toBe(n);
    });
  }

  it('accepts a 79-byte path (the most the 80-byte field holds with its NUL)', () => {
    const fs = open(newDevice());
    const p = `d/${'z'.repeat(77)}`;
    fs.mkdir('d');
    expect(fs.createFile(p, 1).file.relpath).toBe(p);
    expect(open(fs.dev as MemoryDevice).stat(p).kind).toBe('file');
  });

  it('the root itself: exists for mkdir (fine with parents: mkdir -p MOUNTPOINT), never a file', () => {
    const fs = open(newDevice());
    const used = fs.logUsage().used;
    expect(famfsError(() => fs.mkdir('/')).code).toBe('EEXIST');
    expect(fs.mkdir('/', { parents: true })).toBe(fs.namespace.root);
    expect(fs.mkdir('', { parents: true })).toBe(fs.namespace.root);
    expect(famfsError(() => fs.createFile('', 1)).code).toBe('EINVAL');
    expect(fs.logUsage().used).toBe(used);
  });
});

describe('roles', () => {
  it('a client host (another system UUID) reads but may not change anything: EPERM naming the client', () => {
    const dev = newDevice();
    open(dev).createFile('f', 100);
    const client = open(dev, OTHER);
    expect(client.role).toBe('client');
    expect(client.statFile('f').size).toBe(100);
    const before = dev.bytes.slice(LOG, LOG + 4096);
    const flushes = dev.flushes.length;
    for (const fn of [() => client.mkdir('d'), () => client.createFile('g', 10), () => client.clone('f', 'h'), () => client.mkdir('d', { parents: true })]) {
      const e = famfsError(fn);
      expect(e.code).toBe('EPERM');
      expect(e.message).toMatch(/client/);
    }
    expect(Buffer.compare(dev.bytes.subarray(LOG, LOG + 4096), before)).toBe(0);
    expect(dev.flushes).toHaveLength(flushes);
  });

  it('the master is the host whose UUID mkfs recorded', () => {
    expect(open(newDevice()).role).toBe('master');
  });
});

describe('the log', () => {
  it('flushes the entry slot before the header that publishes it', () => {
    // Record, at each flush, what the header says: when the slot is flushed
    // the header must still exclude the entry; the header flush publishes it.
    class Recording extends MemoryDevice {
      readonly seen: Array<{ offset: number; length: number; nextIndex: number; nextSeqnum: number }> = [];
      override flush(view: Uint8Array): void {
        super.flush(view);
        this.seen.push({
          offset: view.byteOffset - this.bytes.byteOffset,
          length: view.byteLength,
          nextIndex: headerU64(this, HDR_NEXT_INDEX),
          nextSeqnum: headerU64(this, HDR_NEXT_SEQNUM),
        });
      }
    }
    const dev = new Recording(new Uint8Array(64 * MiB));
    mkfs(dev, { systemUuid: MASTER });
    const fs = open(dev);
    fs.mkdir('a');
    dev.seen.length = 0;
    fs.createFile('a/f', 10);
    const slot = LOG + 48 + 1 * ENTRY;
    const iSlot = dev.seen.findIndex((f) => f.offset <= slot && f.offset + f.length >= slot + ENTRY);
    const iHead = dev.seen.findIndex((f) => f.offset <= LOG + HDR_NEXT_INDEX && f.offset + f.length >= LOG + 48);
    expect(iSlot).toBeGreaterThanOrEqual(0);
    expect(iHead).toBeGreaterThan(iSlot);
    expect(dev.seen[iSlot]).toMatchObject({ nextIndex: 1, nextSeqnum: 1 });
    expect(dev.seen[iHead]).toMatchObject({ nextIndex: 2, nextSeqnum: 2 });
    // the slot flush covers the entry, not the header
    expect(dev.seen[iSlot]!.offset).toBeGreaterThanOrEqual(LOG + 48);
  });

  it('the entry is complete in memory before the header is bumped (a crash in between leaves the old log)', () => {
    const dev = newDevice();
    const fs = open(dev);
    fs.createFile('f', 10);
    // simulate "crashed after the slot was written, before the header": roll the header back
    const dv = new DataView(dev.bytes.buffer, dev.bytes.byteOffset + LOG);
    dv.setBigUint64(HDR_NEXT_INDEX, 0n, true);
    dv.setBigUint64(HDR_NEXT_SEQNUM, 0n, true);
    const again = open(dev);
    expect(again.namespace.lookup('f')).toBeUndefined();
    expect(fsck(dev, MASTER).errors).toEqual([]);
    // the next append overwrites the orphan slot
    again.createFile('g', 10);
    expect(open(dev).statFile('g').index).toBe(0);
    expect(fsck(dev, MASTER).errors).toEqual([]);
  });

  it('regression: a crash between the two header stores (next_seqnum one ahead of next_index) made the log unappendable', () => {
    const dev = newDevice();
    const fs = open(dev);
    fs.createFile('f', 10);
    // the writer bumps next_seqnum, then next_index: a crash between them leaves seqnum = index + 1
    new DataView(dev.bytes.buffer, dev.bytes.byteOffset + LOG).setBigUint64(HDR_NEXT_SEQNUM, 2n, true);
    const again = open(dev);
    expect(fsck(dev, MASTER).errors).toEqual([]);
    again.createFile('g', 10);
    expect(headerU64(dev, HDR_NEXT_INDEX)).toBe(2);
    expect(headerU64(dev, HDR_NEXT_SEQNUM)).toBe(2);
    expect(open(dev).statFile('g').index).toBe(1);
    expect(fsck(dev, MASTER).errors).toEqual([]);
  });

  it(`holds ${LOG_ENTRIES} entries; the next append is ENOSPC with a clear message and changes nothing`, () => {
    const dev = newDevice(64 * MiB);
    const fs = open(dev);
    fs.createFile('first', 1);
    fs.locked('fill', () => {
      for (let i = 1; i < LOG_ENTRIES; i++) fs.mkdir(`d${i}`);
    });
    expect(fs.logUsage()).toEqual({ used: LOG_ENTRIES, capacity: LOG_ENTRIES });
    expect(headerU64(dev, HDR_NEXT_INDEX)).toBe(LOG_ENTRIES);
    const allocated = fs.bitmap.allocatedBytes;
    const log = dev.bytes.slice(LOG, LOG + 8 * MiB);
    for (const fn of [() => fs.mkdir('more'), () => fs.createFile('more', 10)]) {
      const e = famfsError(fn);
      expect(e.code).toBe('ENOSPC');
      expect(e.message).toMatch(/log is full/);
      expect(e.message).toContain(String(LOG_ENTRIES));
    }
    // the failed create's provisional allocation was given back
    expect(fs.bitmap.allocatedBytes).toBe(allocated);
    expect(Buffer.compare(dev.bytes.subarray(LOG, LOG + 8 * MiB), log)).toBe(0);
    // what is there still reads back, and fsck is clean
    expect(fs.createFile('first', 1).created).toBe(false);
    const r = fsck(dev, MASTER);
    expect(r.errors).toEqual([]);
    expect(r.files + r.directories).toBe(LOG_ENTRIES);
  });
});

describe('data', () => {
  it('a write that starts at or past the end is EFBIG and writes nothing', () => {
    const dev = newDevice();
    const fs = open(dev);
    const f = fs.createFile('f', 4 * MiB + 100).file;
    const x = f.fmap.type === 'simple' ? f.fmap.extents[0] : undefined;
    if (x === undefined) throw new Error('expected a simple map');
    const before = dev.bytes.slice(x.offset, x.offset + x.len);
    const flushes = dev.flushes.length;
    for (const off of [f.size, f.size + 1, x.len, 2 ** 40]) {
      const e = famfsError(() => fs.writeAt(f, off, new Uint8Array(1).fill(0xab)));
      expect(e.code, `offset ${off}`).toBe('EFBIG');
    }
    expect(Buffer.compare(dev.bytes.subarray(x.offset, x.offset + x.len), before)).toBe(0);
    expect(dev.flushes.length).toBe(flushes);
    // an empty write anywhere stores nothing and is not an error
    expect(fs.writeAt(f, f.size + 5, new Uint8Array(0))).toBe(0);
    expect(famfsError(() => fs.writeAt(f, -1, new Uint8Array(1))).code).toBe('EINVAL');
  });

  it('a write that starts inside the file and runs past its end is short: what fits is stored, nothing past EOF', () => {
    const dev = newDevice();
    const fs = open(dev);
    const f = fs.createFile('f', 4 * MiB + 100).file;
    const x = f.fmap.type === 'simple' ? f.fmap.extents[0] : undefined;
    if (x === undefined) throw new Error('expected a simple map');
    for (const [off, len] of [[f.size - 10, 11], [0, f.size + 1], [4 * MiB, 200], [f.size - 1, 1]] as const) {
      expect(fs.writeAt(f, off, new Uint8Array(len).fill(0xcd)), `write of ${len} at ${off}`).toBe(Math.min(len, f.size - off));
    }
    expect(fs.read(f).every((b) => b === 0xcd)).toBe(true);
    // the allocation past EOF (the rest of the 2 MiB unit) was never written
    expect(dev.bytes.subarray(x.offset + f.size, x.offset + x.len).every((b) => b === 0)).toBe(true);
  });

  it('reads are clamped at the end of file', () => {
    const fs = open(newDevice());
    const f = fs.createFile('f', 1000).file;
    expect(fs.read(f, 995, 100)).toHaveLength(5);
    expect(fs.read(f, 1000, 100)).toHaveLength(0);
  });

  it('round-trips data across an interleaved file\'s chunk boundaries, at the addresses the spec gives', () => {
    // 2 buckets of 1 GiB: the smallest device an interleaved file may live on
    const dev = MemoryDevice.ofSize(2 * GiB);
    mkfs(dev, { systemUuid: MASTER });
    const fs = open(dev);
    const f: FileNode = fs.createFile('ilv', 9 * MiB + 123, { interleave: { nstrips: 2, nbuckets: 2, chunkSize: 2 * MiB } }).file;
    expect(f.fmap.type).toBe('interleave');
    const ie = f.fmap.type === 'interleave' ? f.fmap.extents[0]! : undefined;
    expect(ie!.strips.map((s) => s.len)).toEqual([6 * MiB, 6 * MiB]); // ceil(size / 4 MiB) = 3 stripes
    expect(new Set(ie!.strips.map((s) => Math.floor(s.offset / GiB))).size).toBe(2);

    const off = 1 * MiB + 3;
    const data = new Uint8Array(R.bytes(7 * MiB + 17)); // crosses the chunks at 2, 4, 6 and 8 MiB
    expect(fs.writeAt(f, off, data)).toBe(data.length);
    expect(Buffer.compare(fs.read(f, off, data.length), data)).toBe(0);
    // every byte landed where the spec's formula puts it
    for (let i = 0; i < data.length; i++) {
      if (dev.bytes[specAddress(f.fmap, off + i)] !== data[i]) throw new Error(`file byte ${off + i} is not at its spec address`);
    }
    // the rest of the file is untouched (zero)
    const whole = fs.read(f);
    expect(whole.subarray(0, off).every((b) => b === 0)).toBe(true);
    expect(whole.subarray(off + data.length).every((b) => b === 0)).toBe(true);
    // an odd read spanning a chunk boundary of the second stripe
    expect(Buffer.compare(fs.read(f, 6 * MiB - 5, 10), data.subarray(6 * MiB - 5 - off, 6 * MiB + 5 - off))).toBe(0);
    // and a second opener reads the same bytes
    const again = open(dev);
    expect(Buffer.compare(again.read(again.statFile('ilv'), off, data.length), data)).toBe(0);
  });

  it('round-trips a contiguous file, stored at its extent', () => {
    const dev = newDevice();
    const fs = open(dev);
    const f = fs.createFile('f', 6 * MiB).file;
    const data = new Uint8Array(R.bytes(f.size));
    fs.writeAt(f, 0, data);
    expect(Buffer.compare(fs.read(f), data)).toBe(0);
    expect(Buffer.compare(dev.bytes.subarray(10 * MiB, 16 * MiB), data)).toBe(0);
  });
});
