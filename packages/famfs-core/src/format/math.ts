/** Integer helpers that stay exact past 2^32 (JS bitwise operators do not). */

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}
