import { Famfs, FamfsError } from '@famfs/core';
import { DEFAULT_FAMFS_PROFILE, FamfsFuseFs, FamfsProfiles, type FamfsProfileName, Logger, Session, primaryDaxdev, seqpacketTransport } from '@famfs/fuse';
import { Command } from 'commander';
import { deviceOf, systemUuidOf } from '../context.js';
import { parseUint, text } from '../sizes.js';
import type { CommandSpec } from './spec.js';

export interface ServeContext {
  fd: number;
  profile: FamfsProfileName;
  cache: 'none' | 'auto' | 'always';
  debug: boolean;
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
      .option('-d, --debug', 'log every request on stderr'),
  context: (_a, o) => {
    const profile = text(o.profile, 'profile');
    if (!(profile in FamfsProfiles)) throw new FamfsError('EINVAL', 'serve', `serve: unknown profile '${profile}' (${Object.keys(FamfsProfiles).join(', ')})`);
    const cache = text(o.cache, 'cache');
    if (cache !== 'none' && cache !== 'auto' && cache !== 'always') throw new FamfsError('EINVAL', 'serve', `serve: unknown cache mode '${cache}'`);
    return { fd: parseUint(text(o.fd, 'fd'), 'fd'), profile: profile as FamfsProfileName, cache, debug: o.debug === true };
  },
  run: async (io, g, c) => {
    const systemUuid = systemUuidOf(io, g);
    const device = deviceOf(io, g, 'serve');
    const famfs = Famfs.openByRole(device, { systemUuid });
    try {
      const session = new Session(seqpacketTransport(c.fd), new FamfsFuseFs(famfs, { cache: c.cache }), {
        profile: c.profile,
        // a socket's send buffer (~208 KiB by default) bounds one message:
        // offer 128 KiB requests, not /dev/fuse's 1 MiB
        maxWrite: 128 * 1024,
        daxdevs: [primaryDaxdev(famfs, device)],
        log: new Logger(c.debug ? 'debug' : 'warn', (l) => io.err(l)),
      });
      await session.run();
      return 0;
    } finally {
      famfs.close();
    }
  },
};
