/**
 * mount.famfs: the helper mount(8) runs for `mount -t famfs SPEC DIR` and for
 * fstab lines of type famfs. mount(8) calls it as
 *
 *     mount.famfs SPEC DIR [-sfnv] [-N NAMESPACE] [-o OPTIONS] [-t TYPE]
 *
 * and it mounts as `famfs mount -o FAMFS-OPTIONS SPEC DIR` does (the same
 * checks, the same daemon). Options that belong to mount(8), fstab or systemd
 * (defaults, nofail, _netdev, auto, user, x-*, comment=…) are ignored, as
 * other helpers ignore them (but with nofail a device that does not exist
 * is not an error, as mount(8) has it); the generic options a famfs mount always has
 * (rw, nosuid, nodev, noatime, exec, async) are accepted; other generic
 * options (ro, noexec, sync, …) are refused; the rest must be famfs's own
 * `-o` options. Exit status as mount(8) documents for helpers: 0 mounted,
 * 1 incorrect invocation (a bad option), 32 the mount failed. `umount DIR`
 * needs no helper: the daemon ends when its mount goes away.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FamfsError, fromSystemError, usageError } from '@famfs/core';
import { Command, CommanderError } from 'commander';
import { MOUNT_OPTIONS, mountSpec, parseMountOptions } from './commands/mount.js';
import type { CliIo } from './io.js';
import { VERSION_FLAGS, VERSION_HELP, versionText } from './version.js';

const PROG = 'mount.famfs';
/** mount(8): "incorrect invocation or permissions" */
export const HELPER_EXIT_USAGE = 1;
/** mount(8): "mount failure" */
export const HELPER_EXIT_FAILURE = 32;

/** mount(8), fstab and systemd options: not the file system's business. */
const IGNORED = new Set(['defaults', 'auto', 'noauto', 'nofail', '_netdev', 'user', 'nouser', 'users', 'owner', 'group', 'loud', 'silent']);
const ignoredOption = (o: string): boolean => IGNORED.has(o) || /^(x-|X-|comment=)/.test(o);
/** Generic options every famfs mount has already: the daemon mounts rw,nosuid,nodev,noatime (exec, async). */
const ALWAYS = new Set(['rw', 'exec', 'async', 'nosuid', 'nodev', 'noatime', 'nodiratime']);
/** Generic options a famfs mount cannot honour: refused rather than silently dropped. */
const UNSUPPORTED = new Set([
  'ro', 'suid', 'dev', 'noexec', 'sync', 'dirsync', 'atime', 'diratime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime',
  'lazytime', 'nolazytime', 'mand', 'nomand', 'iversion', 'noiversion', 'remount', 'bind', 'rbind', 'move', 'private', 'shared', 'slave',
]);

/** What --help says after the options about -o, and the man page under MOUNT OPTIONS. */
export const MOUNT_HELPER_OPTION_NOTES: readonly string[] = [
  `Ignored (mount(8), fstab and systemd act on them): ${[...IGNORED].join(', ')}, x-*, X-*, comment=*.`,
  `Accepted: ${[...ALWAYS].join(', ')} (every famfs mount has them).`,
  'Refused: ro, noexec, sync and the other generic options a famfs mount cannot honour.',
  'nofail: a device that does not exist is not an error (exit 0), as mount(8) has it for other file systems.',
];
/** The helper's exit status, for --help and the man page. */
export const MOUNT_HELPER_EXIT = `0 mounted, ${HELPER_EXIT_USAGE} incorrect invocation (a bad option), ${HELPER_EXIT_FAILURE} mount failure`;

