#!/usr/bin/env node
// The unbundled entry (packages/famfs-cli/bundle/famfs.cjs runs the bundled
// CLI and falls back to this). Nothing is imported before it is needed:
// `famfs --version` answers without loading the CLI at all.
import { printVersionIfAsked } from '../version.js';

const argv = process.argv.slice(2);
if (!printVersionIfAsked(argv, 'famfs')) {
  const [{ processIo }, { runFamfs }] = await Promise.all([import('../io.js'), import('../program.js')]);
  process.exitCode = await runFamfs(argv, processIo());
}
