/**
 * The DAX window as the kernel sees it: SETUPMAPPING / REMOVEMAPPING over
 * the test transport (requests and replies built by hand), against a real
 * famfs image whose files carry a self-describing pattern (window.testkit).
 * After each request the test reads the server's own window through a probe
 * that cannot fault, and — for the handoff — a VMM's window built from the
 * fds and the table it received over SCM_RIGHTS, in this process and in a
 * child process.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Famfs, FamfsError, type FileNode, type FmapRecord } from '@famfs/core';
import * as native from '@famfs/native';
import { DaxWindow, type WindowDevice } from './dax-window.js';
import { FamfsFuseFs } from './filesystem.js';
import { E, KiB, Op, type Served, errorReply, initIn, openIn, openOut, removemappingIn, reply, request, serve, setupmappingIn } from './test-kernel.testkit.js';
import { type UnitModel, type WindowImage, GiB, MiB, UNIT, checkWindow, makeWindowImage, patternWord } from './window.testkit.js';
import { VmmWindow, WindowChannel, decodeWindowMessage, encodeSnapshot } from './window-channel.js';
import { Logger } from './log.js';
import { thrown } from '../../../test/thrown.js';
import { seeded } from '../../../test/random.js';

const MASTER = '3f0e0d0c-0b0a-4908-8706-050403020100';
const CLIENT = '4f0e0d0c-0b0a-4908-8706-050403020100';
const NO_FH = 0xffff_ffff_ffff_ffffn;
const ALL_ONES = 0xffff_ffff_ffff_ffffn;
const READ = 1 << 1;
const WRITE = 1 << 0;
/** INIT bit 26 MAP_ALIGNMENT; map_alignment is the u16 at body offset 30 */
const MAP_ALIGNMENT = 1 << 26;
const WINDOW = 32 * MiB;

let img: WindowImage;
let SIMPLE: bigint;
let STRIPED: bigint;
let SMALL: bigint;
const DIR = 19n;
const META_LOG = 4n;
const TAG = { simple: 1, striped: 2, small: 3 };

beforeAll(() => {
  img = makeWindowImage('window', MASTER, [
    { rel: 'simple.bin', size: 8 * MiB },
    { rel: 'striped.bin', size: 32 * MiB, interleave: { nstrips: 4, nbuckets: 8, chunkSize: 2 * MiB } },
    { rel: 'small.txt', size: 5000 },
  ]);
  img.famfs.mkdir('dir');
  [SIMPLE, STRIPED, SMALL] = img.files.map((f) => f.nodeid) as [bigint, bigint, bigint];
});

afterAll(() => img?.close());

function newWindow(opts: { devices?: WindowDevice[]; maxMappings?: number; size?: number } = {}): DaxWindow {
  return DaxWindow.create({ size: opts.size ?? WINDOW, devices: opts.devices ?? [{ index: 0, path: img.image, writable: true }], maxMappings: opts.maxMappings });
}

interface Ctx {
  s: Served;
  w: DaxWindow;
  model: UnitModel[];
  call(op: number, id: bigint, body: Uint8Array): Promise<{ u: bigint; got: Uint8Array }>;
  /** SETUPMAPPING expected to succeed; updates the model */
  setup(id: bigint, tag: number, foffset: number, len: number, flags: number, moffset: number, fh?: bigint): Promise<void>;
  /** a request expected to fail with errno, the window unchanged */
  refused(op: number, id: bigint, body: Uint8Array, errno: number, what: string): Promise<void>;
  check(what: string): void;
}

