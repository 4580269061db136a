import * as fs from 'node:fs';
import { Famfs, FamfsError } from '@famfs/core';
import { startControlServer, type ControlHandlers } from './control.js';
import type { MountRequest } from './daemon.js';
import { FamfsFuseFs } from './filesystem.js';
import { Logger } from './log.js';
import { type DaemonState, daemonFiles, mountFuse, unmount } from './mounts.js';
import { Session } from './session.js';
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
    const probe = Famfs.open(req.device, { writable: false, systemUuid: req.systemUuid });
    const master = probe.role === 'master';
    probe.close();
    famfs = Famfs.open(req.device, { writable: master, systemUuid: req.systemUuid });
  } catch (e) {
    report(`error ${(e as Error).message}`);
    return 1;
  }
  let fd: number;
  try {
    fd = fs.openSync('/dev/fuse', 'r+');
    mountFuse(req.device, req.mountpoint, fd, MAX_IO);
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
    daxdevs: [{ index: 0, path: req.device, uuid: famfs.sb.devUuid, size: famfs.dev.size }],
    log,
  });
  const serving = session.run();

  const refresh = () => {
    const r = fuseFs.refreshIfStale();
    const parents = new Set<bigint>();
    for (const c of r.changed) {
      void session.notifyInvalEntry(c.parent, c.name);
      parents.add(c.parent);
    }
    // off 0: drop the directory's cached listing too (OPENDIR allows caching it)
    for (const p of parents) void session.notifyInvalInode(p, 0, 0);
    return r;
  };
  const handlers: ControlHandlers = {
    status: () => ({
      pid: process.pid,
      device: req.device,
      mountpoint: req.mountpoint,
      role: famfs.role,
      systemUuid: famfs.systemUuid,
      fsUuid: famfs.sb.uuid,
      logEntries: famfs.logCursor,
      logCapacity: famfs.logUsage().capacity,
      files: famfs.namespace.files,
      directories: famfs.namespace.dirs,
      requests: session.stats.requests,
      requestErrors: session.stats.errors,
      bytesRead: session.stats.bytesRead,
      bytesWritten: session.stats.bytesWritten,
      rssBytes: process.memoryUsage().rss,
      inodesRemembered: fuseFs.rememberedInodes,
      protocolProfile: req.profile,
      daxFmap: session.daxFmap,
      cache: req.cache,
      logLevel: log.level,
    }),
    refresh: () => {
      const files0 = famfs.namespace.files;
      const dirs0 = famfs.namespace.dirs;
      const problems0 = famfs.problems.length;
      const r = refresh();
      return { entries: r.entries, files: famfs.namespace.files - files0, directories: famfs.namespace.dirs - dirs0, problems: famfs.problems.length - problems0 };
    },
    createFile: (c) => {
      const interleave = c.nstrips ? { nstrips: c.nstrips, nbuckets: c.nbuckets || c.nstrips, chunkSize: c.chunkSize || 2 * 1024 * 1024 } : undefined;
      const r = famfs.createFile(c.path, c.size, { mode: c.mode, uid: c.uid, gid: c.gid, interleave });
      refresh();
      return { path: r.file.relpath, size: r.file.size, created: r.created };
    },
    mkdir: (m) => {
      famfs.mkdir(m.path, { mode: m.mode, uid: m.uid, gid: m.gid, parents: m.parents });
      refresh();
    },
    flush: (f) => {
      const file = famfs.statFile(f.path);
      if (f.invalidate) famfs.invalidateFile(file);
      else famfs.flushFile(file);
    },
    setLogLevel: (level) => {
      if (!Logger.isLevel(level)) throw new FamfsError('EINVAL', 'control', `unknown log level '${level}' (error, warn, info, debug)`);
      log.level = level;
    },
    getMap: (path) => {
      const file = famfs.statFile(path);
      return { path: file.relpath, size: file.size, created: false, fmapJson: JSON.stringify(file.fmap) };
    },
  };
  const control = await startControlServer(files.socket, handlers, (e) => log.error(`control: ${(e as Error).stack ?? String(e)}`));
  const timer = req.refreshInterval > 0 ? setInterval(() => session.initialized && refresh(), req.refreshInterval * 1000) : undefined;
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
