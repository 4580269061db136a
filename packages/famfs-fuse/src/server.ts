import * as fs from 'node:fs';
import type * as net from 'node:net';
import { Famfs, FamfsError } from '@famfs/core';
import { startControlServer } from './control.js';
import { controlHandlers, refreshAndInvalidate } from './control-handlers.js';
import type { MountRequest } from './daemon.js';
import { FamfsFuseFs } from './filesystem.js';
import { Logger } from './log.js';
import { mountFuse, unmount } from './mounts.js';
import { type DaemonState, daemonFiles, openRunDir, removeDaemonFiles, writeState } from './run-dir.js';
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
  let famfs: Famfs;
  let files: ReturnType<typeof daemonFiles>;
  try {
    // `famfs mount` checked the run directory; check it again here, where the
    // files are written (the daemon may be started by other means)
    const run = openRunDir('famfs-fused', { create: false });
    if (run === undefined) throw new FamfsError('ENOENT', 'famfs-fused', `famfs-fused: the run directory is missing`);
    fs.closeSync(run.fd);
    files = daemonFiles(req.mountpoint, run.path);
    famfs = Famfs.openByRole(req.device, { systemUuid: req.systemUuid });
  } catch (e) {
    report(`error ${(e as Error).message}`);
    return 1;
  }
  if (req.fsUuid !== undefined && famfs.sb.uuid !== req.fsUuid) {
    famfs.close();
    report(`error ${req.device} now holds file system ${famfs.sb.uuid}, not the ${req.fsUuid} famfs mount checked: not mounting`);
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

  const handlers = controlHandlers({ req, famfs, fuseFs, session, log });
  let control: net.Server | undefined;
  let timer: NodeJS.Timeout | undefined;
  // Ready when the control socket listens, the mount answers (the kernel
  // sends INIT, then our GETATTR) and the state is recorded; anything less
  // is reported and unmounted.
  let stage = 'the control socket';
  let failed = false;
  try {
    control = await startControlServer(files.socket, handlers, (e) => log.error(`control: ${(e as Error).stack ?? String(e)}`));
    stage = 'the mount did not answer';
    await fs.promises.stat(req.mountpoint);
    stage = 'the state file';
    const state: DaemonState = {
      pid: process.pid, device: req.device, mountpoint: req.mountpoint, systemUuid: req.systemUuid,
      fsUuid: famfs.sb.uuid, socket: files.socket, log: files.log,
    };
    writeState(files.state, state);
    timer = req.refreshInterval > 0 ? setInterval(() => session.initialized && refreshAndInvalidate(fuseFs, session), req.refreshInterval * 1000) : undefined;
    timer?.unref();
    log.info(`serving ${req.device} on ${req.mountpoint} as ${famfs.role}`);
    report('ready');
  } catch (e) {
    failed = true;
    report(`error ${stage}: ${(e as Error).message}`);
    stopOnSignal();
  }

  try {
    await serving;
  } catch (e) {
    log.error(`session failed: ${(e as Error).stack ?? String(e)}`);
  }
  log.info('unmounted: stopping');
  if (timer) clearInterval(timer);
  control?.close();
  removeDaemonFiles(files, process.pid);
  transport.close();
  famfs.close();
  return failed ? 1 : 0;
}
