import { FamfsError } from '@famfs/core';
import { Command } from 'commander';
import { withBackend } from '../backend.js';
import { itemFailure } from '../failures.js';
import type { CommandSpec } from './spec.js';

/**
 * `famfs check MOUNTPOINT` — every file has a valid map (its log entry still
 * decodes and passes every extent rule). Upstream: `famfs_check: N files, N
 * directories, N errors`; exit 0 clean, 1 with errors, EINVAL without an
 * argument.
 */
export const checkSpec: CommandSpec<{ path: string; verbose: boolean }> = {
  command: () =>
    new Command('check')
      .description('Check that every file of a famfs file system has a valid map')
      .argument('[mount_point]', 'a famfs mount point (or, with -D, a directory of the device)')
      .option('-q, --quiet', 'accepted for compatibility')
      .option('-v, --verbose', 'name each file checked'),
  context: (args, o) => {
    if (args[0] === undefined) throw new FamfsError('EINVAL', 'check', 'famfs_check: Must specify filename', { kind: 'usage' });
    return { path: args[0], verbose: o.verbose === true };
  },
  run: (io, g, c) =>
    withBackend(io, g, 'check', [c.path], false, async (b) => {
      let files = 0;
      let dirs = 0;
      let errors = 0;
      for (const e of await b.list(b.rel(c.path), true)) {
        if (e.kind === 'dir') {
          dirs++;
          continue;
        }
        files++;
        try {
          await b.getmap(e.rel);
          if (c.verbose) io.out(`famfs_check: ok ${b.display(e.rel)}\n`);
        } catch (err) {
          errors++;
          io.err(`famfs_check: ${itemFailure(err, 'check', e.rel).message}\n`);
        }
      }
      io.out(`famfs_check: ${files} files, ${dirs} directories, ${errors} errors\n`);
      return errors > 0 ? 1 : 0;
    }),
  exitCode: (e) => (e.kind === 'usage' ? 22 : 1),
};
