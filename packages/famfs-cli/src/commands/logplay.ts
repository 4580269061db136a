import { Famfs, FamfsError, openDevice, replayChecked, shadowRoot, usageError, writeShadowTree } from '@famfs/core';
import { controlRequest, famfsMountOf } from '@famfs/fuse';
import { Command } from 'commander';
import { deviceOf, openMountedDevice, systemUuidOf, type GlobalOptions } from '../context.js';
import type { CliIo } from '../io.js';
import type { CommandSpec } from './spec.js';
import { daemonSocketOf } from './status.js';
import { text } from '../sizes.js';
import { escapeName } from '../terminal.js';

/** What `famfs logplay -D DEV` reports, from a check-only replay of an unmounted device (opened as Famfs.open opens it). */
function checkedLog(path: string): Pick<Famfs, 'logCursor' | 'problems' | 'namespace' | 'close'> {
  const dev = openDevice(path, { writable: false });
  try {
    const { replayer } = replayChecked(dev);
    return { logCursor: replayer.cursor, problems: replayer.problems, namespace: replayer.namespace, close: () => dev.close() };
  } catch (e) {
    dev.close();
    throw e;
  }
}

export interface LogplayContext {
  /** a mount point (or any path in a mount): refresh that mount */
  path?: string;
  dryRun: boolean;
  verbose: boolean;
  /** write upstream's shadow YAML tree here instead of refreshing a mount */
  shadow?: string;
  /** read the YAML back and check it (--shadowtest, -s) */
  shadowTest: boolean;
  /** the device to read the log from (-d/--daxdev; with a shadow path) */
  daxdev?: string;
  /** print the result as one JSON object (docs/json-output.md) */
  json: boolean;
}

/** A bad or rejected entry, as --json prints it. */
function problemsJson(ps: ReadonlyArray<{ index: number; fault: string; message: string }>): Array<{ index: number; fault: string; message: string }> {
  return ps.map((p) => ({ index: p.index, fault: p.fault, message: p.message }));
}

/**
 * `famfs logplay`: on a mount, replay what the log gained (the daemon
 * refreshes, and tells the kernel); on a device (-D), report what the log
 * holds; with a shadow path, write upstream's shadow YAML tree of the file
 * system there (what upstream's famfs_fused serves a mount from).
 *
 * upstream's option string makes `-S` a flag and takes the path only from
 * `--shadow PATH`; its own smoke tests run `logplay -Ss DIR MPT`. Here `-S`
 * means "shadow mode, the shadow path is the first argument", and `-s` is
 * --shadowtest, so that line writes and checks a shadow tree of MPT in DIR.
 */