async function withWindow(fn: (c: Ctx) => Promise<void>, opts: { famfs?: Famfs; window?: DaxWindow; makeFs?: (f: Famfs) => FamfsFuseFs } = {}): Promise<void> {
  const w = opts.window ?? newWindow();
  const s = serve(opts.famfs ?? img.famfs, 'error', false, { window: w, makeFs: opts.makeFs });
  const model: UnitModel[] = new Array<UnitModel>(w.size / UNIT).fill(null);
  let salt = 1;
  const c: Ctx = {
    s, w, model,
    async call(op, id, body) {
      const u = s.kernel.unique();
      return { u, got: await s.kernel.call(request(op, u, id, body)) };
    },
    async setup(id, tag, foffset, len, flags, moffset, fh = NO_FH) {
      const r = await c.call(Op.SETUPMAPPING, id, setupmappingIn(fh, foffset, len, flags, moffset));
      expect(r.got, `SETUPMAPPING ${id} ${foffset}+${len} @${moffset}`).toEqual(reply(r.u));
      for (let k = 0; k < len / UNIT; k++) model[moffset / UNIT + k] = { tag, foffset: foffset + k * UNIT, writable: (flags & WRITE) !== 0 };
    },
    async refused(op, id, body, errno, what) {
      const before = w.entries();
      const gen = w.generation;
      const r = await c.call(op, id, body);
      expect(r.got, what).toEqual(errorReply(r.u, errno));
      expect(w.entries(), what).toEqual(before);
      expect(w.generation, what).toBe(gen);
      c.check(what);
    },
    check(what) {
      expect(checkWindow(w, model, UNIT, salt++, true), what).toBeNull();
      expect(w.mappedBytes, what).toBe(model.filter((m) => m !== null).length * UNIT);
    },
  };
  try {
    const u = s.kernel.unique();
    const init = await s.kernel.call(request(Op.INIT, u, 0n, initIn(7, 45, 128 * KiB, 0x7fff_fffb, 0x7ff)));
    const v = new DataView(init.buffer, init.byteOffset + 16);
    expect(v.getUint32(12, true) & MAP_ALIGNMENT).toBe(MAP_ALIGNMENT);
    expect(v.getUint16(30, true)).toBe(21);
    c.check('empty');
    await fn(c);
    expect(s.logLines).toEqual([]);
  } finally {
    await s.stop();
    if (opts.window === undefined) w.close();
  }
}

describe('negotiation', () => {
  it('MAP_ALIGNMENT 21 only with a window and only when offered', async () => {
    await withWindow(async () => undefined);
    const w = newWindow();
    const s = serve(img.famfs, 'error', false, { window: w });
    try {
      const init = await s.kernel.call(request(Op.INIT, s.kernel.unique(), 0n, initIn(7, 45, 128 * KiB, 0x7fff_fffb & ~MAP_ALIGNMENT, 0x7ff)));
      const v = new DataView(init.buffer, init.byteOffset + 16);
      expect(v.getUint32(12, true) & MAP_ALIGNMENT).toBe(0);
      expect(v.getUint16(30, true)).toBe(0);
    } finally {
      await s.stop();
      w.close();
    }
  });
});

