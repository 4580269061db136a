import { FamfsError, fsck, openDevice } from '@famfs/core';
import { Command } from 'commander';
import type { CliIo } from '../io.js';
import { formatReport, reportJson } from '../report.js';
import { type GlobalOptions, systemUuidOf } from '../context.js';

export interface FsckContext {
  device: string;
  human: boolean;
  verbose: boolean;
  json: boolean;
  global: GlobalOptions;
}

export function fsckCommand(io: CliIo, global: () => GlobalOptions, run: (ctx: FsckContext) => void): Command {
  const cmd = new Command('fsck')
    .description('Check a famfs file system on a device or image file (read-only)')
    .argument('[memdevice]', 'dax device, block device or image file')
    // Upstream's fsck uses -h for --human; help is --help (and a bare `-h`).
    .helpOption('--help', 'display help for command')
    .option('-h, --human', 'print capacity figures in G')
    .option('-v, --verbose', 'also print the layout of the log')
    .option('--json', 'print the report as JSON (for scripts)')
    .option('-m, --mmap', 'read the device through a mapping (the default; accepted for compatibility)')
    .option('-f, --force', 'accepted for compatibility; fsck never writes');
  cmd.action((device: string | undefined, o: { human?: boolean; verbose?: boolean; json?: boolean }) => {
    if (device === undefined) {
      if (o.human) {
        io.out(cmd.helpInformation());
        return;
      }
      throw new FamfsError('EINVAL', 'fsck', 'fsck: must specify a device or image file');
    }
    run({ device, human: o.human === true, verbose: o.verbose === true, json: o.json === true, global: global() });
  });
  return cmd;
}

/**
 * Exit status: 0 when clean; otherwise the number of problems (allocation
 * collisions plus bad log entries), capped at 127. Upstream counts only
 * collisions; a bad entry is an error here.
 */
export function runFsck(io: CliIo, ctx: FsckContext): number {
  const systemUuid = systemUuidOf(io, ctx.global);
  const dev = openDevice(ctx.device, { writable: false });
  try {
    const report = fsck(dev, systemUuid);
    for (const p of report.badEntries) io.err(`famfs fsck: bad log ${p.message}\n`);
    io.out(ctx.json ? reportJson(report) : formatReport(report, { human: ctx.human, verbose: ctx.verbose }));
    const problems = report.collisions + report.badEntries.length;
    if (problems > 0) return Math.min(problems, 127);
    return report.errors.length > 0 ? 1 : 0;
  } finally {
    dev.close();
  }
}
