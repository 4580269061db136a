/**
 * What the man pages and the shell completion describe: the commander
 * definitions themselves (the same objects --help prints from), plus the
 * facts commander does not hold (exit status, environment, files).
 */
import { Errno, FamfsError } from '@famfs/core';
import { type Command } from 'commander';
import { MKFS_EXIT_FAILURE, mkfsCommand } from '../commands/mkfs.js';
import { bufferIo } from '../io.js';
import { MOUNT_HELPER_EXIT, MOUNT_HELPER_OPTION_NOTES, mountHelperCommand } from '../mount-helper.js';
import { COMMANDS, EXIT_SIGPIPE, EXIT_UNKNOWN_COMMAND, famfsRoot } from '../program.js';

/** A paragraph of text (`a` in backquotes is set in bold), or lines shown as they are. */
export type Paragraph = string | { pre: string[] };

export interface Section {
  title: string;
  paragraphs: Paragraph[];
}

export interface ManPage {
  /** the page's name: famfs, famfs-cp, mkfs.famfs */
  name: string;
  section: 1 | 8;
  /** the command the page documents (a famfs subcommand has famfs as its parent) */
  command: Command;
  /** for a famfs subcommand: famfs itself, whose options come before the subcommand */
  parent?: Command;
  /** paragraphs after the description */
  intro?: Paragraph[];
  /** sections after OPTIONS */
  sections: Section[];
  seeAlso: string[];
}

/** `famfs` with every subcommand: the tree runFamfs parses with (no actions). */
export function famfsTree(): Command {
  const root = famfsRoot();
  for (const spec of COMMANDS) root.addCommand(spec.command());
  return root;
}

export function mkfsTree(): Command {
  return mkfsCommand(bufferIo(), () => undefined);
}

const ENVIRONMENT: Section = {
  title: 'ENVIRONMENT',
  paragraphs: [
    '`FAMFS_DEVICE`: the device or image file commands work on when -D is not given.',
    '`FAMFS_SYSTEM_UUID`: this host\'s system UUID (a host that is not the one that ran mkfs.famfs is a client); `FAMFS_SYSTEM_UUID_FILE`: a file holding it. Default: /opt/famfs/system_uuid, made with a random UUID when missing.',
    '`FAMFS_RUN_DIR`: where mount daemons keep their state, control socket and log (default /run/famfs).',
    '`FAMFS_DEBUG`: print the stack of an internal error.',
    '`FAMFS_NATIVE_ADDON`: load this famfs_native.node instead of the installed one.',
  ],
};

const FILES: Section = {
  title: 'FILES',
  paragraphs: ['/opt/famfs/system_uuid: the host\'s system UUID.', '/run/famfs: the mount daemons\' state files, control sockets and logs.'],
};

/**
 * Exit status of a famfs subcommand, from its spec's mapping: probed with a
 * failure of each kind (what the mapping does is all the page states).
 */
function famfsExitStatus(exitCode: ((e: FamfsError) => number) | undefined): string[] {
  const map = exitCode ?? ((e: FamfsError) => Math.min(Errno[e.code], 127));
  const errnoOf = (code: 'ENOENT' | 'EACCES' | 'ENOSPC') => map(new FamfsError(code, 'probe', 'probe'));
  const usage = map(new FamfsError('EINVAL', 'probe', 'probe', { kind: 'usage' }));
  const format = map(new FamfsError('EBADMSG', 'probe', 'probe', { kind: 'format' }));
  const enoent = errnoOf('ENOENT');
  const eacces = errnoOf('EACCES');
  const lines = ['0: success.'];
  let usageSaid: boolean;
  if (enoent === Errno.ENOENT && eacces === Errno.EACCES) {
    lines.push(`A failure exits with its errno number, at most 127 (for example ${Errno.ENOENT} for ENOENT, ${Errno.EACCES} for EACCES, ${Errno.ENOSPC} for ENOSPC).`);
    if (format !== Errno.EBADMSG) lines.push(`${format}: the file system's metadata is not valid.`);
    usageSaid = usage === Errno.EINVAL;
  } else if (enoent === eacces && eacces === errnoOf('ENOSPC') && format === enoent) {
    lines.push(`${enoent}: any failure.`);
    usageSaid = usage === enoent;
  } else {
    lines.push(`${enoent}: a missing file or device; ${eacces}: no permission; ${format}: invalid metadata.`);
    usageSaid = false;
  }
  lines.push(
    `${usageSaid ? '' : `${usage}: invalid arguments. `}1: an unknown option or a missing argument. ${EXIT_UNKNOWN_COMMAND}: an unknown command. ${EXIT_SIGPIPE}: standard output was closed.`,
  );
  return lines;
}

