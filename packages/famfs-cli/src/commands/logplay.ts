import { Famfs, FamfsError } from '@famfs/core';
import { controlRequest } from '@famfs/fuse';
import { daemonSocketOf } from './status.js';
import { Command } from 'commander';
import { deviceOf, systemUuidOf, type GlobalOptions } from '../context.js';
import type { CliIo } from '../io.js';
import type { CommandSpec } from './spec.js';

export interface LogplayContext {
  /** a mount point (or any path in a mount): refresh that mount */
  path?: string;
  dryRun: boolean;
  verbose: boolean;
}

export const logplaySpec: CommandSpec<LogplayContext> = {
  command: () =>
    new Command('logplay')
      .description('Replay the metadata log: on a mount, show new files and directories; on a device (-D), report what the log holds')
      .argument('[mount_point]', 'a famfs mount point, or any path in it')
      .option('-n, --dryrun', 'replay without applying (an unmounted device is never changed anyway)')
      .option('-v, --verbose', 'list every entry replayed'),
  context: (a, o) => ({ path: a[0], dryRun: o.dryrun === true, verbose: o.verbose === true }),
  run: async (io: CliIo, g: GlobalOptions, c: LogplayContext) => {
    if (c.dryRun) io.out('Logplay: dry_run selected\n');
    if (g.device === undefined && (io.env.FAMFS_DEVICE ?? '') === '') {
      if (c.path === undefined) throw new FamfsError('EINVAL', 'logplay', 'logplay: Must specify mount_point (actually any path within a famfs file system will work), or a device with -D');
      const r = (await controlRequest(daemonSocketOf(c.path, 'logplay'), { refresh: {} })).refresh;
      if (r === undefined) throw new FamfsError('EPROTO', 'logplay', 'logplay: the famfs daemon sent no result');
      io.out(`famfs_logplay(fuse): ${r.entries} log entries; ${r.files} new files; ${r.directories} new directories\n`);
      if (r.problems > 0) io.out(`\t${r.problems} bad or rejected log entries\n`);
      return Math.min(r.problems, 127);
    }
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
