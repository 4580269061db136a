import { Errno, FamfsError, isFamfsError } from '@famfs/core';
import { Command, CommanderError } from 'commander';
import { type CliIo } from './io.js';
import { type GlobalOptions } from './context.js';
import { fsckCommand, runFsck } from './commands/fsck.js';
import { MKFS_EXIT_FAILURE, mkfsCommand, runMkfs } from './commands/mkfs.js';

/**
 * Exit codes follow upstream famfs: a failing famfs subcommand exits with the
 * errno of the failure (capped at 127); usage errors exit 1; mkfs.famfs exits
 * 2 on any failure. A command may override with `exitCodeFor`.
 */
function errnoExit(e: FamfsError): number {
  return Math.min(Errno[e.code], 127);
}

/** Turn a thrown error into a message and an exit code; a bug keeps its stack. */
function report(io: CliIo, prog: string, e: unknown, exitFor: (e: FamfsError) => number): number {
  if (isFamfsError(e)) {
    io.err(`${prog}: ${e.message}\n`);
    return exitFor(e);
  }
  throw e;
}

function configure(cmd: Command, io: CliIo): Command {
  return cmd
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError(false);
}

/** Run commander, mapping its own exits (help, usage errors) to exit codes. */
async function parse(cmd: Command, argv: string[], io: CliIo, prog: string, exitFor: (e: FamfsError) => number, code: () => number): Promise<number> {
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return code();
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return 0;
      // commander has printed the message already
      return 1;
    }
    return report(io, prog, e, exitFor);
  }
}

/** `famfs <command> …` */
export async function runFamfs(argv: string[], io: CliIo): Promise<number> {
  let exit = 0;
  const global = (): GlobalOptions => program.opts<GlobalOptions>();
  const program = configure(new Command('famfs'), io)
    .description('famfs: a shared-memory file system (CXL, dax devices, emulated devices)')
    .option('--system-uuid <uuid>', 'act as this host (default: $FAMFS_SYSTEM_UUID, else /opt/famfs/system_uuid)')
    .enablePositionalOptions();
  let exitFor = errnoExit;
  const commands: Command[] = [
    fsckCommand(io, global, (ctx) => {
      // upstream: no valid superblock is exit 1; a path that is neither a
      // device nor an image is EINVAL
      exitFor = (e) => (e.op === 'superblock' || e.op === 'log' ? 1 : e.code === 'EISDIR' || e.code === 'ENODEV' ? Errno.EINVAL : errnoExit(e));
      exit = runFsck(io, ctx);
    }),
  ];
  for (const c of commands) program.addCommand(configure(c, io));
  return parse(program, argv, io, 'famfs', (e) => exitFor(e), () => exit);
}

/** `mkfs.famfs …` */
export async function runMkfsFamfs(argv: string[], io: CliIo): Promise<number> {
  let exit = 0;
  const cmd = configure(mkfsCommand(io, (ctx) => {
    exit = runMkfs(io, ctx);
  }), io);
  return parse(cmd, argv, io, 'mkfs.famfs', () => MKFS_EXIT_FAILURE, () => exit);
}
