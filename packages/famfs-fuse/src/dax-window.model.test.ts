/**
 * Model-based test of the DAX window: seeded random sequences of
 * SETUPMAPPING / REMOVEMAPPING (overlaps, splits, exact replacements,
 * simple and interleaved files, read-only and writable, errors among them)
 * driven through the test transport, each sequence starting from an empty
 * window (REMOVEMAPPING with length all ones). After every step the test
 * compares with a model that says, per 2 MiB window unit, which file and
 * which file offset it shows (or that it faults):
 *  - the reply, byte for byte (success header, or the errno the model predicts);
 *  - the server's own window, read through a probe that cannot fault
 *    (process_vm_readv: an unmapped page is EFAULT, not SIGSEGV), and
 *    written back through process_vm_writev (which honours the protection:
 *    read-only units must refuse);
 *  - a VMM's window, built from the memfd and device fds it received over
 *    the window socket (SCM_RIGHTS) and the updates that followed;
 *  - now and then /proc/self/maps: each unit is the image file, read-only
 *    or read-write, or the memfd base layer with no access.
 * The bytes carry their own file and offset (window.testkit's pattern), so
 * the check knows nothing of fmaps or interleaving.
 *
 * FAMFS_WINDOW_SEQUENCES scales it (default 10,000 — about 35,000 steps);
 * the seed is the suite seed (FAMFS_TEST_SEED) with this test's label.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as native from '@famfs/native';
import { DaxWindow } from './dax-window.js';
import { Logger } from './log.js';
import { E, KiB, Op, errorReply, initIn, openIn, removemappingIn, reply, request, serve, setupmappingIn } from './test-kernel.testkit.js';
import { MiB, type PatternFile, UNIT, type UnitModel, type WindowImage, checkWindow, makeWindowImage } from './window.testkit.js';
import { VmmWindow, WindowChannel } from './window-channel.js';
import { seeded } from '../../../test/random.js';

const SEQUENCES = Number(process.env.FAMFS_WINDOW_SEQUENCES ?? 10_000);
const MASTER = '5f0e0d0c-0b0a-4908-8706-050403020100';
const UNITS = 16;
const WINDOW = UNITS * UNIT;
const NO_FH = 0xffff_ffff_ffff_ffffn;
const ALL_ONES = 0xffff_ffff_ffff_ffffn;
const READ = 2;
const WRITE = 1;

let img: WindowImage;

beforeAll(() => {
  img = makeWindowImage('window-model', MASTER, [
    { rel: 'a-simple', size: 16 * MiB },
    { rel: 'b-4x2m', size: 32 * MiB, interleave: { nstrips: 4, nbuckets: 8, chunkSize: 2 * MiB } },
    { rel: 'c-2x4m', size: 16 * MiB, interleave: { nstrips: 2, nbuckets: 8, chunkSize: 4 * MiB } },
    { rel: 'd-short', size: 3 * MiB + 5 },
    { rel: 'e-3x2m', size: 12 * MiB, interleave: { nstrips: 3, nbuckets: 6, chunkSize: 2 * MiB } },
  ]);
});

afterAll(() => img?.close());

/** The units of `model` as /proc/self/maps must show them: [perms, backing] per unit. */
function checkMaps(w: DaxWindow, model: readonly UnitModel[], image: string): string | null {
  const base = w.baseAddress;
  const lines = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean);
  const vmas = lines.map((l) => {
    const [range, perms, , , , ...rest] = l.split(/\s+/);
    const [s, e] = range!.split('-').map((x) => parseInt(x, 16));
    return { s: s!, e: e!, perms: perms!, path: rest.join(' ') };
  });
  for (let u = 0; u < model.length; u++) {
    const at = base + u * UNIT;
    // a unit is never cut in two (everything is 2 MiB aligned), so one VMA holds it whole
    const v = vmas.find((x) => x.s <= at && at < x.e);
    if (v === undefined || v.e < at + UNIT) return `unit ${u}: not one mapping in /proc/self/maps`;
    const m = model[u];
    if (m === null || m === undefined) {
      if (v.perms !== '---s' || !v.path.includes('memfd:')) return `unit ${u}: ${v.perms} ${v.path}, expected the memfd base layer`;
    } else if (v.perms !== (m.writable ? 'rw-s' : 'r--s') || v.path !== image) {
      return `unit ${u}: ${v.perms} ${v.path}, expected ${m.writable ? 'rw-s' : 'r--s'} ${image}`;
    }
  }
  return null;
}

