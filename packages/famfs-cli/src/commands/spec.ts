import type { FamfsError } from '@famfs/core';
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import type { CliIo } from '../io.js';

/**
 * One CLI command: commander's declaration, a parse from its arguments and
 * options into a typed context, and an action that returns the exit code.
 * `exitCode` maps a failure to upstream's exit status for that command
 * (default: the errno number).
 */
export interface CommandSpec<C> {
  command(): Command;
  /** `cmd` is the parsed command itself (for its help text) */
  context(args: string[], opts: Record<string, unknown>, cmd: Command): C;
  run(io: CliIo, global: GlobalOptions, ctx: C): number | Promise<number>;
  exitCode?(e: FamfsError): number;
}