export const logplaySpec: CommandSpec<LogplayContext> = {
  command: () =>
    new Command('logplay')
      .description('Replay the metadata log: on a mount, show new files; on a device (-D), report the log; with --shadow, write the shadow YAML tree')
      .argument('[args...]', 'mount_point (any path in it); with -S: shadow_path mount_point')
      .option('-n, --dryrun', 'replay without applying anything')
      .option('-v, --verbose', 'list every entry replayed')
      .option('-c, --client', 'replay as a client (what famfs-ts always shows a client host)')
      .option('-m, --mmap', 'read the log through a mapping (the default)')
      .option('-r, --read', 'accepted for compatibility (upstream: read(2); famfs-ts maps the log)')
      .option('--shadow <path>', "write upstream's shadow YAML tree under PATH (PATH/root, or PATH itself if it ends in /root)")
      .option('-S', 'shadow mode: the shadow path is the first argument')
      .option('-s, --shadowtest', 'read each shadow YAML file back and check it against its log entry')
      .option('-d, --daxdev <device>', 'with a shadow path: read the log from this unmounted device')
      .option('-M, --set-daxmode', 'accepted for compatibility')
      .option('--json', 'print the result as JSON (names raw; docs/json-output.md)'),
  context: (args, o) => {
    const pos = Array.isArray(args[0]) ? (args[0] as string[]) : args;
    if (o.read === true && o.mmap === true) throw usageError('logplay', 'Error: --mmap and --read are mutually exclusive');
    let shadow = o.shadow === undefined ? undefined : text(o.shadow, 'shadow');
    if (o.S === true) {
      if (shadow !== undefined) throw new FamfsError('EINVAL', 'logplay', "logplay: don't specify more than one shadowpath", { kind: 'usage', exitStatus: 22 });
      shadow = pos.shift();
      if (shadow === undefined) throw usageError('logplay', 'logplay: -S needs the shadow path as the first argument');
    }
    const daxdev = o.daxdev === undefined ? undefined : text(o.daxdev, 'daxdev');
    if (daxdev !== undefined && shadow === undefined) throw usageError('logplay', 'Error: daxdev only used with shadow logplay');
    return { path: pos[0], dryRun: o.dryrun === true, verbose: o.verbose === true, shadow, shadowTest: o.shadowtest === true, daxdev, json: o.json === true };
  },
  run: async (io: CliIo, g: GlobalOptions, c: LogplayContext) => {
    // with --json, stdout is the one JSON object; the text lines are not printed
    const say = (line: string): void => {
      if (!c.json) io.out(line);
    };
    const json = (v: unknown): void => io.out(`${JSON.stringify(v, null, 2)}\n`);
    if (c.dryRun) say('Logplay: dry_run selected\n');
    const offline = g.device !== undefined || (io.env.FAMFS_DEVICE ?? '') !== '' || c.daxdev !== undefined;
    if (c.shadow !== undefined) {
      say('Logplay: running in shadow test mode\n');
      const root = shadowRoot(c.shadow);
      // the device: -d, or -D, or the one the named mount is on (through the mount in famfs mode)
      const device = c.daxdev ?? (offline ? deviceOf(io, g, 'logplay') : undefined);
      let fs: Famfs;
      if (device !== undefined) fs = Famfs.open(device, { writable: false, systemUuid: systemUuidOf(io, g) });
      else {
        if (c.path === undefined) throw usageError('logplay', 'logplay: Must specify mount_point (any path within a famfs file system), or a device with -d');
        const m = famfsMountOf(c.path);
        if (m === undefined) throw usageError('logplay', `logplay: ${c.path} is not in a mounted famfs file system`);
        fs = Famfs.fromDevice(openMountedDevice(m.target, m.source), { systemUuid: systemUuidOf(io, g) });
      }
      try {
        const st = writeShadowTree(fs, root, { dryRun: c.dryRun, verify: c.shadowTest });
        for (const e of st.errors) io.err(`famfs logplay: ${escapeName(e)}\n`);
        for (const p of fs.problems) io.err(`famfs logplay: ${escapeName(p.message)}\n`);
        say(`famfs_logplay(shadow): ${fs.logCursor} log entries; ${st.files} new files; ${st.dirs} new directories\n`);
        if (c.verbose) say(`\tExisted:  ${st.existed} files\n`);
        if (c.shadowTest) say(`\t${st.checked} shadow yaml checked\n\t${st.errors.length} yaml errors\n`);
        if (c.json) {
          json({
            mode: 'shadow', dryRun: c.dryRun, shadowRoot: root, entries: fs.logCursor, files: st.files, directories: st.dirs, existed: st.existed,
            checked: c.shadowTest ? st.checked : null, yamlErrors: st.errors, badEntries: problemsJson(fs.problems),
          });
        }
        return Math.min(st.errors.length + fs.problems.length, 127);
      } finally {
        fs.close();
      }
    }
    if (!offline) {
      if (c.path === undefined) throw usageError('logplay', 'logplay: Must specify mount_point (actually any path within a famfs file system will work), or a device with -D');
      if (c.dryRun) {
        if (c.json) json({ mode: 'mount', dryRun: true, entries: null, files: null, directories: null, problems: null });
        return 0;
      }
      const r = (await controlRequest(daemonSocketOf(c.path, 'logplay'), { refresh: {} })).refresh;
      if (r === undefined) throw new FamfsError('EPROTO', 'logplay', 'logplay: the famfs daemon sent no result');
      say(`famfs_logplay(fuse): ${r.entries} log entries; ${r.files} new files; ${r.directories} new directories\n`);
      if (r.problems > 0) say(`\t${r.problems} bad or rejected log entries\n`);
      if (c.json) json({ mode: 'mount', dryRun: false, entries: r.entries, files: r.files, directories: r.directories, problems: r.problems });
      return Math.min(r.problems, 127);
    }
    const device = deviceOf(io, g, 'logplay');
    const systemUuid = systemUuidOf(io, g);
    // without -v only counts are printed: a check-only replay (no object per file) gives them
    const fs = c.verbose ? Famfs.open(device, { writable: false, systemUuid }) : checkedLog(device);
    try {
      if (c.json) {
        const ns = fs.namespace;
        json({
          mode: 'device', dryRun: c.dryRun, entries: fs.logCursor, files: ns.files, directories: ns.dirs, badEntries: problemsJson(fs.problems),
          // -v: every file and directory the log holds, in log order
          nodes: c.verbose
            ? [...ns.walk()].sort((a, b) => a.index - b.index).map((n) => ({
                index: n.index, type: n.kind, path: n.relpath, size: n.kind === 'file' ? n.size : 0, mode: n.mode, uid: n.uid, gid: n.gid,
              }))
            : null,
        });
        return Math.min(fs.problems.length, 127);
      }
      if (c.verbose) {
        io.out(`famfs logplay: log contains ${fs.logCursor} entries\n`);
        for (const n of fs.namespace.walk()) {
          if (n.kind === 'dir') io.out(`famfs logplay: ${n.index}: mkdir ${n.mode.toString(8).padStart(4, '0')} ${n.uid}:${n.gid} ${escapeName(n.relpath)}\n`);
          else io.out(`famfs logplay: ${n.index}: file=${escapeName(n.relpath)} size=${n.size}\n`);
        }
      }
      for (const p of fs.problems) io.err(`famfs logplay: ${escapeName(p.message)}\n`);
      const ns = fs.namespace;
      io.out(`famfs_logplay(v1): ${fs.logCursor - fs.problems.length} log entries; ${ns.files} new files; ${ns.dirs} new directories\n`);
      if (c.verbose) io.out(`\tCreated:  ${ns.files} files, ${ns.dirs} directories\n`);
      if (fs.problems.length > 0) io.out(`\t${fs.problems.length} bad or rejected log entries\n`);
      return Math.min(fs.problems.length, 127);
    } finally {
      fs.close();
    }
  },
  // upstream: a usage error or a bad log is 1; a shadow path that is missing, not a directory, not writable: its errno
  exitCode: (e) => (e.kind === 'usage' || e.kind === 'format' ? 1 : Math.min(e.errno, 127)),
};
