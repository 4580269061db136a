import { Errno, type FamfsError, fromSystemError } from '@famfs/core';
import { Command, CommanderError } from 'commander';
import type { CliIo } from './io.js';
import type { GlobalOptions } from './context.js';
import type { CommandSpec } from './commands/spec.js';
import { fsckSpec } from './commands/fsck.js';
import { MKFS_EXIT_FAILURE, mkfsCommand, runMkfs } from './commands/mkfs.js';
import { mkdirSpec } from './commands/mkdir.js';
import { creatSpec } from './commands/creat.js';
import { cpSpec } from './commands/cp.js';
import { verifySpec } from './commands/verify.js';
import { logplaySpec } from './commands/logplay.js';
import { getmapSpec } from './commands/getmap.js';
import { daxdevSpec, devaddSpec } from './commands/daxdev.js';
import { catSpec, chkreadSpec, cloneSpec, flushSpec, lsSpec, mkmetaSpec } from './commands/simple.js';
import { checkSpec } from './commands/check.js';
import { mountSpec, umountSpec } from './commands/mount.js';
import { serveSpec } from './commands/serve.js';
import { loglevelSpec, statusSpec } from './commands/status.js';
import { VERSION_FLAGS, VERSION_HELP, versionText } from './version.js';

/** Every `famfs` subcommand, in the order `famfs --help` lists them. */
// (CommandSpec's methods are bivariant in their context type, so every spec fits)
export const COMMANDS: ReadonlyArray<CommandSpec<unknown>> = [
  mountSpec, umountSpec, statusSpec, loglevelSpec, fsckSpec, checkSpec, mkdirSpec, cpSpec, creatSpec, flushSpec, verifySpec, mkmetaSpec, logplaySpec, getmapSpec, cloneSpec, chkreadSpec, lsSpec, catSpec, serveSpec, devaddSpec, daxdevSpec,
];

/**
 * Exit codes follow upstream famfs: a failing subcommand exits with the
 * errno of the failure (capped at 127) unless the command says otherwise;
 * usage errors exit 1; mkfs.famfs exits 2 on any failure.
 */
const errnoExit = (e: FamfsError): number => Math.min(Errno[e.code], 127);

function configure(cmd: Command, io: CliIo): Command {
  return cmd.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
}

/** upstream `famfs`: an unrecognized command exits 3 */
export const EXIT_UNKNOWN_COMMAND = 3;

/**
 * upstream's help spellings: `-?` anywhere is `--help`, and `famfs -h CMD`
 * (or `-? CMD`) is `famfs CMD --help`. (fsck's own `-h` means --human and is
 * left alone: only the global `-h` in front of a command is moved.)
 */
export function helpSpellings(argv: readonly string[]): string[] {
  const out = argv.map((a) => (a === '-?' ? '--help' : a));
  if ((out[0] === '-h' || out[0] === '--help') && out[1] !== undefined && !out[1].startsWith('-')) return [out[1], '--help', ...out.slice(2)];
  return out;
}

/** What a C tool killed by SIGPIPE exits with (128 + 13), as the shell reports it. */
export const EXIT_SIGPIPE = 141;

/**
 * Parse and run. Every failure becomes a FamfsError (system errors keep their
 * errno) and an exit code: one line on stderr, no stack trace — except for an
 * internal error (a bug), whose stack is printed when FAMFS_DEBUG is set. A
 * closed stdout (EPIPE: the reader of a pipe went away) ends the command
 * silently with 141, as upstream's tools end when SIGPIPE kills them.
 */
async function execute(cmd: Command, argv: string[], io: CliIo, prog: string, state: { exit: number; exitFor: (e: FamfsError) => number; command?: string }): Promise<number> {
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return state.exit;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return 0;
      // upstream: an unknown command is exit 3, every other usage error 1 (commander printed it)
      return e.code === 'commander.unknownCommand' ? EXIT_UNKNOWN_COMMAND : 1;
    }
    // a system error that reached here unnamed is named after the subcommand (`famfs: cp: …`)
    const err = fromSystemError(e, state.command ?? prog);
    if (err.code === 'EPIPE') return EXIT_SIGPIPE;
    io.err(`${prog}: ${err.message}\n`);
    if (err.kind === 'internal') {
      if (io.env.FAMFS_DEBUG) io.err(`${err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : String(err.cause)}\n`);
      else io.err(`${prog}: this is a bug; set FAMFS_DEBUG=1 to see where it happened\n`);
    }
    return err.exitStatus ?? state.exitFor(err);
  }
}

/** `famfs` itself: its description and global options, without the subcommands. */
export function famfsRoot(): Command {
  return new Command('famfs')
    .summary('a file system for shared memory')
    .description('famfs: a file system for shared memory (CXL, dax devices, emulated devices)')
    .option('-D, --device <path>', 'work on this unmounted device or image file (paths are relative to its root); default $FAMFS_DEVICE')
    .option('--system-uuid <uuid>', 'act as this host (default: $FAMFS_SYSTEM_UUID, else /opt/famfs/system_uuid)')
    .version(versionText('famfs'), VERSION_FLAGS, VERSION_HELP)
    .enablePositionalOptions();
}

/** `famfs [-D device] [--system-uuid uuid] <command> …` */
export async function runFamfs(argv: string[], io: CliIo): Promise<number> {
  const state: { exit: number; exitFor: (e: FamfsError) => number; command?: string } = { exit: 0, exitFor: errnoExit };
  const program = configure(famfsRoot(), io);
  for (const spec of COMMANDS) {
    const cmd = configure(spec.command(), io);
    cmd.action(async (...params: unknown[]) => {
      // commander passes the declared arguments, then the options, then the command
      const args = params.slice(0, -2) as string[];
      const opts = params[params.length - 2] as Record<string, unknown>;
      state.exitFor = (e) => (spec.exitCode ?? errnoExit)(e);
      state.command = cmd.name();
      const ctx = spec.context(args, opts, params[params.length - 1] as Command);
      state.exit = await spec.run(io, program.opts<GlobalOptions>(), ctx);
    });
    program.addCommand(cmd);
  }
  if (argv.length === 0) {
    io.err('famfs: missing command\n\n');
    io.err(program.helpInformation());
    return 1;
  }
  return execute(program, helpSpellings(argv), io, 'famfs', state);
}

/** `mkfs.famfs …` */
export async function runMkfsFamfs(argv: string[], io: CliIo): Promise<number> {
  const state = { exit: 0, exitFor: (_e: FamfsError) => MKFS_EXIT_FAILURE };
  const cmd = configure(
    mkfsCommand(io, (ctx) => {
      state.exit = runMkfs(io, ctx);
    }),
    io,
  );
  return execute(cmd, helpSpellings(argv), io, 'mkfs.famfs', state);
}
