/**
 * The one test that says the upstream fixture is complete. Every fixture test
 * also fails (with the same one-line reason) when a file is missing, but this
 * one names them all at once.
 */
import { describe, expect, it } from 'vitest';
import { FIXTURE_FILES, fixtureDevsize, fixtureHead, missingFixtureFiles } from './fixture.js';

describe('the upstream fixture', () => {
  it('is in the repository: every file test/fixtures/upstream-basic/README.md lists', () => {
    const missing = missingFixtureFiles();
    if (missing.length > 0) throw new Error(`upstream fixture incomplete: missing ${missing.join(', ')} in test/fixtures/upstream-basic`);
    expect(FIXTURE_FILES.length).toBe(6);
  });

  it('rebuilds the documented device: 10 MiB head of an 8 GiB device starting with the famfs magic', () => {
    expect(fixtureDevsize()).toBe(8 * 1024 ** 3);
    const head = fixtureHead();
    expect(head.length).toBe(10 * 1024 * 1024);
    expect(new DataView(head.buffer, head.byteOffset).getBigUint64(0, true)).toBe(0x87b282ffn);
  });
});
