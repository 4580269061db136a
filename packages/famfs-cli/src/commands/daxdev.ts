import { Famfs, FamfsError, resolveDaxdev, usageError } from '@famfs/core';
import { type DaxdevEntry, controlRequest, daemonFiles, famfsMountOf, famfsMountsOfDevice, isDeadMount } from '@famfs/fuse';
import { Command } from 'commander';
import { type GlobalOptions, systemUuidOf } from '../context.js';
import type { CliIo } from '../io.js';
import { text } from '../sizes.js';
import { escapeName } from '../terminal.js';
import type { CommandSpec } from './spec.js';

/**
 * Where a devadd/daxdev command acts: the daemon of a mount (it owns the log
 * while mounted), or an unmounted primary device. A primary that a live
 * famfs mount serves is reached through that mount's daemon.
 */
type Target = { mount: string; socket: string } | { device: string };

function targetOf(io: CliIo, g: GlobalOptions, given: string | undefined, op: string): Target {
  const t = given ?? g.device ?? (io.env.FAMFS_DEVICE === '' ? undefined : io.env.FAMFS_DEVICE);
  if (t === undefined) throw usageError(op, `${op}: give a famfs mount point or the primary device (or -D DEVICE)`);
  const m = famfsMountOf(t);
  if (m !== undefined && g.device === undefined) return { mount: m.target, socket: daemonFiles(m.target).socket };
  const live = famfsMountsOfDevice(t).find((x) => !isDeadMount(x.target));
  if (live !== undefined) return { mount: live.target, socket: daemonFiles(live.target).socket };
  return { device: t };
}

/** The table from an unmounted primary (opened read-only: nothing is written). */
function tableOf(f: Famfs): DaxdevEntry[] {
  return f.daxdevTable().map((d) => ({
    index: d.index, uuid: d.uuid, size: d.size, path: d.path ?? '', problem: d.problem ?? '', allocated: f.bitmaps[d.index]?.allocatedBytes ?? 0,
  }));
}

function printTable(io: CliIo, rows: readonly DaxdevEntry[], json: boolean): void {
  if (json) {
    io.out(`${JSON.stringify(rows.map((r) => ({ ...r, path: r.path === '' ? null : r.path, problem: r.problem === '' ? null : r.problem })), null, 2)}\n`);
    return;
  }
  io.out(`${'index'.padEnd(6)}${'uuid'.padEnd(38)}${'size'.padStart(16)}${'allocated'.padStart(16)}  path on this host\n`);
  for (const r of rows) {
    const where = r.path !== '' ? escapeName(r.path) : `(not found: ${escapeName(r.problem)})`;
    io.out(`${String(r.index).padEnd(6)}${r.uuid.padEnd(38)}${String(r.size).padStart(16)}${String(r.allocated).padStart(16)}  ${where}\n`);
  }
}

async function listDaxdevs(io: CliIo, g: GlobalOptions, t: Target, retry: boolean): Promise<DaxdevEntry[]> {
  if ('mount' in t) {
    const r = await controlRequest(t.socket, { daxdevs: { retry } });
    return r.daxdevs?.daxdevs ?? [];
  }
  const f = Famfs.open(t.device, { writable: false, systemUuid: systemUuidOf(io, g) });
  try {
    return tableOf(f);
  } finally {
    f.close();
  }
}