describe(`the DAX window against a model: ${SEQUENCES} seeded sequences`, () => {
  it('every step: the reply, the server window, the VMM window (and now and then /proc/self/maps) agree with the model', async () => {
    const R = seeded('dax window model');
    const files: PatternFile[] = img.files;
    const w = DaxWindow.create({ size: WINDOW, devices: [{ index: 0, path: img.image, writable: true }] });
    const sock = path.join(img.dir, 'model.sock');
    const ch = WindowChannel.listen(sock, w, new Logger('error', () => undefined));
    const s = serve(img.famfs, 'error', false, { window: w });
    let vmm: VmmWindow | undefined;
    const seen = { steps: 0, setups: 0, interleaved: 0, writable: 0, viaFh: 0, replaced: 0, split: 0, removes: 0, wholeWindow: 0, errors: 0, mapsChecks: 0 };
    try {
      const call = async (op: number, id: bigint, body: Uint8Array): Promise<{ u: bigint; got: Uint8Array }> => {
        const u = s.kernel.unique();
        return { u, got: await s.kernel.call(request(op, u, id, body)) };
      };
      await call(Op.INIT, 0n, initIn(7, 45, 128 * KiB, 0x7fff_fffb, 0x7ff));
      // a read-write handle per file, for requests that name one (the rest say fh = all ones, as virtio-fs does)
      const fhs: bigint[] = [];
      for (const f of files) {
        const o = await call(Op.OPEN, f.nodeid, openIn(2));
        fhs.push(new DataView(o.got.buffer, o.got.byteOffset + 16).getBigUint64(0, true));
      }
      const vfd = native.seqpacketConnect(sock);
      await new Promise((r) => setTimeout(r, 20));
      vmm = VmmWindow.fromSocket(vfd);

      const model: UnitModel[] = new Array<UnitModel>(UNITS).fill(null);
      /** the SETUPMAPPING ranges (in units) done this sequence, for exact replacements */
      let done: Array<[number, number]> = [];
      let salt = 0;

      const verify = (what: string): void => {
        seen.steps++;
        salt++;
        const own = checkWindow(w, model, UNIT, salt, true);
        if (own !== null) expect.fail(`${what}: server window: ${own}`);
        vmm!.pump();
        if (vmm!.generation !== w.generation) expect.fail(`${what}: the VMM is at generation ${vmm!.generation}, the window at ${w.generation}`);
        const theirs = checkWindow(vmm!, model, UNIT, salt * 7 + 1, true);
        if (theirs !== null) expect.fail(`${what}: VMM window: ${theirs}`);
        const mapped = model.filter((m) => m !== null).length * UNIT;
        if (w.mappedBytes !== mapped) expect.fail(`${what}: the window says ${w.mappedBytes} bytes are mapped, the model ${mapped}`);
        if (seen.steps % 997 === 0) {
          seen.mapsChecks++;
          const maps = checkMaps(w, model, img.image);
          if (maps !== null) expect.fail(`${what}: /proc/self/maps: ${maps}`);
        }
      };

      const expectReply = (what: string, r: { u: bigint; got: Uint8Array }, errno: number | null): void => {
        const want = errno === null ? reply(r.u) : errorReply(r.u, errno);
        if (Buffer.compare(r.got, want) !== 0) {
          expect.fail(`${what}: reply ${Buffer.from(r.got).toString('hex')}, expected ${Buffer.from(want).toString('hex')}`);
        }
      };

      for (let seq = 0; seq < SEQUENCES; seq++) {
        const reset = await call(Op.REMOVEMAPPING, 0n, removemappingIn([[0, ALL_ONES]]));
        expectReply(`sequence ${seq} reset`, reset, null);
        model.fill(null);
        done = [];
        verify(`sequence ${seq} reset`);
        const steps = R.range(1, 4);
        for (let k = 0; k < steps; k++) {
          const what = `sequence ${seq} step ${k} (seed ${R.seed})`;
          const dice = R.int(100);
          if (dice < 62) {
            // SETUPMAPPING of a valid range: somewhere random, over an existing mapping, or exactly a previous one
            const fi = R.int(files.length);
            const f = files[fi]!;
            const capUnits = f.capacity / UNIT;
            let mu: number;
            let n: number;
            if (done.length > 0 && R.int(4) === 0) {
              [mu, n] = R.pick(done);
              n = Math.min(n, capUnits);
            } else {
              n = R.range(1, Math.min(4, capUnits));
              const mappedUnits = model.flatMap((m, u) => (m !== null ? [u] : []));
              mu = mappedUnits.length > 0 && R.int(2) === 0 ? Math.min(R.pick(mappedUnits) + R.range(-1, 1), UNITS - n) : R.int(UNITS - n + 1);
              mu = Math.max(0, Math.min(mu, UNITS - n));
            }
            const fu = R.int(capUnits - n + 1);
            const writable = R.int(3) === 0;
            const viaFh = R.int(5) === 0;
            // coverage only (the window's own table): does this request split a mapping, or replace mappings exactly?
            const lo = mu * UNIT;
            const hi = lo + n * UNIT;
            const before = w.entries();
            const cuts = before.some((e) => (e.moffset < lo && e.moffset + e.len > lo) || (e.moffset < hi && e.moffset + e.len > hi));
            const exact = !cuts && before.some((e) => e.moffset === lo) && before.some((e) => e.moffset + e.len === hi);
            const r = await call(Op.SETUPMAPPING, f.nodeid, setupmappingIn(viaFh ? fhs[fi]! : NO_FH, fu * UNIT, n * UNIT, READ | (writable ? WRITE : 0), mu * UNIT));
            expectReply(`${what}: SETUPMAPPING ${f.rel} units ${fu}+${n} at ${mu}`, r, null);
            for (let i = 0; i < n; i++) model[mu + i] = { tag: f.tag, foffset: (fu + i) * UNIT, writable };
            done.push([mu, n]);
            seen.setups++;
            if (f.rel.includes('x')) seen.interleaved++;
            if (writable) seen.writable++;
            if (viaFh) seen.viaFh++;
            if (cuts) seen.split++;
            if (exact) seen.replaced++;
          } else if (dice < 90) {
            // REMOVEMAPPING of 1–3 ranges (some over nothing), now and then the whole window
            const ranges: Array<[number, bigint | number]> = [];
            if (R.int(20) === 0) {
              ranges.push([0, ALL_ONES]);
              model.fill(null);
              seen.wholeWindow++;
            } else {
              for (let c = R.range(1, 3); c > 0; c--) {
                const n = R.range(1, 6);
                const mu = R.int(UNITS - n + 1);
                ranges.push([mu * UNIT, n * UNIT]);
                for (let i = 0; i < n; i++) model[mu + i] = null;
              }
            }
            const r = await call(Op.REMOVEMAPPING, 0n, removemappingIn(ranges));
            expectReply(`${what}: REMOVEMAPPING ${JSON.stringify(ranges.map(([m, l]) => [m, String(l)]))}`, r, null);
            seen.removes++;
          } else {
            // a request that must fail and change nothing
            const f = R.pick(files);
            const kind = R.int(5);
            const [body, errno, id, op] =
              kind === 0 ? [setupmappingIn(NO_FH, 0, UNIT, READ, R.int(UNITS - 1) * UNIT + R.range(1, UNIT / 4096 - 1) * 4096), E.EINVAL, f.nodeid, Op.SETUPMAPPING] as const
                : kind === 1 ? [setupmappingIn(NO_FH, 0, 2 * UNIT, READ, (UNITS - 1) * UNIT), E.ERANGE, f.nodeid, Op.SETUPMAPPING] as const
                  : kind === 2 ? [setupmappingIn(NO_FH, f.capacity - UNIT, 2 * UNIT, READ, 0), E.ENXIO, f.nodeid, Op.SETUPMAPPING] as const
                    : kind === 3 ? [setupmappingIn(0x7777n, 0, UNIT, READ, 0), E.EBADF, f.nodeid, Op.SETUPMAPPING] as const
                      : [removemappingIn([[0, UNIT], [R.range(1, UNIT / 4096 - 1) * 4096, UNIT]]), E.EINVAL, 0n, Op.REMOVEMAPPING] as const;
            const r = await call(op, id, body);
            expectReply(`${what}: error case ${kind}`, r, errno);
            seen.errors++;
          }
          verify(what);
        }
      }
    } finally {
      vmm?.close();
      await s.stop();
      ch.close();
      w.close();
    }
    console.log(`DAX window model: ${SEQUENCES} sequences, ${JSON.stringify(seen)}`);
    expect(seen.steps).toBeGreaterThanOrEqual(SEQUENCES * 2);
    // the test did what it says: every kind of step, many times
    for (const k of ['setups', 'interleaved', 'writable', 'viaFh', 'replaced', 'split', 'removes', 'wholeWindow', 'errors'] as const) {
      expect(seen[k], k).toBeGreaterThan(Math.min(50, SEQUENCES / 200));
    }
    expect(seen.mapsChecks).toBeGreaterThan(0);
    expect(s.logLines).toEqual([]);
  }, Math.max(120_000, SEQUENCES * 30));
});
