/**
 * Hostile input: random and mutated requests through the decoder dispatch
 * must either decode or throw a ProtocolError — never a RangeError, a
 * TypeError, a "decoder bug" Error, or a hang.
 */
import { describe, expect, it } from 'vitest';
import { FamfsProfiles } from './constants.js';
import { ProtocolError } from './cursor.js';
import { decodeRequest } from './requests.js';
// the fake kernel's PRNG: deterministic, so a failure reproduces
import { rng } from '../../../../test/random.js';


const OPCODES = [
  1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 22, 23, 24, 25, 26, 27, 28, 29, 30, 34, 35, 36, 38, 42, 44,
  45, 46, 48, 49, 50, 53, 54, 55, 4096, 0, 7, 0xffff_ffff,
];
const PROFILES = [undefined, { famfs: FamfsProfiles['kernel-v10'] }, { famfs: FamfsProfiles['libfuse-famfs'] }];

function decodeOrProtocolError(b: Uint8Array, opts: (typeof PROFILES)[number]): 'ok' | 'protocol-error' {
  try {
    decodeRequest(b, opts);
    return 'ok';
  } catch (e) {
    if (e instanceof ProtocolError) return 'protocol-error';
    throw e;
  }
}

describe('fuzz: the request dispatch only ever throws ProtocolError', () => {
  it('1,000 random byte strings, half with a consistent header', () => {
    const next = rng(0xf05e).next;
    const seen = { ok: 0, 'protocol-error': 0 };
    for (let i = 0; i < 1000; i++) {
      const len = next() % 200;
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = next() & 0xff;
      if (i % 2 === 0 && len >= 40) {
        // get past the header checks so the body decoders see the junk
        const v = new DataView(b.buffer);
        v.setUint32(0, len, true);
        v.setUint32(4, OPCODES[next() % OPCODES.length]!, true);
        v.setUint16(36, next() % 3 === 0 ? (next() % 4) : 0, true);
      }
      for (const opts of PROFILES) seen[decodeOrProtocolError(b, opts)]++;
    }
    expect(seen['protocol-error']).toBeGreaterThan(0);
    expect(seen.ok).toBeGreaterThan(0);
  });

  it('1,000 mutations of valid requests (flipped bytes, cut or extended)', () => {
    const next = rng(0xbeef).next;
    const seeds: Uint8Array[] = [];
    const mk = (len: number, opcode: number, fill: (v: DataView, b: Uint8Array) => void): void => {
      const b = new Uint8Array(len);
      const v = new DataView(b.buffer);
      v.setUint32(0, len, true);
      v.setUint32(4, opcode, true);
      fill(v, b);
      seeds.push(b);
    };
    mk(104, 26, (v) => (v.setUint32(40, 7, true), v.setUint32(44, 45, true), v.setUint32(52, 0x4000_0000, true)));
    mk(44, 1, (_v, b) => b.set([0x61, 0x62, 0x63, 0], 40));
    mk(80 + 16, 16, (v) => v.setUint32(56, 16, true));
    mk(40 + 8 + 32, 42, (v) => v.setUint32(40, 2, true));
    mk(40 + 4 + 32, 49, (v) => v.setUint32(40, 2, true));
    mk(40 + 8 + 8, 12, (_v, b) => b.set([0x6f, 0x6c, 0x64, 0, 0x6e, 0x65, 0x77, 0], 48));
    mk(40 + 8 + 9, 22, (_v, b) => b.set([0x75, 0x73, 0x65, 0x72, 0x2e, 0x61, 0x62, 0x63, 0], 48));
    mk(48, 54, (v) => v.setUint32(40, 4096, true));
    mk(40 + 8 + 2 + 16, 9, (v, b) => {
      b[48] = 0x64;
      v.setUint16(36, 2, true);
      v.setUint32(50, 16, true);
      v.setUint32(54, 32, true);
      v.setUint32(58, 1, true);
    });
    const seen = { ok: 0, 'protocol-error': 0 };
    for (let i = 0; i < 1000; i++) {
      const base = seeds[next() % seeds.length]!;
      let b: Uint8Array = base.slice();
      const flips = 1 + (next() % 4);
      for (let f = 0; f < flips; f++) b[next() % b.length] = next() & 0xff;
      const shape = next() % 4;
      if (shape === 1) b = b.slice(0, next() % b.length);
      if (shape === 2) {
        const grown = new Uint8Array(b.length + 1 + (next() % 16));
        grown.set(b);
        b = grown;
      }
      if (shape !== 0 && b.length >= 4) new DataView(b.buffer).setUint32(0, b.length, true);
      for (const opts of PROFILES) seen[decodeOrProtocolError(b, opts)]++;
    }
    expect(seen['protocol-error']).toBeGreaterThan(0);
    expect(seen.ok).toBeGreaterThan(0);
  });
});