/** Every man page: famfs(1), famfs-SUBCOMMAND(1), mkfs.famfs(8), mount.famfs(8). */
export function manPages(): ManPage[] {
  const root = famfsTree();
  const subcommands = root.commands.map((c) => c.name());
  const famfsSeeAlso = ['mkfs.famfs(8)', 'mount.famfs(8)'];
  const pages: ManPage[] = [
    {
      name: 'famfs',
      section: 1,
      command: root,
      intro: [
        'One host, the master (the one that ran `mkfs.famfs`), allocates space and appends to a metadata log kept in the shared memory; every host replays the log to see the files. File data lives in the device memory.',
        'A command works on a mounted famfs (its arguments are paths in the mount) or, with `-D DEVICE` or $FAMFS_DEVICE, on an unmounted device or image file (paths relative to its root). `famfs mount` mounts through FUSE; mount(8) and /etc/fstab mount through mount.famfs(8).',
      ],
      sections: [
        {
          title: 'EXIT STATUS',
          paragraphs: [
            '0: success. 1: a usage error (an unknown option, a missing argument) or no command. ' +
              `${EXIT_UNKNOWN_COMMAND}: an unknown command. Otherwise each command's page says; most exit with the errno number of the failure (at most 127).`,
          ],
        },
        ENVIRONMENT,
        FILES,
      ],
      seeAlso: [...subcommands.map((s) => `famfs-${s}(1)`), ...famfsSeeAlso],
    },
  ];
  for (const spec of COMMANDS) {
    const name = spec.command().name();
    const command = root.commands.find((c) => c.name() === name);
    if (command === undefined) throw new Error(`famfs ${name}: not in the command tree`);
    pages.push({
      name: `famfs-${name}`,
      section: 1,
      command,
      parent: root,
      sections: [{ title: 'EXIT STATUS', paragraphs: famfsExitStatus(spec.exitCode?.bind(spec)) }, ENVIRONMENT],
      seeAlso: ['famfs(1)', ...famfsSeeAlso],
    });
  }
  pages.push({
    name: 'mkfs.famfs',
    section: 8,
    command: mkfsTree(),
    sections: [
      { title: 'EXIT STATUS', paragraphs: [`0: success. 1: a usage error. ${MKFS_EXIT_FAILURE}: any other failure.`] },
      { title: 'ENVIRONMENT', paragraphs: ENVIRONMENT.paragraphs.filter((p) => typeof p === 'string' && (p.includes('SYSTEM_UUID') || p.includes('NATIVE_ADDON'))) },
    ],
    seeAlso: ['famfs(1)', 'famfs-fsck(1)', 'mount.famfs(8)'],
  });
  pages.push({
    name: 'mount.famfs',
    section: 8,
    command: mountHelperCommand(),
    sections: [
      { title: 'MOUNT OPTIONS', paragraphs: [...MOUNT_HELPER_OPTION_NOTES] },
      {
        title: 'FSTAB',
        paragraphs: [
          'A dax device and an emulated device (an image file), mounted at boot, not failing the boot when missing:',
          { pre: ['/dev/dax0.0         /mnt/famfs   famfs  defaults,nofail             0 0', '/var/lib/famfs.img  /mnt/famfs2  famfs  defaults,nofail,cache=none  0 0'] },
          '`umount /mnt/famfs` (or `famfs umount`) unmounts; the daemon then ends. findmnt shows the type as fuse.famfs.',
        ],
      },
      { title: 'EXIT STATUS', paragraphs: [`${MOUNT_HELPER_EXIT}.`] },
      { title: 'ENVIRONMENT', paragraphs: ENVIRONMENT.paragraphs.filter((p) => typeof p === 'string' && !p.includes('FAMFS_DEVICE')) },
    ],
    seeAlso: ['mount(8)', 'fstab(5)', 'umount(8)', 'famfs(1)', 'famfs-mount(1)'],
  });
  return pages;
}
