import * as fs from 'node:fs';
import type * as net from 'node:net';
import { Famfs, FamfsError } from '@famfs/core';
import { startControlServer } from './control.js';
import { type ControlContext, controlHandlers, notifyChanged, refreshAndInvalidate } from './control-handlers.js';
import { DaxWindow } from './dax-window.js';
import type { IomapOptions } from './iomap.js';
import { WindowChannel } from './window-channel.js';
import { FamfsMode } from './famfs-mode.js';
import type { MountRequest } from './daemon.js';
import { FamfsFuseFs } from './filesystem.js';
import { Logger } from './log.js';
import { FamfsProfiles } from './protocol/index.js';
import { famfsMountAt, mountFuse, unmount } from './mounts.js';
import { type DaemonState, daemonFiles, openRunDir, removeDaemonFiles, writeState } from './run-dir.js';
import { Session, famfsDaxdevs, famfsWindowDevices } from './session.js';
import { type Transport, devFuseTransport } from './transport.js';
import { QueueTransport, runTablePublisher } from './native-queues.js';
import { FuseBackingType, type FuseQueues, fuseBackingClose, fuseBackingOpen, possibleCpus, setUringParameter, uringParameter } from '@famfs/native';

/** max_read we pass to mount(2): what one READ may ask (as max_write, 1 MiB). */
const MAX_IO = 1024 * 1024;
/** After SIGTERM/SIGINT, how long files still open on the detached mount are served. */
const SIGNAL_GRACE_MS = 2000;

/** How requests reach the session: the JS event loop alone, or the native queues (cloned channels, io_uring). */
interface Channel {
  transport: Transport;
  queues?: FuseQueues;
}

/**
 * The channel a mount is served on. `queues=0`: /dev/fuse read on the event
 * loop (devFuseTransport). Otherwise native worker queues answer READ and
 * WRITE themselves: over FUSE-over-io_uring when the kernel offers it, else
 * over cloned /dev/fuse channels. The kernel offers io_uring in INIT only
 * while the fuse module's enable_uring is on (see uringBeforeMount).
 */
function openChannel(req: MountRequest, fd: number, master: boolean, dax: boolean, log: Logger): Channel {
  const n = req.queues ?? possibleCpus();
  if (n === 0) return { transport: devFuseTransport(fd) };
  const wish = req.uring ?? 'auto';
  const uring = wish !== 'off' && uringParameter() === true;
  const transport = new QueueTransport({ fd, uring, clones: n, maxWrite: MAX_IO });
  log.info(`channel: native queues (${uring ? 'io_uring when INIT agrees, else ' : ''}${n} cloned /dev/fuse channels); ${master ? 'read-write' : 'read-only'}${dax ? ', dax' : ''}`);
  return { transport, queues: transport.queues };
}

/**
 * fuse-iomap, offered to a kernel that speaks it (none here): its series
 * maps only block devices, through a backing id the kernel gives for an
 * open fd (FUSE_DEV_IOC_BACKING_OPEN), asked for once INIT agrees — one per
 * device of the file system (a device that is not a block device, or not
 * found on this host, has none: its files' IOMAP_BEGIN is ENODEV). A device
 * a client gains later gets its id on the next open (`addDevices`). The fds
 * stay open for the mount's life.
 */
function iomapBacking(famfs: Famfs, device: string, fuseFd: number, log: Logger): { options: IomapOptions; addDevices(): void; close(): void } | undefined {
  if (famfs.dev.kind !== 'block') return undefined;
  const table = new Map<number, number>();
  const fds: number[] = [];
  let negotiated = false;
  const addDevices = (): void => {
    if (!negotiated) return;
    for (const d of famfs.daxdevTable()) {
      if (table.has(d.index) || (d.index !== 0 && d.path === undefined)) continue;
      const dev = famfs.devFor(d.index);
      if (dev.kind !== 'block') continue;
      const p = d.index === 0 ? device : dev.path;
      try {
        const devFd = fs.openSync(p, famfs.role === 'master' ? 'r+' : 'r');
        fds.push(devFd);
        const id = fuseBackingOpen(fuseFd, devFd, FuseBackingType.IOMAP);
        table.set(d.index, id);
        log.info(`fuse-iomap: daxdev ${d.index} (${p}) is backing id ${id}`);
      } catch (e) {
        if (d.index === 0) throw e;
        log.warn(`fuse-iomap: daxdev ${d.index} (${p}) has no backing id, its files are not mapped: ${(e as Error).message}`);
      }
    }
  };
  return {
    options: {
      profile: 'iomap-2025',
      cookies: () => {
        negotiated = true;
        addDevices();
        return table;
      },
    },
    addDevices,
    close: () => {
      for (const id of table.values()) {
        try {
          fuseBackingClose(fuseFd, id);
        } catch {
          // the connection is gone, and the backing with it
        }
      }
      for (const f of fds) fs.closeSync(f);
    },
  };
}

