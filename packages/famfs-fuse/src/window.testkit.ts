/**
 * Test helper for the DAX window suites: a famfs image whose files carry a
 * self-describing pattern, and a check of what a window shows against a
 * model of which file byte each window unit should show.
 *
 * The pattern: the 8-byte word at file offset x (a multiple of 8) of the
 * file tagged T is T * 2^40 + x / 8. A word read from the window therefore
 * says by itself which file and which offset it came from — the check needs
 * no fmap, no resolver, no device offsets: it is independent of the code
 * under test (fmap.ts), and interleave placement errors show up as wrong
 * offsets.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Famfs } from '@famfs/core';
import { rng } from '../../../test/random.js';
import { formattedImage } from '../../../test/helpers.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const UNIT = 2 * MiB;

export interface PatternFile {
  rel: string;
  tag: number;
  size: number;
  /** bytes of the map (the allocation): SETUPMAPPING may name all of them */
  capacity: number;
  /** nodeid on a FamfsFuseFs (log index + 16) */
  nodeid: bigint;
}

export interface WindowImage {
  dir: string;
  image: string;
  famfs: Famfs;
  files: PatternFile[];
  close(): void;
}

/** The pattern word of file `tag` at file offset `x` (x a multiple of 8). */
export function patternWord(tag: number, x: number): bigint {
  return (BigInt(tag) << 40n) + BigInt(x / 8);
}

export interface FileSpec {
  rel: string;
  size: number;
  interleave?: { nstrips: number; nbuckets: number; chunkSize: number };
}

/**
 * An 8 GiB sparse image made by core's mkfs (the master is `systemUuid`),
 * with `specs` created in order (nodeids 16, 17, …) and every file filled
 * with its pattern over its whole allocation (so any allocated byte a
 * window can show is known).
 */
export function makeWindowImage(label: string, systemUuid: string, specs: readonly FileSpec[]): WindowImage {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `famfs-${label}-`));
  const image = path.join(dir, 'famfs.img');
  const dev = formattedImage(image, 8 * GiB, systemUuid);
  const next = rng(0x77).next;
  const famfs = Famfs.fromDevice(dev, { systemUuid, random: (bound) => next() % bound });
  const files: PatternFile[] = [];
  specs.forEach((s, i) => {
    const { file } = famfs.createFile(s.rel, s.size, { mode: 0o644, interleave: s.interleave });
    const capacity = file.fmap.type === 'simple'
      ? file.fmap.extents.reduce((n, x) => n + x.len, 0)
      : file.fmap.extents.reduce((n, ie) => n + ie.nstrips * ie.strips[0]!.len, 0);
    const tag = i + 1;
    // the whole allocation: pattern past the size too, written through a twin entry
    // of the same map that is as long as the allocation (core writes within a file's size only)
    const twin = { kind: 'file' as const, relpath: file.relpath, size: capacity, flags: file.flags, mode: file.mode, uid: file.uid, gid: file.gid, index: file.index, fmap: file.fmap };
    // buffers come in multiples of 4 bytes: write the pattern's low and high halves
    famfs.fillFile(twin, (buf, off) => {
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      for (let k = 0; k + 4 <= buf.length; k += 4) {
        const x = off + k;
        dv.setUint32(k, x % 8 === 0 ? (x / 8) % 2 ** 32 : tag * 2 ** 8 + Math.floor(x / 8 / 2 ** 32), true);
      }
    });
    files.push({ rel: s.rel, tag, size: s.size, capacity, nodeid: 16n + BigInt(i) });
  });
  return {
    dir, image, famfs, files,
    close() {
      famfs.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What a window unit should show: nothing, or file `tag` from `foffset`, writable or not. */
export type UnitModel = { tag: number; foffset: number; writable: boolean } | null;

/** Something with a safe probe (DaxWindow, VmmWindow). */
export interface Probeable {
  probe(offsets: readonly number[], segLen: number, dst: Uint8Array, writeBack?: boolean): Uint8Array;
}

/**
 * Probe offsets within each unit (its first word, a word `salt` picks in the
 * middle, its last word) through `w` and compare with `model`: a null unit
 * must fault everywhere; a mapped one must show the pattern of its file at
 * the right offsets and be writable exactly when the model says. Returns a
 * description of the first mismatch, or null.
 */
export function checkWindow(w: Probeable, model: readonly UnitModel[], unit: number, salt: number, checkWrite: boolean): string | null {
  const inUnit = [0, (((salt * 2654435761) >>> 0) % (unit / 8)) * 8, unit - 8];
  const offsets: number[] = [];
  model.forEach((_, u) => inUnit.forEach((d) => offsets.push(u * unit + d)));
  const dst = new Uint8Array(offsets.length * 8);
  const st = w.probe(offsets, 8, dst, checkWrite);
  const dv = new DataView(dst.buffer);
  for (let i = 0; i < offsets.length; i++) {
    const u = Math.floor(i / inUnit.length);
    const m = model[u]!;
    const d = inUnit[i % inUnit.length]!;
    if (m === null) {
      if (st[i] !== 0) return `unit ${u} (+${d}) should fault, probe status ${st[i]}`;
      continue;
    }
    const want = checkWrite ? (m.writable ? 2 : 1) : 1;
    if (st[i] !== want) return `unit ${u} (+${d}) probe status ${st[i]}, expected ${want} (${JSON.stringify(m)})`;
    const got = dv.getBigUint64(i * 8, true);
    const exp = patternWord(m.tag, m.foffset + d);
    if (got !== exp) {
      return `unit ${u} (+${d}) shows file ${got >> 40n} offset ${(got & 0xff_ffff_ffffn) * 8n}, expected file ${m.tag} offset ${m.foffset + d}`;
    }
  }
  return null;
}
