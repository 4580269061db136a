import { FamfsError } from '@famfs/core';
import { describe, expect, it } from 'vitest';
import { parseMode, parseSize, parseUint } from './sizes.js';

describe('parseSize (strtoull base 0, then a k/m/g suffix in powers of 1024)', () => {
  it.each([
    ['8m', 8388608],
    ['8M', 8388608],
    ['0x800000', 8388608],
    ['0X800000', 8388608],
    ['1g', 1073741824],
    ['1G', 1073741824],
    ['4096', 4096],
    ['4k', 4096],
    ['4K', 4096],
    ['010', 8], // a leading 0 means octal, as with strtoull
    ['010k', 8192],
    ['0x10m', 16 * 1024 * 1024],
    ['0', 0],
    ['1', 1],
    ['16g', 16 * 1024 * 1024 * 1024],
    [' 8m ', 8388608],
  ])('%j = %d', (text, want) => {
    expect(parseSize(text)).toBe(want);
  });

  it.each(['', 'abc', 'm', '8x', '8mb', '8 m', '-1', '1.5g', '0x', '08', '09', '0xg', '8t', 'k8', '1e6', '+8m'])('%j is an error', (text) => {
    let caught: unknown;
    try {
      parseSize(text, 'log length');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FamfsError);
    expect((caught as FamfsError).code).toBe('EINVAL');
    expect((caught as FamfsError).message).toContain('log length');
    expect((caught as FamfsError).message).not.toContain('\n');
  });

  it('refuses values past 2^53 (ERANGE) instead of losing precision', () => {
    expect(parseSize(`${2 ** 53 - 1}`)).toBe(2 ** 53 - 1);
    expect(() => parseSize(`${2 ** 53}`)).toThrow(FamfsError);
    expect(() => parseSize('0xffffffffffffffffg')).toThrow(/too large/);
    expect(() => parseSize('9999999g')).toThrow(/too large/);
  });
});

describe('parseUint and parseMode', () => {
  it('parseUint: base 0 without suffixes', () => {
    expect(parseUint('42', 'n')).toBe(42);
    expect(parseUint('0x2a', 'n')).toBe(42);
    expect(parseUint('052', 'n')).toBe(42);
    expect(() => parseUint('4k', 'n')).toThrow(FamfsError);
    expect(() => parseUint('-1', 'n')).toThrow(FamfsError);
  });

  it('parseMode: octal', () => {
    expect(parseMode('0644')).toBe(0o644);
    expect(parseMode('644')).toBe(0o644);
    expect(parseMode('0o600')).toBe(0o600);
    expect(parseMode('1777')).toBe(0o1777);
    expect(() => parseMode('0688')).toThrow(FamfsError);
    expect(() => parseMode('rwx')).toThrow(FamfsError);
  });
});
