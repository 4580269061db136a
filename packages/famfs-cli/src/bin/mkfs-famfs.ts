#!/usr/bin/env node
// The unbundled entry (packages/famfs-cli/bundle/mkfs-famfs.cjs runs the
// bundled CLI and falls back to this). `mkfs.famfs --version` answers
// without loading the CLI at all.
import { printVersionIfAsked } from '../version.js';

const argv = process.argv.slice(2);
if (!printVersionIfAsked(argv, 'mkfs.famfs')) {
  const [{ processIo }, { runMkfsFamfs }] = await Promise.all([import('../io.js'), import('../program.js')]);
  process.exitCode = await runMkfsFamfs(argv, processIo());
}
