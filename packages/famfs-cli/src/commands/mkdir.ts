import { Command } from 'commander';
import { withFs, type GlobalOptions } from '../context.js';
import type { CliIo } from '../io.js';
import { parseMode, parseUint } from '../sizes.js';
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
    mode: parseMode(String(o.mode)),
    uid: o.uid === undefined ? undefined : parseUint(String(o.uid), 'uid'),
    gid: o.gid === undefined ? undefined : parseUint(String(o.gid), 'gid'),
    verbose: o.verbose === true,
  }),
  run: (io: CliIo, g: GlobalOptions, c: MkdirContext) =>
    withFs(io, g, 'mkdir', true, (fs) => {
      const before = fs.logCursor;
      const d = fs.mkdir(c.path, { parents: c.parents, mode: c.mode, uid: c.uid, gid: c.gid });
      if (c.verbose && fs.logCursor > before) io.out(`famfs mkdir: created directory '${d.relpath}'\n`);
      return 0;
    }),
  // upstream: every mkdir failure is exit 1
  exitCode: () => 1,
};
