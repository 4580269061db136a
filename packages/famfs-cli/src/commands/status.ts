import { FamfsError, usageError } from '@famfs/core';
import { Logger, controlRequest, daemonFiles, famfsMountOf } from '@famfs/fuse';
import { Command } from 'commander';
import type { CommandSpec } from './spec.js';

/** The control socket of the daemon serving the famfs mount that holds `p`. */
export function daemonSocketOf(p: string, op: string): string {
  const m = famfsMountOf(p);
  if (m === undefined) throw new FamfsError('EINVAL', op, `${op}: ${p} is not in a mounted famfs file system`, p);
  return daemonFiles(m.target).socket;
}

export interface StatusContext {
  path: string;
  json: boolean;
}

/** `famfs status MNT` — what the mount daemon says about itself. */
export const statusSpec: CommandSpec<StatusContext> = {
  command: () =>
    new Command('status')
      .description('Show what the daemon of a famfs mount reports: role, device, log use, requests, protocol')
      .argument('[mount_point]', 'a famfs mount point, or any path in it')
      .option('--json', 'print the status as JSON'),
  context: (args, o) => {
    if (args[0] === undefined) throw usageError('status', 'status: Must specify a mount point');
    return { path: args[0], json: o.json === true };
  },
  run: async (io, _g, c) => {
    const st = (await controlRequest(daemonSocketOf(c.path, 'status'), { status: {} })).status;
    if (st === undefined) throw new FamfsError('EPROTO', 'status', 'status: the famfs daemon sent no status');
    if (c.json) {
      // one shape: a field the daemon leaves unset (no DAX window) is null, not missing
      io.out(`${JSON.stringify({ ...st, daxWindow: st.daxWindow ?? null }, null, 2)}\n`);
      return 0;
    }
    const rows: Array<[string, string | number | boolean]> = [
      ['mount point', st.mountpoint], ['device', st.device], ['role', st.role], ['system UUID', st.systemUuid],
      ['file system UUID', st.fsUuid], ['files', st.files], ['directories', st.directories],
      ['log entries', `${st.logEntries} of ${st.logCapacity}`], ['protocol profile', st.protocolProfile],
      ['data path', st.dataPath === 'famfs-dax' ? 'famfs DAX (the kernel maps files from their fmaps)' : 'READ/WRITE (data through the daemon)'],
      ['famfs mode', st.famfsModeDevice ? `device bound to fsdev_dax; superblock and log ${st.metaLive ? 'through .meta' : 'from a copy'}` : 'no'],
      ['cache', st.cache],
      ['channel', st.channel === 'js' ? 'the daemon\'s event loop (queues=0)' : `${st.channel === 'uring' ? 'FUSE-over-io_uring' : 'cloned /dev/fuse channels'}, ${st.queues.length} native queues`],
      ...(st.queues ?? []).map((q): [string, string] => [`  queue ${q.queue} (${q.kind})`, `${q.nativeReads} reads and ${q.nativeWrites} writes answered natively, ${q.toJs} requests to the daemon`]),
      ['fuse-iomap', st.iomap ? 'negotiated (the kernel asks IOMAP_BEGIN/END)' : 'not offered by this kernel'],
      ['DAX window', st.daxWindow === undefined || st.daxWindow === null ? 'none' : `${st.daxWindow.size} bytes, ${st.daxWindow.mappedBytes} mapped in ${st.daxWindow.mappings} mappings (${st.daxWindow.setups} SETUPMAPPING, ${st.daxWindow.removes} REMOVEMAPPING, ${st.daxWindow.failures} failed); VMM socket ${st.daxWindow.socket} (${st.daxWindow.vmms} connected)`],
      ['requests', `${st.requests} (${st.requestErrors} answered with an error)`],
      ['bytes read', st.bytesRead], ['bytes written', st.bytesWritten],
      ['requests by operation', Object.entries(st.ops ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`).join(', ')], ['inodes the kernel holds', st.inodesRemembered],
      ['daemon pid', st.pid], ['daemon RSS', `${(st.rssBytes / 1024 / 1024).toFixed(1)} MiB`], ['log level', st.logLevel],
    ];
    for (const [k, v] of rows) io.out(`${`${k}:`.padEnd(26)}${v}\n`);
    return 0;
  },
};

/** `famfs loglevel MNT LEVEL` — change what the mount daemon logs, without a remount. */
export const loglevelSpec: CommandSpec<{ path: string; level: string }> = {
  command: () =>
    new Command('loglevel')
      .description("Set the log level of a famfs mount's daemon (error, warn, info, debug)")
      .argument('[mount_point]')
      .argument('[level]'),
  context: (args) => {
    if (args[0] === undefined || args[1] === undefined) throw usageError('loglevel', 'loglevel: Must specify a mount point and a level (error, warn, info, debug)');
    if (!Logger.isLevel(args[1])) throw usageError('loglevel', `loglevel: unknown level '${args[1]}' (error, warn, info, debug)`);
    return { path: args[0], level: args[1] };
  },
  run: async (_io, _g, c) => {
    await controlRequest(daemonSocketOf(c.path, 'loglevel'), { setLogLevel: { level: c.level } });
    return 0;
  },
};