/**
 * `uring=on`: the kernel decides at mount time whether the INIT it sends
 * offers io_uring, so enable_uring must be on before mount(2). It is
 * machine-wide: turned on only when the mount asks for it, and left on
 * (other mounts may be using it by the time this one ends).
 */
function uringBeforeMount(req: MountRequest, log: Logger): void {
  if (req.uring !== 'on' || (req.queues ?? 1) === 0 || uringParameter() !== false) return;
  setUringParameter(true);
  log.info("io_uring: turned the fuse module's enable_uring on (uring=on)");
}

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
  // the DAX window before the mount: a window that cannot be made fails the mount
  let window: DaxWindow | undefined;
  try {
    if (req.daxWindow !== undefined) {
      // every device found on this host now (one added after the mount is not in the window: its files fail SETUPMAPPING with ENODEV)
      window = DaxWindow.create({ size: req.daxWindow, devices: famfsWindowDevices(famfs, req.device), name: 'famfs-dax-window' });
    }
  } catch (e) {
    famfs.close();
    report(`error ${(e as Error).message}`);
    return 1;
  }
  let fd: number;
  try {
    uringBeforeMount(req, log);
    fd = fs.openSync('/dev/fuse', 'r+');
    mountFuse(req.device, req.mountpoint, fd, MAX_IO, { allowOther: req.allowOther ?? true, defaultPermissions: req.defaultPermissions ?? true });
  } catch (e) {
    window?.close();
    famfs.close();
    report(`error ${(e as Error).message}`);
    return 1;
  }
  const iomap = iomapBacking(famfs, req.device, fd, log);
  const fuseFs = new FamfsFuseFs(famfs, { cache: req.cache, timeout: req.timeout });
  const kernelDaxdevs = req.famfsDaxdevs ?? FamfsProfiles[req.profile].fmapDaxdevs;
  const mode = new FamfsMode(famfs, req.device, req.famfsMode ?? 'auto', log, kernelDaxdevs);
  const channel = openChannel(req, fd, famfs.role === 'master', famfs.dev.kind === 'dax', log);
  const transport = channel.transport;
  const publisher = channel.queues === undefined ? undefined : runTablePublisher(channel.queues, fuseFs, log);
  let nativeData = false;
  /** daxdev indexes the queues have mapped */
  const queued = new Set<number>();
  /** Give the queues every device this host has open that they do not map yet (a client gains one when the master adds it). */
  const queueDevices = (): void => {
    if (channel.queues === undefined || !nativeData) return;
    for (const d of famfs.daxdevTable()) {
      if (queued.has(d.index) || (d.index !== 0 && d.path === undefined)) continue;
      const dev = famfs.devFor(d.index);
      try {
        channel.queues.addDevice(d.index, { path: d.index === 0 ? req.device : dev.path, writable: famfs.role === 'master', invalidateOnRead: dev.kind === 'dax' });
      } catch (e) {
        log.warn(`queues: daxdev ${d.index} (${dev.path}) not mapped, the session serves its files: ${(e as Error).message}`);
      }
      queued.add(d.index);
    }
  };
  const session = new Session(transport, fuseFs, {
    handles: publisher === undefined ? undefined : {
      // run tables only once the queues have the devices (READ/WRITE mode); in
      // famfs mode the kernel serves file data itself
      opened: (fh, nodeid, writable) => {
        iomap?.addDevices();
        if (!nativeData) return;
        queueDevices();
        publisher.opened(fh, nodeid, writable);
      },
      released: (fh) => nativeData && publisher.released(fh),
    },
    onInitDone: (daxFmap) => {
      if (channel.queues === undefined || daxFmap) return;
      // READ/WRITE mode: the queues map the devices and answer data requests
      nativeData = true;
      queueDevices();
    },
    profile: req.profile,
    maxWrite: MAX_IO,
    daxdevs: famfsDaxdevs(famfs, req.device),
    log,
    famfsMode: mode.wanted,
    fmapDaxdevs: kernelDaxdevs,
    window,
    iomap: iomap?.options,
    prepareFamfs: () => {
      if (!mode.enter()) return false;
      // in famfs mode the master maps the log writable through its own mount
      fuseFs.metaWritable = famfs.role === 'master';
      return true;
    },
  });
  fuseFs.onChange = (changed) => notifyChanged(session, changed);
  const serving = session.run();

  // SIGTERM/SIGINT: detach the mount (lazily: nothing new can open a file);
  // files still open are served for SIGNAL_GRACE_MS, then the connection is
  // closed — the kernel fails what they ask next, nobody hangs. A second
  // signal closes it at once. Every request already taken is answered first.
  let grace: NodeJS.Timeout | undefined;
  let signals = 0;
  const closeChannel = (why: string) => {
    log.info(`${why}: closing the FUSE connection`);
    transport.close();
  };
  const stopOnSignal = () => {
    if (++signals > 1) return closeChannel('second signal');
    log.info('signal: unmounting');
    try {
      unmount(req.mountpoint, true);
    } catch (e) {
      log.warn((e as Error).message);
    }
    grace = setTimeout(() => closeChannel(`signal: files still open after ${SIGNAL_GRACE_MS} ms`), SIGNAL_GRACE_MS);
  };
  process.on('SIGTERM', stopOnSignal);
  process.on('SIGINT', stopOnSignal);

  const handlerCtx: ControlContext = { req, famfs, fuseFs, session, log, mode, queues: channel.queues };
  const handlers = controlHandlers(handlerCtx);
  let windowChannel: WindowChannel | undefined;
  let control: net.Server | undefined;
  let timer: NodeJS.Timeout | undefined;
  // Ready when the control socket listens, the mount answers (the kernel
  // sends INIT, then our GETATTR) and the state is recorded; anything less
  // is reported and unmounted.
  let stage = 'the control socket';
  let failed = false;
  try {
    control = await startControlServer(files.socket, handlers, (e) => log.error(`control: ${(e as Error).stack ?? String(e)}`));
    if (window !== undefined) {
      stage = 'the DAX window socket';
      windowChannel = WindowChannel.listen(files.window, window, log);
      handlerCtx.window = { window, channel: windowChannel };
    }
    stage = 'the mount did not answer';
    await fs.promises.stat(req.mountpoint);
    stage = 'famfs mode';
    if (req.famfsMode === 'on' && !session.daxFmap) {
      throw new FamfsError('ENODEV', 'mount', `famfs_mode=on: ${mode.obstacle() ?? 'the kernel did not offer FUSE DAX_FMAP'}`);
    }
    await mode.attach(req.mountpoint);
    stage = 'the state file';
    const state: DaemonState = {
      pid: process.pid, device: req.device, mountpoint: req.mountpoint, systemUuid: req.systemUuid,
      fsUuid: famfs.sb.uuid, socket: files.socket, log: files.log,
    };
    writeState(files.state, state);
    timer = setInterval(() => {
      // a lazy unmount (umount -l) leaves the mount point off the table:
      // let go of the meta files, or the connection could never end
      if (mode.isLive && famfsMountAt(req.mountpoint) === undefined) mode.release();
      if (req.refreshInterval > 0 && session.initialized) refreshAndInvalidate(fuseFs, session);
    }, Math.max(1, req.refreshInterval || 1) * 1000);
    timer.unref();
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
  if (grace) clearTimeout(grace);
  if (timer) clearInterval(timer);
  control?.close();
  windowChannel?.close();
  window?.close();
  iomap?.close();
  removeDaemonFiles(files, process.pid);
  mode.release();
  transport.close();
  famfs.close();
  mode.restore(req.keepFamfsMode === true);
  return failed ? 1 : 0;
}