describe('SETUPMAPPING and REMOVEMAPPING', () => {
  it('maps a simple file range read-only by nodeid (fh all ones), and an interleaved one chunk by chunk', () =>
    withWindow(async (c) => {
      await c.setup(SIMPLE, TAG.simple, 2 * MiB, 4 * MiB, READ, 4 * MiB);
      c.check('simple');
      await c.setup(STRIPED, TAG.striped, 0, 8 * MiB, READ, 16 * MiB);
      c.check('striped');
      // four chunks, four pieces: a chunk per strip
      expect(c.w.entries().filter((e) => e.nodeid === STRIPED)).toHaveLength(4);
      expect(c.w.entries().filter((e) => e.nodeid === SIMPLE)).toHaveLength(1);
    }));

  it('an exact overlap replaces (read-only → read-write); a partial one splits the old mapping; the last 2 MiB of a short file maps its allocation', () =>
    withWindow(async (c) => {
      await c.setup(STRIPED, TAG.striped, 8 * MiB, 8 * MiB, READ, 8 * MiB);
      await c.setup(STRIPED, TAG.striped, 8 * MiB, 8 * MiB, READ | WRITE, 8 * MiB);
      c.check('replaced by a writable mapping');
      expect(c.w.entries().every((e) => e.writable)).toBe(true);
      await c.setup(SIMPLE, TAG.simple, 0, 2 * MiB, READ, 10 * MiB);
      c.check('split in two');
      expect(c.w.entries().map((e) => [e.moffset / MiB, e.len / MiB, e.nodeid])).toEqual([
        [8, 2, STRIPED], [10, 2, SIMPLE], [12, 2, STRIPED], [14, 2, STRIPED],
      ]);
      await c.setup(SIMPLE, TAG.simple, 4 * MiB, 4 * MiB, READ, 6 * MiB);
      c.check('overlapping the front');
      await c.setup(SMALL, TAG.small, 0, 2 * MiB, READ, 0);
      c.check('a 5000-byte file maps its 2 MiB allocation');
    }));

  it('through an open file handle: READ on a read-only handle, WRITE only on a read-write one', () =>
    withWindow(async (c) => {
      const ro = await c.call(Op.OPEN, SIMPLE, openIn(0));
      const fhRo = new DataView(ro.got.buffer, ro.got.byteOffset + 16).getBigUint64(0, true);
      expect(ro.got).toEqual(reply(ro.u, openOut(fhRo, 0)));
      await c.setup(SIMPLE, TAG.simple, 0, 2 * MiB, READ, 0, fhRo);
      await c.refused(Op.SETUPMAPPING, SIMPLE, setupmappingIn(fhRo, 0, 2 * MiB, READ | WRITE, 2 * MiB), E.EBADF, 'WRITE through a read-only handle');
      await c.refused(Op.SETUPMAPPING, STRIPED, setupmappingIn(fhRo, 0, 2 * MiB, READ, 2 * MiB), E.EBADF, 'a handle of another file');
      const rw = await c.call(Op.OPEN, SIMPLE, openIn(2));
      const fhRw = new DataView(rw.got.buffer, rw.got.byteOffset + 16).getBigUint64(0, true);
      await c.setup(SIMPLE, TAG.simple, 0, 2 * MiB, READ | WRITE, 2 * MiB, fhRw);
      c.check('writable through a read-write handle');
    }));

  it('REMOVEMAPPING: several ranges in one request (split what they cut), then all ones = the whole window', () =>
    withWindow(async (c) => {
      await c.setup(STRIPED, TAG.striped, 0, 16 * MiB, READ, 0);
      await c.setup(SIMPLE, TAG.simple, 0, 8 * MiB, READ, 20 * MiB);
      const r = await c.call(Op.REMOVEMAPPING, 0n, removemappingIn([[2 * MiB, 4 * MiB], [22 * MiB, 2 * MiB], [28 * MiB, 4 * MiB]]));
      expect(r.got).toEqual(reply(r.u));
      for (const u of [1, 2, 11]) c.model[u] = null;
      c.check('three ranges removed');
      const again = await c.call(Op.REMOVEMAPPING, 0n, removemappingIn([[2 * MiB, 4 * MiB]]));
      expect(again.got, 'removing nothing is fine').toEqual(reply(again.u));
      const all = await c.call(Op.REMOVEMAPPING, 0n, removemappingIn([[0, ALL_ONES]]));
      expect(all.got).toEqual(reply(all.u));
      c.model.fill(null);
      c.check('whole window');
      expect(c.w.entries()).toEqual([]);
      const none = await c.call(Op.REMOVEMAPPING, 0n, removemappingIn([]));
      expect(none.got).toEqual(reply(none.u));
    }));
});

