/**
 * `--version` of famfs, mkfs.famfs and mount.famfs: the package version (from
 * this package's package.json, which every install has) and the on-media
 * format the tools read and write.
 */
import * as fs from 'node:fs';
import { OMF_MAJOR, OMF_MINOR, SB_VERSION } from '@famfs/core';

let cached: string | undefined;

/** The version of @famfs/cli, e.g. "0.1.0". */
export function packageVersion(): string {
  // src/version.ts and dist/version.js are both one level below the package
  cached ??= (JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cached;
}

/** What `PROG --version` prints: `famfs 0.1.0 (famfs-ts; on-media format 2.2, superblock version 48)`. */
export function versionText(prog: string): string {
  return `${prog} ${packageVersion()} (famfs-ts; on-media format ${OMF_MAJOR}.${OMF_MINOR}, superblock version ${SB_VERSION})`;
}

/** The flags and help line of the version option (commander's .version()). */
export const VERSION_FLAGS = '-V, --version';
export const VERSION_HELP = 'print the version and exit';
