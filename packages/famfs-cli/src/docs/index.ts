/**
 * The generated documentation: man pages and bash completion, from the
 * commander definitions. scripts/gen-docs.mjs writes them at build time
 * (`make build`) into packages/famfs-cli/man and packages/famfs-cli/completion.
 */
import { packageVersion } from '../version.js';
import { bashCompletion } from './completion.js';
import { manFileName, renderManPage } from './man.js';
import { famfsTree, manPages, mkfsTree } from './pages.js';

export { famfsTree, manPages, mkfsTree, type ManPage } from './pages.js';
export { bashCompletion } from './completion.js';
export { renderManPage, roffText } from './man.js';

/** Every generated file: its path below the package (man/famfs-cp.1, completion/famfs) and its text. */
export function generatedDocs(): Array<{ file: string; text: string }> {
  const version = packageVersion();
  return [
    ...manPages().map((p) => ({ file: `man/${manFileName(p)}`, text: renderManPage(p, version) })),
    { file: 'completion/famfs', text: bashCompletion(famfsTree(), mkfsTree(), version) },
  ];
}