describe('errors: a clear errno and nothing half-mapped', () => {
  it('misaligned, outside the window, past the allocation, unknown fh or nodeid, a directory, unknown flags, WRITE on a meta file', () =>
    withWindow(async (c) => {
      await c.setup(STRIPED, TAG.striped, 0, 8 * MiB, READ, 8 * MiB);
      const cases: Array<[number, bigint, Uint8Array, number, string]> = [
        [Op.SETUPMAPPING, SIMPLE, setupmappingIn(NO_FH, 0, 2 * MiB, READ, MiB), E.EINVAL, 'window offset not 2 MiB aligned'],
        [Op.SETUPMAPPING, SIMPLE, setupmappingIn(NO_FH, 4096, 2 * MiB, READ, 0), E.EINVAL, 'file offset not aligned'],
        [Op.SETUPMAPPING, SIMPLE, setupmappingIn(NO_FH, 0, 3 * MiB, READ, 0), E.EINVAL, 'length not aligned'],
        [Op.SETUPMAPPING, SIMPLE, setupmappingIn(NO_FH, 0, 0, READ, 0), E.EINVAL, 'length 0'],
        [Op.SETUPMAPPING, SIMPLE, setupmappingIn(NO_FH, 0, 4 * MiB, READ, 30 * MiB), E.ERANGE, 'runs past the window end'],
        [Op.SETUPMAPPING, SIMPLE, setupmappingIn(NO_FH, 0, 2 * MiB, READ, 2 ** 50), E.ERANGE, 'far outside the window'],
        [Op.SETUPMAPPING, SIMPLE, setupmappingIn(NO_FH, 6 * MiB, 4 * MiB, READ, 0), E.ENXIO, 'past the simple file allocation'],
        [Op.SETUPMAPPING, SMALL, setupmappingIn(NO_FH, 2 * MiB, 2 * MiB, READ, 0), E.ENXIO, 'past the small file allocation'],
        [Op.SETUPMAPPING, STRIPED, setupmappingIn(NO_FH, 30 * MiB, 4 * MiB, READ, 0), E.ENXIO, 'past the striped allocation'],
        [Op.SETUPMAPPING, SIMPLE, setupmappingIn(4242n, 0, 2 * MiB, READ, 0), E.EBADF, 'unknown fh'],
        [Op.SETUPMAPPING, 424242n, setupmappingIn(NO_FH, 0, 2 * MiB, READ, 0), E.ENOENT, 'unknown nodeid'],
        [Op.SETUPMAPPING, DIR, setupmappingIn(NO_FH, 0, 2 * MiB, READ, 0), E.EISDIR, 'a directory'],
        [Op.SETUPMAPPING, SIMPLE, setupmappingIn(NO_FH, 0, 2 * MiB, READ | 4, 0), E.EINVAL, 'unknown flag bit'],
        [Op.SETUPMAPPING, META_LOG, setupmappingIn(NO_FH, 0, 2 * MiB, READ | WRITE, 0), E.EPERM, 'WRITE on .meta/.log'],
        [Op.REMOVEMAPPING, 0n, removemappingIn([[MiB, 2 * MiB]]), E.EINVAL, 'remove misaligned'],
        [Op.REMOVEMAPPING, 0n, removemappingIn([[8 * MiB, 2 * MiB], [30 * MiB, 4 * MiB]]), E.ERANGE, 'one range outside: none removed'],
        [Op.REMOVEMAPPING, 0n, removemappingIn([[2 * MiB, ALL_ONES]]), E.EINVAL, 'all ones not at 0'],
      ];
      for (const [op, id, body, errno, what] of cases) await c.refused(op, id, body, errno, what);
      // reading the log into the window is fine
      await c.setup(META_LOG, 0, 0, 2 * MiB, READ, 0);
      c.model[0] = null; // the log carries no pattern: only the table is compared from here
      expect(c.w.entries()[0]).toMatchObject({ moffset: 0, devOffset: 2 * MiB, nodeid: META_LOG });
    }));

  it('a malformed body is EINVAL from the decoder', () =>
    withWindow(async (c) => {
      const r = await c.call(Op.SETUPMAPPING, SIMPLE, setupmappingIn(NO_FH, 0, 2 * MiB, READ, 0).subarray(0, 39));
      expect(r.got).toEqual(errorReply(r.u, E.EINVAL));
      const m = removemappingIn([[0, 2 * MiB]]);
      new DataView(m.buffer).setUint32(0, 2, true);
      const rm = await c.call(Op.REMOVEMAPPING, 0n, m);
      expect(rm.got).toEqual(errorReply(rm.u, E.EINVAL));
    }));

  it('WRITE on a client host is EROFS (its window maps the device read-only); READ maps', async () => {
    const client = Famfs.open(img.image, { writable: false, systemUuid: CLIENT });
    const w = newWindow({ devices: [{ index: 0, path: img.image, writable: false }] });
    try {
      await withWindow(async (c) => {
        await c.refused(Op.SETUPMAPPING, SIMPLE, setupmappingIn(NO_FH, 0, 2 * MiB, READ | WRITE, 0), E.EROFS, 'client WRITE');
        await c.setup(SIMPLE, TAG.simple, 0, 2 * MiB, READ, 0);
        c.check('client READ');
      }, { famfs: client, window: w });
    } finally {
      w.close();
      client.close();
    }
  });

  it('window memory exhausted: more mappings than the window holds is ENOMEM, nothing mapped', async () => {
    const w = newWindow({ maxMappings: 3 });
    try {
      await withWindow(async (c) => {
        await c.setup(SIMPLE, TAG.simple, 0, 8 * MiB, READ, 0);
        await c.refused(Op.SETUPMAPPING, STRIPED, setupmappingIn(NO_FH, 0, 8 * MiB, READ, 16 * MiB), E.ENOMEM, 'four chunks, room for two more');
        // splitting one mapping in three takes room too
        await c.setup(STRIPED, TAG.striped, 0, 4 * MiB, READ, 16 * MiB);
        await c.refused(Op.SETUPMAPPING, SMALL, setupmappingIn(NO_FH, 0, 2 * MiB, READ, 2 * MiB), E.ENOMEM, 'a split that needs a fourth');
      }, { window: w });
      expect(w.stats()).toMatchObject({ mappings: 3, maxMappings: 3, setups: 2, failures: 2 });
    } finally {
      w.close();
    }
  });

  it('a system call failing half way (a device fd gone): the error comes back and the range shows what it showed before', async () => {
    // daxdev 1: a second sparse image holding a copy of striped.bin's first strip at the same offset
    const strip0 = (img.famfs.statFile('striped.bin').fmap as Extract<FmapRecord, { type: 'interleave' }>).extents[0]!.strips[0]!;
    const second = path.join(img.dir, 'dev1.img');
    const fd1 = fs.openSync(second, 'w+');
    fs.ftruncateSync(fd1, 8 * GiB);
    fs.writeSync(fd1, img.famfs.dev.view(strip0.offset, strip0.len), 0, strip0.len, strip0.offset);
    fs.closeSync(fd1);
    const w = newWindow({ devices: [{ index: 0, path: img.image, writable: true }, { index: 1, path: second, writable: true }] });
    // a test double's file, laid out by hand: interleaved over daxdev 0 and 1 (chunk k on device k mod 2), both strips
    // at striped.bin's first strip, so the bytes are striped.bin's chunks 0, 4, 8 …
    class TwoDeviceFs extends FamfsFuseFs {
      override fileOf(id: bigint): FileNode {
        if (id !== 999n) return super.fileOf(id);
        const fmap: FmapRecord = { type: 'interleave', extents: [{ nstrips: 2, chunkSize: UNIT, strips: [{ ...strip0, devIndex: 0 }, { ...strip0, devIndex: 1 }] }] };
        return { kind: 'file', relpath: 'two.bin', size: 8 * MiB, flags: 0, mode: 0o644, uid: 0, gid: 0, index: 983, fmap };
      }
    }
    try {
      await withWindow(async (c) => {
        await c.setup(SIMPLE, TAG.simple, 0, 8 * MiB, READ, 8 * MiB);
        const dev1 = w.deviceList().find((d) => d.index === 1)!;
        fs.closeSync(dev1.fd); // behind the window's back: the second piece's mmap fails with EBADF
        await c.refused(Op.SETUPMAPPING, 999n, setupmappingIn(NO_FH, 0, 8 * MiB, READ, 8 * MiB), E.EBADF, 'mmap of the second piece fails');
        // the first piece (device 0) was mapped and then put back: units 4..7 show simple.bin again (checked by refused)
        await c.setup(999n, 0, 0, 2 * MiB, READ, 0);
        c.model[0] = { tag: TAG.striped, foffset: 0, writable: false };
        c.check('device 0 still maps');
      }, { window: w, makeFs: (f) => new TwoDeviceFs(f, { cache: 'auto' }) });
    } finally {
      w.close();
    }
  });

  it('a closed window is EBADF (closing twice is fine); bad window options are refused', () => {
    const w = newWindow();
    w.close();
    expect(thrown(() => w.remove([{ moffset: 0, len: UNIT }]), FamfsError).code).toBe('EBADF');
    expect(() => w.close()).not.toThrow();
    const bad = [
      () => DaxWindow.create({ size: 3 * MiB, devices: [{ index: 0, path: img.image, writable: false }] }),
      () => DaxWindow.create({ size: WINDOW, alignShift: 22, devices: [{ index: 0, path: img.image, writable: false }] }),
      () => DaxWindow.create({ size: WINDOW, devices: [] }),
      () => DaxWindow.create({ size: WINDOW, devices: [{ index: 0, path: img.dir, writable: false }] }),
    ];
    for (const fn of bad) expect(thrown(fn, FamfsError).code).toMatch(/EINVAL|EISDIR/);
  });
});

