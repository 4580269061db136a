import { Famfs, FamfsError, usageError } from '@famfs/core';
import { DEFAULT_FAMFS_PROFILE, DaxWindow, FamfsFuseFs, WINDOW_UNIT, WindowChannel, FamfsProfiles, type FamfsProfileName, Logger, Session, famfsDaxdevs, famfsWindowDevices, seqpacketTransport } from '@famfs/fuse';
import { Command } from 'commander';
import { deviceOf, systemUuidOf } from '../context.js';
import { parseSize, parseUint, text } from '../sizes.js';
import type { CommandSpec } from './spec.js';

export interface ServeContext {
  fd: number;
  profile: FamfsProfileName;
  cache: 'none' | 'auto' | 'always';
  debug: boolean;
  /** --dax-window SIZE: a DAX window for SETUPMAPPING/REMOVEMAPPING */
  daxWindow?: number;
  /** --window-socket PATH: where a VMM takes the window (needs --dax-window) */
  windowSocket?: string;
}

/**
 * `famfs -D IMG serve --fd N`: serve the FUSE protocol over an inherited,
 * already-connected SOCK_SEQPACKET socket instead of /dev/fuse, without
 * mounting anything. A test (or any program) plays the kernel on the other
 * end: one message per write, one reply per read, as on /dev/fuse.
 */
export const serveSpec: CommandSpec<ServeContext> = {
  command: () =>
    new Command('serve')
      .description('Serve the FUSE protocol on an inherited SOCK_SEQPACKET socket (testing: the peer plays the kernel)')
      .requiredOption('--fd <n>', 'the connected SOCK_SEQPACKET socket to serve')
      .option('--profile <name>', `famfs protocol profile: ${Object.keys(FamfsProfiles).join(' | ')}`, DEFAULT_FAMFS_PROFILE)
      .option('--cache <mode>', 'none | auto | always', 'auto')
      .option('--dax-window <size>', 'a virtio-fs DAX window of SIZE bytes (a multiple of 2 MiB) for SETUPMAPPING/REMOVEMAPPING')
      .option('--window-socket <path>', 'listen at PATH for a VMM to take the window (its memfd and device fds, by SCM_RIGHTS)')
      .option('-d, --debug', 'log every request on stderr'),
  context: (_a, o) => {
    const profile = text(o.profile, 'profile');
    if (!(profile in FamfsProfiles)) throw new FamfsError('EINVAL', 'serve', `serve: unknown profile '${profile}' (${Object.keys(FamfsProfiles).join(', ')})`);
    const cache = text(o.cache, 'cache');
    if (cache !== 'none' && cache !== 'auto' && cache !== 'always') throw new FamfsError('EINVAL', 'serve', `serve: unknown cache mode '${cache}'`);
    let daxWindow: number | undefined;
    if (o.daxWindow !== undefined) {
      daxWindow = parseSize(text(o.daxWindow, 'dax-window'), 'dax-window');
      if (daxWindow <= 0 || daxWindow % WINDOW_UNIT !== 0) throw usageError('serve', `serve: --dax-window ${text(o.daxWindow, 'dax-window')} is not a positive multiple of 2 MiB`);
    }
    const windowSocket = o.windowSocket === undefined ? undefined : text(o.windowSocket, 'window-socket');
    if (windowSocket !== undefined && daxWindow === undefined) throw usageError('serve', 'serve: --window-socket needs --dax-window');
    return { fd: parseUint(text(o.fd, 'fd'), 'fd'), profile: profile as FamfsProfileName, cache, debug: o.debug === true, daxWindow, windowSocket };
  },
  run: async (io, g, c) => {
    const systemUuid = systemUuidOf(io, g);
    const device = deviceOf(io, g, 'serve');
    const famfs = Famfs.openByRole(device, { systemUuid });
    const log = new Logger(c.debug ? 'debug' : 'warn', (l) => io.err(l));
    let window: DaxWindow | undefined;
    let channel: WindowChannel | undefined;
    try {
      if (c.daxWindow !== undefined) window = DaxWindow.create({ size: c.daxWindow, devices: famfsWindowDevices(famfs, device) });
      if (window !== undefined && c.windowSocket !== undefined) channel = WindowChannel.listen(c.windowSocket, window, log);
      const session = new Session(seqpacketTransport(c.fd), new FamfsFuseFs(famfs, { cache: c.cache }), {
        profile: c.profile,
        // a socket's send buffer (~208 KiB by default) bounds one message:
        // offer 128 KiB requests, not /dev/fuse's 1 MiB
        maxWrite: 128 * 1024,
        daxdevs: famfsDaxdevs(famfs, device),
        log,
        window,
      });
      await session.run();
      return 0;
    } finally {
      channel?.close();
      window?.close();
      famfs.close();
    }
  },
};
