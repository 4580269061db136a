/**
 * checkFileEntries' own argument checks (core's log/replay.test.ts tests what
 * it does, against the TypeScript replay, on random damaged logs): whatever
 * a caller passes, it throws or returns, never reads or writes outside what
 * it was given, never loops for ever.
 */
import { describe, it, expect } from 'vitest';
import * as native from './index.js';

const LOG = new Uint8Array(48 + 10 * 544);
const geometry = (): Float64Array => new Float64Array([4 << 20, 64 << 20, 2 << 20, (2 << 20) - 1]);
const table = (slots = 16): Int32Array => new Int32Array(2 * slots);
const acc = (): Float64Array => new Float64Array(native.LogCheckAcc.LENGTH);

describe('checkFileEntries', () => {
  it('applies nothing from a log of zeros (empty paths) and says where it stopped', () => {
    const claims = new Uint8Array(32);
    const a = acc();
    expect(native.checkFileEntries(LOG, 0, 10, geometry(), table(), table(), 8, claims, a)).toBe(0);
    expect(native.checkFileEntries(LOG, 3, 3, geometry(), table(), table(), 8, claims, a)).toBe(3);
    expect([...a]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(claims.every((c) => c === 0)).toBe(true);
  });

  it('refuses entries past the log, tables that are not power-of-two slot pairs, bad geometry and wrong types', () => {
    const claims = new Uint8Array(32);
    expect(() => native.checkFileEntries(LOG, 0, 11, geometry(), table(), table(), 8, claims, acc())).toThrow(RangeError);
    expect(() => native.checkFileEntries(LOG, 5, 4, geometry(), table(), table(), 8, claims, acc())).toThrow(RangeError);
    expect(() => native.checkFileEntries(LOG, 0, 1, geometry(), new Int32Array(6), table(), 2, claims, acc())).toThrow(RangeError);
    expect(() => native.checkFileEntries(LOG, 0, 1, geometry(), table(), table(), 99, claims, acc())).toThrow(RangeError);
    expect(() => native.checkFileEntries(LOG, 0, 1, new Float64Array([0, 0, 3 << 20, 1]), table(), table(), 8, claims, acc())).toThrow(RangeError);
    expect(() => native.checkFileEntries(LOG, 0, 1, geometry(), table(), table(), 8, claims, new Float64Array(2))).toThrow(RangeError);
    expect(() => native.checkFileEntries(LOG, 0, 1, geometry(), new Uint32Array(32) as unknown as Int32Array, table(), 8, claims, acc())).toThrow(TypeError);
    expect(() => native.checkFileEntries(new Uint8Array(new SharedArrayBuffer(64)), 0, 0, geometry(), table(), table(), 8, claims, acc())).toThrow(TypeError);
  });
});

describe('populateForRead', () => {
  it('is best effort: heap memory, empty and small views are fine', () => {
    native.populateForRead(new Uint8Array(4 << 20));
    native.populateForRead(new Uint8Array(0));
    native.populateForRead(new Uint8Array(10).subarray(3));
  });
});
