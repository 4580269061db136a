import { FamfsError, MAX_DAXDEVS, usageError } from '@famfs/core';
import { DEFAULT_FAMFS_PROFILE, FamfsProfiles, type FamfsProfileName, mountFamfs, umountFamfs } from '@famfs/fuse';
import { Command } from 'commander';
import { systemUuidOf } from '../context.js';
import type { CommandSpec } from './spec.js';
import { parseSize, text } from '../sizes.js';

export interface MountContext {
  device: string;
  mountpoint: string;
  cache: 'none' | 'auto' | 'always';
  profile: FamfsProfileName;
  timeout?: number;
  /** -u/--nouseraccess: only root may use the mount (no allow_other) */
  allowOther: boolean;
  /** -p/--nodefaultperm: the kernel does not check modes (no default_permissions) */
  defaultPermissions: boolean;
  /** -o famfs_mode=auto|on|off (-M: on) */
  famfsMode: 'auto' | 'on' | 'off';
  /** -o keep_famfs_mode: leave a dax device in famfs mode after the mount */
  keepFamfsMode: boolean;
  /** -o refresh=SECONDS: the fallback replay timer (0: on access only) */
  refreshInterval: number;
  /** -o queues=N: native request queues (0: none; default one per CPU) */
  queues?: number;
  /** -o uring=auto|on|off */
  uring?: 'auto' | 'on' | 'off';
  /** -o dax_window=SIZE: bytes of virtio-fs DAX window (SETUPMAPPING/REMOVEMAPPING) */
  daxWindow?: number;
  /** -o famfs_daxdevs=N (experimental) */
  famfsDaxdevs?: number;
  debug: boolean;
  verbose: boolean;
}

/** upstream's -c/--cache words, as famfs-ts cache modes */
const CACHE_WORDS: Readonly<Record<string, MountContext['cache']>> = { always: 'always', normal: 'auto', never: 'none' };

type MountOpts = Pick<MountContext, 'cache' | 'profile' | 'timeout' | 'famfsMode' | 'keepFamfsMode' | 'refreshInterval' | 'queues' | 'uring' | 'daxWindow' | 'famfsDaxdevs'>;

/** The `-o` options famfs knows, for the error message. */
export const MOUNT_OPTIONS = 'cache=none|auto|always, famfs_profile=kernel-v10|libfuse-famfs, timeout=SECONDS, famfs_mode=auto|on|off, keep_famfs_mode, refresh=SECONDS, queues=N, uring=auto|on|off, dax_window=SIZE, famfs_daxdevs=N';

/** `-o` options: comma-separated; the ones famfs knows, anything else is an error. */
export function parseMountOptions(list: string[]): MountOpts {
  const out: MountOpts = { cache: 'auto', profile: DEFAULT_FAMFS_PROFILE, famfsMode: 'auto', keepFamfsMode: false, refreshInterval: 1 };
  const seconds = (v: string | undefined): number | undefined => (v !== undefined && /^\d+(\.\d+)?$/.test(v) ? Number(v) : undefined);
  for (const opt of list.flatMap((s) => s.split(',')).filter((s) => s !== '')) {
    const [k, v] = opt.split('=', 2) as [string, string | undefined];
    if (k === 'cache' && (v === 'none' || v === 'auto' || v === 'always')) out.cache = v;
    else if (k === 'famfs_profile' && v !== undefined && Object.hasOwn(FamfsProfiles, v)) out.profile = v as FamfsProfileName;
    else if (k === 'timeout' && seconds(v) !== undefined) out.timeout = seconds(v);
    else if (k === 'famfs_mode' && (v === 'auto' || v === 'on' || v === 'off')) out.famfsMode = v;
    else if (k === 'keep_famfs_mode' && v === undefined) out.keepFamfsMode = true;
    else if (k === 'refresh' && seconds(v) !== undefined) out.refreshInterval = seconds(v) ?? 1;
    else if (k === 'queues' && v !== undefined && /^\d+$/.test(v) && Number(v) <= 256) out.queues = Number(v);
    else if (k === 'uring' && (v === 'auto' || v === 'on' || v === 'off')) out.uring = v;
    else if (k === 'dax_window' && v !== undefined && windowSize(v) !== undefined) out.daxWindow = windowSize(v);
    else if (k === 'famfs_daxdevs' && v !== undefined && /^[1-9]\d?$/.test(v) && Number(v) <= MAX_DAXDEVS) out.famfsDaxdevs = Number(v);
    else throw usageError('mount', `famfs mount: unknown or invalid mount option '${opt}' (known: ${MOUNT_OPTIONS})`);
  }
  return out;
}

