import * as fs from 'node:fs';
import { Famfs } from '@famfs/core';
import { startControlServer } from './control.js';
import { controlHandlers, refreshAndInvalidate } from './control-handlers.js';
import type { MountRequest } from './daemon.js';
import { FamfsFuseFs } from './filesystem.js';
import { Logger } from './log.js';
import { type DaemonState, daemonFiles, mountFuse, unmount } from './mounts.js';
import { Session, primaryDaxdev } from './session.js';
import { devFuseTransport } from './transport.js';

/** max_read we pass to mount(2): what one READ may ask (as max_write, 1 MiB). */
const MAX_IO = 1024 * 1024;

/**
 * The daemon: open the file system, mount it through /dev/fuse, serve until
 * it is unmounted, and clean up. `report` tells the waiting `famfs mount`
 * ('ready', or 'error <message>').
 */
export async function runDaemon(req: MountRequest, report: (line: string) => void): Promise<number> {
  const log = new Logger(req.logLevel);
  const files = daemonFiles(req.mountpoint);
  let famfs: Famfs;
  try {
    famfs = Famfs.openByRole(req.device, { systemUuid: req.systemUuid });
  } catch (e) {
    report(`error ${(e as Error).message}`);
    return 1;
  }
  let fd: number;
  try {
    fd = fs.openSync('/dev/fuse', 'r+');
    mountFuse(req.device, req.mountpoint, fd, MAX_IO, { allowOther: req.allowOther ?? true, defaultPermissions: req.defaultPermissions ?? true });
  } catch (e) {
    famfs.close();
    report(`error ${(e as Error).message}`);
    return 1;
  }
  const fuseFs = new FamfsFuseFs(famfs, { cache: req.cache, timeout: req.timeout });
  const transport = devFuseTransport(fd);
  const session = new Session(transport, fuseFs, {
    profile: req.profile,
    maxWrite: MAX_IO,
    daxdevs: [primaryDaxdev(famfs, req.device)],
    log,
  });
  const serving = session.run();

  const handlers = controlHandlers({ req, famfs, fuseFs, session, log });
  const control = await startControlServer(files.socket, handlers, (e) => log.error(`control: ${(e as Error).stack ?? String(e)}`));
  const timer = req.refreshInterval > 0 ? setInterval(() => session.initialized && refreshAndInvalidate(fuseFs, session), req.refreshInterval * 1000) : undefined;
  timer?.unref();

  const stopOnSignal = () => {
    log.info('signal: unmounting');
    try {
      unmount(req.mountpoint, true);
    } catch (e) {
      log.warn((e as Error).message);
    }
  };
  process.on('SIGTERM', stopOnSignal);
  process.on('SIGINT', stopOnSignal);

  // Ready when the mount answers: the kernel sends INIT, then our GETATTR.
  try {
    await fs.promises.stat(req.mountpoint);
    const state: DaemonState = {
      pid: process.pid, device: req.device, mountpoint: req.mountpoint, systemUuid: req.systemUuid,
      fsUuid: famfs.sb.uuid, socket: files.socket, log: files.log,
    };
    fs.writeFileSync(files.state, JSON.stringify(state), { mode: 0o600 });
    log.info(`serving ${req.device} on ${req.mountpoint} as ${famfs.role}`);
    report('ready');
  } catch (e) {
    report(`error the mount did not answer: ${(e as Error).message}`);
    stopOnSignal();
  }

  try {
    await serving;
  } catch (e) {
    log.error(`session failed: ${(e as Error).stack ?? String(e)}`);
  }
  log.info('unmounted: stopping');
  if (timer) clearInterval(timer);
  control.close();
  fs.rmSync(files.state, { force: true });
  fs.rmSync(files.socket, { force: true });
  transport.close();
  famfs.close();
  return 0;
}