// ------------------------------------------------------------------ the VMM's view

const here = path.dirname(fileURLToPath(import.meta.url));

describe('handing the window to a VMM (SCM_RIGHTS over the window socket)', () => {
  it('a VMM in this process: the snapshot, then every update, show the same bytes as the server window', async () => {
    const sock = path.join(img.dir, 'window.sock');
    const log = new Logger('error', () => undefined);
    const w = newWindow();
    const ch = WindowChannel.listen(sock, w, log);
    try {
      await withWindow(async (c) => {
        await c.setup(STRIPED, TAG.striped, 0, 8 * MiB, READ, 0);
        await c.setup(SIMPLE, TAG.simple, 2 * MiB, 4 * MiB, READ | WRITE, 16 * MiB);
        expect((fs.statSync(sock).mode & 0o777)).toBe(0o600);
        // VmmWindow.connect blocks until the snapshot is whole: here the daemon side runs on this
        // very event loop, so connect, let the loop accept and send, then take the snapshot
        const fd = native.seqpacketConnect(sock);
        await new Promise((r) => setTimeout(r, 50));
        expect(ch.clients).toBe(1);
        const vmm = VmmWindow.fromSocket(fd);
        try {
          expect(vmm.generation).toBe(w.generation);
          expect(checkWindow(vmm, c.model, UNIT, 3, true)).toBeNull();
          await c.setup(SMALL, TAG.small, 0, 2 * MiB, READ, 2 * MiB); // splits the striped mapping
          const rm = await c.call(Op.REMOVEMAPPING, 0n, removemappingIn([[18 * MiB, 2 * MiB]]));
          expect(rm.got).toEqual(reply(rm.u));
          c.model[9] = null;
          expect(vmm.pump()).toBe(2);
          expect(vmm.generation).toBe(w.generation);
          expect(checkWindow(vmm, c.model, UNIT, 4, true)).toBeNull();
          c.check('server view');
        } finally {
          vmm.close();
        }
        await new Promise((r) => setTimeout(r, 50));
        expect(ch.clients).toBe(0);
      }, { window: w });
    } finally {
      ch.close();
      w.close();
    }
    expect(fs.existsSync(sock)).toBe(false);
  });

  it('a VMM in another process maps the window through the fds it received and reads the file bytes', async () => {
    const sock = path.join(img.dir, 'window2.sock');
    const w = newWindow();
    const ch = WindowChannel.listen(sock, w, new Logger('error', () => undefined));
    try {
      await withWindow(async (c) => {
        await c.setup(STRIPED, TAG.striped, 4 * MiB, 12 * MiB, READ, 2 * MiB);
        // the child: connect, take the snapshot (fds over SCM_RIGHTS), map its own window, probe it
        // the child runs the built module (`make test` builds first)
        const dist = path.resolve(here, '../dist/window-channel.js');
        if (!fs.existsSync(dist)) expect.fail(`${dist} is missing: run make build`);
        const offsets = c.model.flatMap((_, u) => [u * UNIT, u * UNIT + UNIT - 8]);
        const script = `
          const { VmmWindow } = await import(${JSON.stringify(dist)});
          const w = VmmWindow.connect(${JSON.stringify(sock)});
          const offs = ${JSON.stringify(offsets)};
          const dst = new Uint8Array(offs.length * 8);
          const st = w.probe(offs, 8, dst);
          const dv = new DataView(dst.buffer);
          const words = offs.map((_, i) => st[i] ? dv.getBigUint64(i * 8, true).toString() : null);
          console.log(JSON.stringify({ pid: process.pid, generation: w.generation, words }));
          w.close();`;
        const out = await runNode(script);
        expect(out.status, out.stderr).toBe(0);
        const res = JSON.parse(out.stdout) as { pid: number; generation: number; words: Array<string | null> };
        expect(res.pid).not.toBe(process.pid);
        expect(res.generation).toBe(w.generation);
        const want = offsets.map((o) => {
          const m = c.model[Math.floor(o / UNIT)];
          return m ? patternWord(m.tag, m.foffset + (o % UNIT)).toString() : null;
        });
        expect(res.words).toEqual(want);
      }, { window: w });
    } finally {
      ch.close();
      w.close();
    }
  });

  it('snapshot messages: the header and layout by hand, and a large table split into MORE messages', () => {
    const w = newWindow({ size: 8 * GiB, maxMappings: 4096 });
    try {
      const simple = img.famfs.statFile('simple.bin').fmap as Extract<FmapRecord, { type: 'simple' }>;
      const x = simple.extents[0]!;
      w.setup(4 * MiB, [{ devIndex: 0, devOffset: x.offset, len: 2 * MiB }], { writable: true, nodeid: SIMPLE, foffset: 0 });
      const [m, ...rest] = encodeSnapshot(w);
      expect(rest).toEqual([]);
      const dv = new DataView(m!.buffer);
      expect([dv.getUint32(0, true), dv.getUint16(4, true), dv.getUint16(6, true), Number(dv.getBigUint64(8, true)), dv.getUint32(16, true), dv.getUint32(20, true)])
        .toEqual([0x4e495746, 1, 1, 1, 1, 0]);
      expect([Number(dv.getBigUint64(24, true)), dv.getUint32(32, true), dv.getUint32(36, true), dv.getUint32(40, true)]).toEqual([8 * GiB, 21, 1, 1]);
      expect([dv.getUint32(48, true), dv.getUint32(52, true)]).toEqual([0, 1]); // device 0, writable
      expect([dv.getUint32(56, true), dv.getUint32(60, true), dv.getUint32(64, true), Number(dv.getBigUint64(72, true)), Number(dv.getBigUint64(80, true)), Number(dv.getBigUint64(88, true))])
        .toEqual([1, 1, 0, 4 * MiB, 2 * MiB, x.offset]);
      expect(m!.length).toBe(24 + 24 + 8 + 40);
      // 3000 one-unit mappings: 2048 in the snapshot, the rest in an UPDATE marked as the same generation
      for (let k = 0; k < 3000; k++) w.setup((8 + k) * MiB * 2, [{ devIndex: 0, devOffset: x.offset, len: 2 * MiB }], { writable: false, nodeid: SIMPLE, foffset: 0 });
      const msgs = encodeSnapshot(w).map(decodeWindowMessage);
      expect(msgs.map((d) => [d.type, d.ops.length, d.more, d.generation])).toEqual([['snapshot', 2048, true, 3001], ['update', 953, false, 3001]]);
      expect(() => decodeWindowMessage(encodeSnapshot(w)[0]!.subarray(0, 100))).toThrow(FamfsError);
    } finally {
      w.close();
    }
  });
});