/** The mount(8) helper's command line, for parsing, --help and the man page. */
export function mountHelperCommand(): Command {
  return new Command(PROG)
    .summary('mount(8) helper for famfs file systems')
    .description(
      'mount(8) helper for famfs: mount(8) runs it for `mount -t famfs SPEC DIR` and fstab lines of type famfs; ' +
        'it mounts as `famfs mount` does (a FUSE daemon serves the mount; plain `umount DIR` ends it)',
    )
    .argument('<spec>', 'the famfs device: dax device (/dev/daxX.Y), block device or image file')
    .argument('<dir>', 'the mount point')
    .option('-s, --sloppy', 'ignore mount options famfs does not know (mount -s), instead of failing')
    .option('-f, --fake', 'check everything but do not mount (mount -f)')
    .option('-n', 'accepted (mount -n): famfs keeps no mtab')
    .option('-v, --verbose', 'say what is run and which options were ignored')
    .option('-N, --namespace <ns>', 'mount in this mount namespace: a pid or a namespace file such as /proc/PID/ns/mnt (mount -N)')
    .option('-o, --options <opts>', `comma-separated mount options: famfs's own (${MOUNT_OPTIONS}) and the generic ones described below`, (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('-t, --type <type>', 'famfs (or fuse.famfs)')
    .version(versionText(PROG), VERSION_FLAGS, VERSION_HELP)
    .addHelpText('after', `\nMount options:\n${MOUNT_HELPER_OPTION_NOTES.map((l) => `  ${l}`).join('\n')}\nExit status: ${MOUNT_HELPER_EXIT}.`);
}

interface HelperOptions {
  sloppy?: boolean;
  fake?: boolean;
  n?: boolean;
  verbose?: boolean;
  namespace?: string;
  options?: string[];
  type?: string;
}

/**
 * Split the -o options into famfs's own and the ignored ones; a refused or
 * unknown option is a usage error (with -s, an unknown one is ignored).
 */
export function helperOptions(list: readonly string[], sloppy: boolean): { famfs: string[]; ignored: string[] } {
  const famfs: string[] = [];
  const ignored: string[] = [];
  for (const opt of list.flatMap((s) => s.split(',')).filter((s) => s !== '')) {
    if (ignoredOption(opt)) ignored.push(opt);
    else if (ALWAYS.has(opt)) continue;
    else if (UNSUPPORTED.has(opt)) {
      const why = opt === 'ro' ? 'famfs has no read-only mounts (a client host\'s files are read-only already)' : 'every famfs mount is rw,nosuid,nodev,noatime,exec,async';
      throw usageError(PROG, `${PROG}: mount option '${opt}' is not supported: ${why}`);
    } else {
      try {
        parseMountOptions([opt]);
        famfs.push(opt);
      } catch (e) {
        if (!sloppy || !(e instanceof FamfsError)) throw e;
        ignored.push(opt);
      }
    }
  }
  return { famfs, ignored };
}

/** famfs's own CLI entry point (for -N: run in another mount namespace through nsenter). */
const FAMFS_MAIN = fileURLToPath(new URL('../dist/bin/famfs.js', import.meta.url));

async function mount(io: CliIo, spec: string, dir: string, o: HelperOptions): Promise<number> {
  if (o.type !== undefined && o.type !== 'famfs' && o.type !== 'fuse.famfs') {
    throw usageError(PROG, `${PROG}: file system type '${o.type}' is not famfs`);
  }
  const { famfs, ignored } = helperOptions(o.options ?? [], o.sloppy === true);
  const famfsArgs = ['mount', ...(o.verbose === true ? ['-v'] : []), ...(famfs.length > 0 ? ['-o', famfs.join(',')] : []), spec, dir];
  if (o.verbose === true) {
    const ns = o.namespace !== undefined ? ` (in mount namespace ${o.namespace})` : '';
    io.out(`${PROG}: famfs ${famfsArgs.join(' ')}${ns}${ignored.length > 0 ? `; ignored: ${ignored.join(',')}` : ''}\n`);
  }
  // the same checks `famfs mount` makes before it starts anything
  const ctx = mountSpec.context([spec, dir], { options: famfs, verbose: o.verbose }, mountHelperCommand());
  if (ignored.includes('nofail') && o.namespace === undefined && !fs.existsSync(spec)) {
    if (o.verbose === true) io.out(`${PROG}: ${spec} does not exist: not mounted (nofail)\n`);
    return 0;
  }
  if (o.fake === true) return 0;
  if (o.namespace !== undefined) return inNamespace(io, o.namespace, famfsArgs);
  await mountSpec.run(io, {}, ctx);
  return 0;
}

/** `nsenter --mount=NS famfs mount …`: the mount, and its daemon, in that mount namespace. */
function inNamespace(io: CliIo, ns: string, famfsArgs: string[]): number {
  const nsFile = /^\d+$/.test(ns) ? `/proc/${ns}/ns/mnt` : ns;
  const r = spawnSync('nsenter', [`--mount=${nsFile}`, '--', process.execPath, FAMFS_MAIN, ...famfsArgs], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8', env: io.env });
  if (r.error) throw new FamfsError('ENOENT', PROG, `${PROG}: cannot run nsenter for -N ${ns}: ${r.error.message}`);
  // famfs's own message, without its program name (this is mount.famfs speaking)
  for (const l of r.stderr.split('\n').filter((x) => x !== '')) io.err(`${PROG}: ${l.replace(/^(famfs|nsenter): (famfs mount: )?/, '')}\n`);
  return r.status === 0 ? 0 : HELPER_EXIT_FAILURE;
}

/** `mount.famfs SPEC DIR [-sfnv] [-N ns] [-o options] [-t type]`: the exit status for mount(8). */
export async function runMountFamfs(argv: string[], io: CliIo): Promise<number> {
  let status = 0;
  const cmd = mountHelperCommand()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s), outputError: (s, write) => write(`${PROG}: ${s.replace(/^error: /, '')}`) })
    .action(async (spec: string, dir: string, o: HelperOptions) => {
      status = await mount(io, spec, dir, o);
    });
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return status;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : HELPER_EXIT_USAGE;
    }
    const err = fromSystemError(e, PROG);
    io.err(`${PROG}: ${err.message.replace(/^(famfs mount|mount\.famfs): /, '')}\n`);
    if (err.kind === 'internal') {
      if (io.env.FAMFS_DEBUG) io.err(`${err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : String(err.cause)}\n`);
      else io.err(`${PROG}: this is a bug; set FAMFS_DEBUG=1 to see where it happened\n`);
    }
    return err.kind === 'usage' ? HELPER_EXIT_USAGE : HELPER_EXIT_FAILURE;
  }
}
