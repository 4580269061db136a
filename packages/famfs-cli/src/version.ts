/**
 * `--version` of famfs, mkfs.famfs and mount.famfs: the package version and
 * the on-media format the tools read and write — both from this package's
 * package.json (every install has it; its "famfs" field is checked against
 * core's constants by version.test.ts), so that the answer needs nothing
 * else loaded: `famfs --version` costs one process start.
 */
import { readFileSync, writeSync } from 'node:fs';

interface CliPackage {
  version: string;
  famfs: { onMediaFormat: string; superblockVersion: number };
}

let cached: CliPackage | undefined;

function cliPackage(): CliPackage {
  // src/version.ts and dist/version.js are both one level below the package
  cached ??= JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as CliPackage;
  return cached;
}

/** The version of @famfs/cli, e.g. "0.1.0". */
export function packageVersion(): string {
  return cliPackage().version;
}

/** What `PROG --version` prints: `famfs 0.1.0 (famfs-ts; on-media format 2.2, superblock version 48)`. */
export function versionText(prog: string): string {
  const p = cliPackage();
  return `${prog} ${p.version} (famfs-ts; on-media format ${p.famfs.onMediaFormat}, superblock version ${p.famfs.superblockVersion})`;
}

/** The flags and help line of the version option (commander's .version()). */
export const VERSION_FLAGS = '-V, --version';
export const VERSION_HELP = 'print the version and exit';

/**
 * The bin entries' fast path: `PROG --version` (or `-V`) alone is answered
 * before the CLI is loaded, with the same text commander would print.
 * Returns whether it printed.
 */
export function printVersionIfAsked(argv: readonly string[], prog: string): boolean {
  if (argv.length !== 1 || (argv[0] !== '--version' && argv[0] !== '-V')) return false;
  writeSync(1, `${versionText(prog)}\n`);
  return true;
}