/** Run an ES module script in a child node (asynchronously: the daemon side must keep accepting on this loop). */
function runNode(script: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('subscribers', () => {
  it('one that throws is dropped; the change stands and the others still hear of it', () => {
    const w = newWindow();
    try {
      const x = (img.famfs.statFile('simple.bin').fmap as Extract<FmapRecord, { type: 'simple' }>).extents[0]!;
      const heard: number[] = [];
      w.subscribe(() => {
        throw new Error('a broken mirror');
      });
      w.subscribe((u) => heard.push(u.generation));
      w.setup(0, [{ devIndex: 0, devOffset: x.offset, len: UNIT }], { writable: false, nodeid: SIMPLE, foffset: 0 });
      w.remove([{ moffset: 0, len: UNIT }]);
      expect(heard).toEqual([1, 2]);
      expect(w.stats()).toMatchObject({ subscribers: 1, setups: 1, removes: 1, failures: 0, mappings: 0 });
    } finally {
      w.close();
    }
  });
});

describe('hostile SETUPMAPPING / REMOVEMAPPING bodies (2,000 seeded)', () => {
  it('each gets one reply; the table stays sorted, disjoint, inside the window, and agrees with what the window shows', () =>
    withWindow(async (c) => {
      const r = seeded('window hostile');
      const u64 = (): bigint => (BigInt(r.next()) << 32n) | BigInt(r.next());
      // (no meta file: the log carries no pattern to check a window against)
      const ids = [SIMPLE, STRIPED, SMALL, DIR, 1n, 99999n];
      const aligned = (): number => r.int(WINDOW / UNIT + 2) * UNIT;
      let ok = 0;
      for (let i = 0; i < 2000; i++) {
        let got: { u: bigint; got: Uint8Array };
        if (r.int(2) === 0) {
          const body = setupmappingIn(r.pick([NO_FH, 1n, u64()]), r.pick([aligned, () => r.int(1 << 30)])(), r.pick([aligned, () => r.int(1 << 24)])(), r.pick([READ, READ | WRITE, WRITE, 0, r.next()]), r.pick([aligned, () => r.int(1 << 26)])());
          if (r.int(8) === 0) new DataView(body.buffer).setBigUint64(8 * r.int(5), u64(), true);
          got = await c.call(Op.SETUPMAPPING, r.pick(ids), body);
        } else {
          const n = r.int(4);
          const body = removemappingIn(Array.from({ length: n }, () => [r.pick([aligned, () => r.int(1 << 26)])(), r.pick([() => BigInt(aligned()), u64, () => ALL_ONES])()] as [number, bigint]));
          if (r.int(10) === 0) new DataView(body.buffer).setUint32(0, r.next(), true);
          got = await c.call(Op.REMOVEMAPPING, 0n, body);
        }
        const v = new DataView(got.got.buffer, got.got.byteOffset);
        expect(v.getBigUint64(8, true)).toBe(got.u);
        const err = v.getInt32(4, true);
        expect(err <= 0 && err > -512 && got.got.length === 16, `#${i}`).toBe(true);
        if (err === 0) ok++;
        const es = c.w.entries();
        for (let k = 0; k < es.length; k++) {
          const e = es[k]!;
          expect(e.moffset % UNIT === 0 && e.len > 0 && e.moffset + e.len <= WINDOW).toBe(true);
          if (k > 0) expect(es[k - 1]!.moffset + es[k - 1]!.len <= e.moffset).toBe(true);
        }
        // the model is the window's own table here: each entry's unit must show what the table says
        c.model.fill(null);
        for (const e of es) {
          const f = img.files.find((x) => x.nodeid === e.nodeid);
          for (let off = 0; off < e.len; off += UNIT) c.model[(e.moffset + off) / UNIT] = f === undefined ? null : { tag: f.tag, foffset: e.foffset + off, writable: e.writable };
        }
        c.check(`#${i}`);
      }
      expect(ok).toBeGreaterThan(200);
    }));
});
