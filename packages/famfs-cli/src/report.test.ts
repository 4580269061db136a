/**
 * cFixed must print what glibc's printf("%.Nf") prints: the exact binary value
 * rounded half-to-even (JS toFixed rounds ties away from zero).
 */
import { describe, expect, it } from 'vitest';
import { cFixed } from './report.js';

/**
 * An independent reference: the exact value of the double as a BigInt
 * fraction, scaled by 10^digits and rounded half-to-even.
 */
function exactFixed(x: number, digits: number): string {
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, Math.abs(x));
  const bits = v.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const mant = expBits === 0 ? frac : frac | (1n << 52n);
  const exp = (expBits === 0 ? 1 : expBits) - 1075; // x = mant * 2^exp
  const num = mant * 10n ** BigInt(digits);
  let q: bigint;
  if (exp >= 0) {
    q = num << BigInt(exp);
  } else {
    const den = 1n << BigInt(-exp);
    q = num / den;
    const r2 = (num % den) * 2n;
    if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  }
  const s = q.toString().padStart(digits + 1, '0');
  return digits === 0 ? `${sign}${s}` : `${sign}${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

describe('cFixed', () => {
  it('exact ties round half to even, like glibc', () => {
    expect(cFixed(0.125, 2)).toBe('0.12');
    expect(cFixed(0.375, 2)).toBe('0.38');
    expect(cFixed(2.5, 0)).toBe('2');
    expect(cFixed(3.5, 0)).toBe('4');
    expect(cFixed(0.5, 0)).toBe('0');
    expect(cFixed(12.25, 1)).toBe('12.2');
    expect(cFixed(12.75, 1)).toBe('12.8');
    expect(cFixed(1.125, 2)).toBe('1.12');
    expect(cFixed(0.0625, 3)).toBe('0.062');
  });

  it('non-ties round to nearest, from the exact binary value', () => {
    expect(cFixed(0.126, 2)).toBe('0.13');
    expect(cFixed(1.005, 2)).toBe('1.00'); // 1.005 is 1.00499999999999989… in binary
    expect(cFixed(Math.fround(0.1), 2)).toBe('0.10');
    expect(cFixed(1.0714285653464648, 2)).toBe('1.07');
    expect(cFixed(2.197265625, 1)).toBe('2.2');
    expect(cFixed(0, 2)).toBe('0.00');
    expect(cFixed(8, 2)).toBe('8.00');
  });

  it('inf and nan as glibc prints them', () => {
    expect(cFixed(Infinity, 2)).toBe('inf');
    expect(cFixed(-Infinity, 2)).toBe('-inf');
    expect(cFixed(Number.NaN, 1)).toBe('nan');
  });

  it('agrees with an exact half-to-even reference on float32 values and constructed ties', () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 20000; i++) {
      const digits = i % 3;
      // float32 values like upstream's figures, and exact ties k/2^n
      const x = i % 2 === 0 ? Math.fround(rnd() * 200) : Math.floor(rnd() * 100000) / 2 ** (1 + (i % 6));
      const want = exactFixed(x, digits);
      const got = cFixed(x, digits);
      if (got !== want) expect.fail(`cFixed(${x}, ${digits}) = ${got}, want ${want}`);
    }
  });
});
