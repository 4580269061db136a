import { readFileSync, writeSync } from 'node:fs';

/**
 * `famfs --version` / `mkfs.famfs --version`: the package version, printed
 * before anything else is loaded (a version query costs one process start,
 * nothing more). (A minimal fast path: the packaging work owns --version in
 * the commander definitions; this answers first, with the same text.)
 * Returns whether it printed.
 */
export function printVersionIfAsked(argv: readonly string[]): boolean {
  if (argv.length !== 1 || argv[0] !== '--version') return false;
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  writeSync(1, `${pkg.version}\n`);
  return true;
}
