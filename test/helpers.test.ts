/** The skip-or-fail gate that every root-only test relies on. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { needsRoot, onPath, prng, type Requirement } from './helpers.js';

const never: Requirement = { what: 'an impossible thing', met: () => false };
const isRoot = typeof process.geteuid === 'function' && process.geteuid() === 0;

describe('needsRoot', () => {
  const saved = process.env.FAMFS_TEST_NO_SKIP;
  afterEach(() => {
    if (saved === undefined) delete process.env.FAMFS_TEST_NO_SKIP;
    else process.env.FAMFS_TEST_NO_SKIP = saved;
    vi.restoreAllMocks();
  });

  it('a missing requirement: says why on the console and returns false (skip)', () => {
    delete process.env.FAMFS_TEST_NO_SKIP;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(needsRoot('gate test', [never])).toBe(false);
    expect(warn).toHaveBeenCalledOnce();
    expect(String(warn.mock.calls[0]![0])).toMatch(/gate test: needs .*an impossible thing/);
  });

  it('with FAMFS_TEST_NO_SKIP set, a missing requirement is a failure', () => {
    process.env.FAMFS_TEST_NO_SKIP = '1';
    expect(() => needsRoot('gate test', [never])).toThrow(/gate test: needs .*an impossible thing.*FAMFS_TEST_NO_SKIP/);
  });

  it('everything met: true, silently (root only) — and root itself is a requirement', () => {
    delete process.env.FAMFS_TEST_NO_SKIP;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(needsRoot('gate test', [{ what: 'sh', met: () => onPath('sh') }])).toBe(isRoot);
    expect(warn).toHaveBeenCalledTimes(isRoot ? 0 : 1);
    if (!isRoot) expect(String(warn.mock.calls[0]![0])).toMatch(/root/);
  });
});

describe('onPath and prng', () => {
  it('onPath finds sh and not a made-up command', () => {
    expect(onPath('sh')).toBe(true);
    expect(onPath('no-such-command-famfs-xyz')).toBe(false);
  });

  it('prng is reproducible per seed and spreads over its range', () => {
    const a = prng(7);
    const b = prng(7);
    const xs = Array.from({ length: 1000 }, () => a.int(10));
    expect(Array.from({ length: 1000 }, () => b.int(10))).toEqual(xs);
    for (let k = 0; k < 10; k++) expect(xs.filter((x) => x === k).length).toBeGreaterThan(50);
    expect(prng(8).next()).not.toBe(prng(7).next());
  });
});