/** A DAX window size: a positive multiple of 2 MiB (the kernel maps 2 MiB ranges), as mkfs sizes are written. */
function windowSize(v: string): number | undefined {
  let n: number;
  try {
    n = parseSize(v, 'dax_window');
  } catch {
    return undefined;
  }
  return n > 0 && n % (2 * 1024 * 1024) === 0 ? n : undefined;
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

export const mountSpec: CommandSpec<MountContext> = {
  command: () =>
    new Command('mount')
      .description('Mount a famfs file system (a FUSE server started as a daemon; returns when the mount answers)')
      .argument('[memdevice]')
      .argument('[mountpoint]')
      .option('-f, --fuse', 'mount through FUSE (the default)')
      .option('-F, --nofuse', 'use the standalone famfs kernel module (not available)')
      .option('-t, --timeout <seconds>', 'attribute and entry cache timeout')
      .option('-c, --cache <mode>', 'always | normal | never (upstream\'s words for cache=always|auto|none)')
      .option('-u, --nouseraccess', 'only root may use the mount (no allow_other)')
      .option('-p, --nodefaultperm', 'let the kernel skip mode checks (no default_permissions)')
      .option('-d, --debug', 'log every request in the daemon log')
      .option('-v, --verbose', 'say what was mounted')
      .option('-r, --read', 'accepted for compatibility (upstream: read the log with read(2); famfs-ts maps it)')
      .option('-m, --mmap', 'accepted for compatibility (the default)')
      .option('-S, --shadow <path>', 'accepted for compatibility (famfs-ts keeps no shadow tree; see famfs logplay --shadow)')
      .option('-M, --set-daxmode', 'famfs mode on a dax device, or fail (-o famfs_mode=on; the default, auto, uses it when the kernel can)')
      .option('-L, --load-module', 'accepted for compatibility (no kernel module to load)')
      .option('-b', 'accepted for compatibility (ignored, as upstream)')
      .option('-R, --remount', 'upstream: remount (standalone kernel module only; refused here)')
      .option('-D, --dummy', 'upstream: a scratch mount (standalone kernel module only; refused here)')
      .option('-o, --options <opts>', MOUNT_OPTIONS, collect, []),
  context: (args, o) => {
    if (o.nofuse === true) {
      throw new FamfsError('ENODEV', 'mount', 'famfs mount: --nofuse needs the standalone famfs kernel module, which this kernel does not have; mount through FUSE (the default)');
    }
    if (o.remount === true || o.dummy === true) {
      throw new FamfsError('ENODEV', 'mount', `famfs mount: ${o.remount === true ? '--remount' : '--dummy'} needs the standalone famfs kernel module, which famfs-ts does not use`);
    }
    if (o.read === true && o.mmap === true) throw usageError('mount', 'Error: --mmap and --read are mutually exclusive');
    if (o.cache !== undefined && o.timeout !== undefined) throw usageError('mount', 'famfs mount: --cache and --timeout are mutually exclusive');
    if (args[0] === undefined || args[1] === undefined) throw usageError('mount', 'famfs mount: error: <daxdev> and <mountpoint> args required');
    const opts = parseMountOptions(o.options as string[]);
    if (o.setDaxmode === true) opts.famfsMode = 'on';
    if (o.cache !== undefined) {
      const c = CACHE_WORDS[text(o.cache, 'cache')];
      if (c === undefined) throw usageError('mount', `famfs mount: invalid cache mode '${text(o.cache, 'cache')}' (always, normal, never)`);
      opts.cache = c;
    }
    if (o.timeout !== undefined) {
      if (!/^\d+(\.\d+)?$/.test(text(o.timeout, 'timeout'))) throw new FamfsError('EINVAL', 'mount', `famfs mount: invalid timeout '${text(o.timeout, 'timeout')}'`);
      opts.timeout = Number(o.timeout);
    }
    return {
      device: args[0], mountpoint: args[1], ...opts, allowOther: o.nouseraccess !== true, defaultPermissions: o.nodefaultperm !== true,
      debug: o.debug === true, verbose: o.verbose === true,
    };
  },
  run: async (io, g, c) => {
    if (process.getuid?.() !== 0) throw new FamfsError('EPERM', 'mount', 'famfs mount: must run as root');
    const st = await mountFamfs({
      device: c.device,
      mountpoint: c.mountpoint,
      systemUuid: systemUuidOf(io, g),
      cache: c.cache,
      profile: c.profile,
      timeout: c.timeout,
      allowOther: c.allowOther,
      defaultPermissions: c.defaultPermissions,
      famfsMode: c.famfsMode,
      keepFamfsMode: c.keepFamfsMode,
      queues: c.queues,
      uring: c.uring,
      daxWindow: c.daxWindow,
      famfsDaxdevs: c.famfsDaxdevs,
      logLevel: c.debug ? 'debug' : 'info',
      refreshInterval: c.refreshInterval,
    });
    if (c.verbose) io.out(`famfs mount: ${c.device} on ${st.mountpoint} (daemon pid ${st.pid}, log ${st.log})\n`);
    return 0;
  },
  exitCode: () => 1,
};

export const umountSpec: CommandSpec<{ mountpoint: string }> = {
  command: () => new Command('umount').description('Unmount a famfs mount and stop its daemon').argument('[mountpoint]'),
  context: (args) => {
    if (args[0] === undefined) throw new FamfsError('EINVAL', 'umount', 'famfs umount: <mountpoint> required');
    return { mountpoint: args[0] };
  },
  run: async (_io, _g, c) => {
    await umountFamfs(c.mountpoint);
    return 0;
  },
  exitCode: () => 1,
};
