import { Famfs } from '@famfs/core';
import { Command } from 'commander';
import { deviceOf, systemUuidOf, type GlobalOptions } from '../context.js';
import type { CliIo } from '../io.js';
import type { CommandSpec } from './spec.js';

export interface LogplayContext {
  dryRun: boolean;
  verbose: boolean;
}

export const logplaySpec: CommandSpec<LogplayContext> = {
  command: () =>
    new Command('logplay')
      .description('Replay the metadata log and report the files, directories and errors it holds')
      .option('-n, --dryrun', 'replay without applying (an unmounted device is never changed anyway)')
      .option('-v, --verbose', 'list every entry replayed'),
  context: (_a, o) => ({ dryRun: o.dryrun === true, verbose: o.verbose === true }),
  run: (io: CliIo, g: GlobalOptions, c: LogplayContext) => {
    if (c.dryRun) io.out('Logplay: dry_run selected\n');
    const fs = Famfs.open(deviceOf(io, g, 'logplay'), { writable: false, systemUuid: systemUuidOf(io, g) });
    try {
      if (c.verbose) {
        io.out(`famfs logplay: log contains ${fs.logCursor} entries\n`);
        for (const n of fs.namespace.walk()) {
          if (n.kind === 'dir') io.out(`famfs logplay: ${n.index}: mkdir ${n.mode.toString(8).padStart(4, '0')} ${n.uid}:${n.gid} ${n.relpath}\n`);
          else io.out(`famfs logplay: ${n.index}: file=${n.relpath} size=${n.size}\n`);
        }
      }
      for (const p of fs.problems) io.err(`famfs logplay: ${p.message}\n`);
      const ns = fs.namespace;
      io.out(`famfs_logplay(v1): ${fs.logCursor - fs.problems.length} log entries; ${ns.files} new files; ${ns.dirs} new directories\n`);
      if (c.verbose) io.out(`\tCreated:  ${ns.files} files, ${ns.dirs} directories\n`);
      if (fs.problems.length > 0) io.out(`\t${fs.problems.length} bad or rejected log entries\n`);
      return Math.min(fs.problems.length, 127);
    } finally {
      fs.close();
    }
  },
};