/** `famfs devadd [-f] <mount|primary> <device>` (upstream's roadmap, phase 5). */
export const devaddSpec: CommandSpec<{ target?: string; device: string; force: boolean; verbose: boolean }> = {
  command: () =>
    new Command('devadd')
      .description('Add a device to a famfs file system (a secondary daxdev): on a mounted master through its daemon, or on the unmounted primary')
      .argument('[target]', 'a famfs mount point, or the primary device (or -D DEVICE)')
      .argument('[device]', 'the device to add (blank, or -f)')
      .option('-f, --force', 'overwrite a superblock on the device that is not this file system\'s')
      .option('-v, --verbose', 'print the daxdev table afterwards'),
  context: (args, o) => {
    const pos = args.filter((a) => a !== undefined);
    if (pos.length === 0) throw usageError('devadd', 'devadd: Must specify the device to add');
    const device = pos[pos.length - 1]!;
    return { target: pos.length > 1 ? pos[0] : undefined, device, force: o.force === true, verbose: o.verbose === true };
  },
  run: async (io, g, c) => {
    const t = targetOf(io, g, c.target, 'devadd');
    let rows: DaxdevEntry[];
    if ('mount' in t) {
      const r = await controlRequest(t.socket, { addDaxdev: { path: c.device, force: c.force } });
      rows = r.daxdevs?.daxdevs ?? [];
    } else {
      const f = Famfs.open(t.device, { writable: true, systemUuid: systemUuidOf(io, g) });
      try {
        f.addDaxdev(c.device, { force: c.force });
        rows = tableOf(f);
      } finally {
        f.close();
      }
    }
    const added = rows[rows.length - 1];
    if (added === undefined || added.index === 0) throw new FamfsError('EIO', 'devadd', 'devadd: the device table does not show the new device');
    io.out(`devadd: ${escapeName(c.device)} is daxdev ${added.index} (${added.uuid}, ${added.size} bytes)\n`);
    if (c.verbose) printTable(io, rows, false);
    return 0;
  },
  exitCode: () => 1,
};

/**
 * `famfs daxdev [list|refresh|resolve]`: the devices of a file system and
 * where this host finds them (upstream's roadmap, phase 3: a device is its
 * UUID; each host maps it to a path of its own).
 */
export const daxdevSpec: CommandSpec<{ sub: 'list' | 'refresh' | 'resolve'; args: string[]; json: boolean }> = {
  command: () =>
    new Command('daxdev')
      .description('List the devices of a famfs file system and where this host finds them; refresh: look for them (in the given paths, then /dev/dax*, /dev/pmem*); resolve: one device by UUID')
      .argument('[args...]', 'list [mount|primary] | refresh [mount|primary] [candidate paths...] | resolve <fs_uuid> <dev_uuid> [candidate paths...]')
      .option('--json', 'print the table as JSON'),
  context: (args, o) => {
    const pos = [...(Array.isArray(args[0]) ? (args[0] as string[]) : args)];
    const first = pos[0];
    const sub = first === 'list' || first === 'refresh' || first === 'resolve' ? first : 'list';
    if (sub === first) pos.shift();
    if (sub === 'resolve' && pos.length < 2) throw usageError('daxdev', 'daxdev resolve: give the file system UUID and the device UUID');
    return { sub, args: pos, json: o.json === true };
  },
  run: async (io, g, c) => {
    if (c.sub === 'resolve') {
      const [fsUuid, devUuid, ...candidates] = c.args as [string, string, ...string[]];
      const r = resolveDaxdev(text(fsUuid, 'fs_uuid'), text(devUuid, 'dev_uuid'), candidates);
      if (r.path === undefined) {
        throw new FamfsError('ENODEV', 'daxdev', `daxdev resolve: device ${devUuid} of file system ${fsUuid} is not found on this host${r.tried.length > 0 ? ` (tried: ${r.tried.join('; ')})` : ''}`);
      }
      io.out(`${r.path}\n`);
      return 0;
    }
    const [target, ...candidates] = c.args;
    const t = targetOf(io, g, target, 'daxdev');
    if (c.sub === 'refresh') {
      // find every device named in the log, recording hits in this host's map
      const before = await listDaxdevs(io, g, t, false);
      const fsUuid = 'mount' in t ? undefined : Famfs.open(t.device, { writable: false, systemUuid: systemUuidOf(io, g) });
      const uuid = fsUuid?.sb.uuid ?? (await controlRequest((t as { socket: string }).socket, { status: {} })).status?.fsUuid ?? '';
      fsUuid?.close();
      for (const d of before) if (d.index > 0) resolveDaxdev(uuid, d.uuid, candidates);
    }
    const rows = await listDaxdevs(io, g, t, c.sub === 'refresh');
    printTable(io, rows, c.json);
    return rows.some((r) => r.path === '') ? 1 : 0;
  },
  exitCode: () => 1,
};
