import { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { withBackend } from '../backend.js';
import type { CliIo } from '../io.js';
import { parseMode, parseUint, text } from '../sizes.js';
import type { CommandSpec } from './spec.js';

export interface MkdirContext {
  path: string;
  parents: boolean;
  mode: number;
  uid?: number;
  gid?: number;
  verbose: boolean;
}

export const mkdirSpec: CommandSpec<MkdirContext> = {
  command: () =>
    new Command('mkdir')
      .description('Create a directory in famfs (logged)')
      .argument('<dirname>')
      .option('-p, --parents', 'create missing parents; an existing directory is not an error')
      .option('-m, --mode <octal>', 'mode of the new directories', '0755')
      .option('-u, --uid <uid>', 'owner uid (default: yours)')
      .option('-g, --gid <gid>', 'owner gid (default: yours)')
      .option('-v, --verbose', 'say what was created'),
  context: (args, o) => ({
    path: args[0]!,
    parents: o.parents === true,
    mode: parseMode(text(o.mode, 'mode')),
    uid: o.uid === undefined ? undefined : parseUint(text(o.uid, 'uid'), 'uid'),
    gid: o.gid === undefined ? undefined : parseUint(text(o.gid, 'gid'), 'gid'),
    verbose: o.verbose === true,
  }),
  run: (io: CliIo, g: GlobalOptions, c: MkdirContext) =>
    withBackend(io, g, 'mkdir', [c.path], true, async (b) => {
      const rel = b.rel(c.path);
      const existed = c.verbose ? await b.lookup(rel) : undefined;
      await b.mkdir(rel, { parents: c.parents, mode: c.mode, uid: c.uid, gid: c.gid });
      if (c.verbose && existed === undefined) io.out(`famfs mkdir: created directory '${b.display(rel)}'\n`);
      return 0;
    }),
  // upstream: every mkdir failure is exit 1
  exitCode: () => 1,
};
