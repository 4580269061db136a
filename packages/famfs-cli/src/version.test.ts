/** `--version`/`-V` of famfs and mkfs.famfs: the package version and the on-media format, exit 0. */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OMF_MAJOR, OMF_MINOR, SB_VERSION } from '@famfs/core';
import { bufferIo } from './io.js';
import { runFamfs, runMkfsFamfs } from './program.js';

const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; famfs: { onMediaFormat: string; superblockVersion: number } };

describe('--version', () => {
  it("package.json's format fields (what --version prints before loading anything) are core's constants", () => {
    expect(pkg.famfs).toEqual({ onMediaFormat: `${OMF_MAJOR}.${OMF_MINOR}`, superblockVersion: SB_VERSION });
  });

  it.each([
    ['famfs', runFamfs, '--version'],
    ['famfs', runFamfs, '-V'],
    ['mkfs.famfs', runMkfsFamfs, '--version'],
    ['mkfs.famfs', runMkfsFamfs, '-V'],
  ] as const)('%s %s', async (prog, run, flag) => {
    const io = bufferIo({});
    expect(await run([flag], io)).toBe(0);
    expect(io.stdout).toBe(`${prog} ${pkg.version} (famfs-ts; on-media format 2.2, superblock version 48)\n`);
    expect(io.stderr).toBe('');
  });

  it('is listed in --help', async () => {
    const io = bufferIo({});
    expect(await runFamfs(['--help'], io)).toBe(0);
    expect(io.stdout).toMatch(/^ {2}-V, --version +print the version and exit$/m);
  });
});
