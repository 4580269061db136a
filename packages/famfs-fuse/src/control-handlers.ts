import { type Famfs, FamfsError } from '@famfs/core';
import type { ControlHandlers, DaxWindowInfo, DaxdevEntry } from './control.js';
import type { MountRequest } from './daemon.js';
import type { FamfsFuseFs } from './filesystem.js';
import { Logger } from './log.js';
import type { FamfsMode } from './famfs-mode.js';
import type { FuseQueues } from '@famfs/native';
import type { Session } from './session.js';
import type { DaxWindow } from './dax-window.js';
import type { WindowChannel } from './window-channel.js';

/** What the daemon's control handlers act on. */
export interface ControlContext {
  req: MountRequest;
  famfs: Famfs;
  fuseFs: FamfsFuseFs;
  session: Session;
  log: Logger;
  mode: FamfsMode;
  /** the native queues, when the mount has them */
  queues?: FuseQueues;
  /** the DAX window (-o dax_window) and the socket VMMs take it from */
  window?: { window: DaxWindow; channel: WindowChannel };
}

/**
 * Replay what the log gained since the last look and tell the kernel: each
 * new name's dentry, and each parent directory's cached listing (offset 0
 * drops its pages too — OPENDIR lets the kernel keep them).
 */
export function refreshAndInvalidate(fuseFs: FamfsFuseFs, session: Session): ReturnType<FamfsFuseFs['refreshIfStale']> {
  const r = fuseFs.refreshIfStale();
  notifyChanged(session, r.changed);
  return r;
}

/** Tell the kernel what a replay added: each new name's dentry, each parent's listing. */
export function notifyChanged(session: Session, changed: ReadonlyArray<{ parent: bigint; name: string }>): void {
  const parents = new Set<bigint>();
  for (const c of changed) {
    void session.notifyInvalEntry(c.parent, c.name);
    parents.add(c.parent);
  }
  for (const p of parents) void session.notifyInvalInode(p, 0, 0);
}

/** The daxdev table as the control socket carries it. */
export function daxdevEntries(famfs: Famfs): DaxdevEntry[] {
  return famfs.daxdevTable().map((d) => ({
    index: d.index, uuid: d.uuid, size: d.size, path: d.path ?? '', problem: d.problem ?? '', allocated: famfs.bitmaps[d.index]?.allocatedBytes ?? 0,
  }));
}

function windowStatus(w: ControlContext['window']): DaxWindowInfo | undefined {
  if (w === undefined) return undefined;
  const s = w.window.stats();
  return {
    size: s.size, alignShift: s.alignShift, mappedBytes: s.mappedBytes, mappings: s.mappings, setups: s.setups, removes: s.removes,
    failures: s.failures, socket: w.channel.path, vmms: w.channel.clients,
  };
}

/**
 * The daemon's answers to the control socket (famfs-control.proto). On the
 * master, metadata changes made by the CLI on a mounted path come here, so
 * one process owns the log while it is mounted; each change is replayed and
 * announced to the kernel before the answer goes back.
 */
export function controlHandlers(c: ControlContext): ControlHandlers {
  const { req, famfs, fuseFs, session, log, mode, queues } = c;
  return {
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
      dataPath: session.daxFmap ? 'famfs-dax' : 'read-write',
      famfsModeDevice: mode.active,
      metaLive: mode.isLive,
      ops: { ...session.stats.ops },
      channel: queues === undefined ? 'js' : queues.info().channel,
      queues: (queues?.stats() ?? []).map((q) => ({
        queue: q.queue, kind: q.kind, nativeReads: q.nativeReads, nativeWrites: q.nativeWrites, toJs: q.toJs, readBytes: q.readBytes, writeBytes: q.writeBytes,
      })),
      cache: req.cache,
      logLevel: log.level,
      iomap: session.iomap,
      daxWindow: windowStatus(c.window), // c.window is set once the window socket listens
    }),
    refresh: () => {
      const files0 = famfs.namespace.files;
      const dirs0 = famfs.namespace.dirs;
      const problems0 = famfs.problems.length;
      const r = refreshAndInvalidate(fuseFs, session);
      return { entries: r.entries, files: famfs.namespace.files - files0, directories: famfs.namespace.dirs - dirs0, problems: famfs.problems.length - problems0 };
    },
    createFile: (f) => {
      const interleave = { nstrips: f.nstrips, nbuckets: f.nbuckets, chunkSize: f.chunkSize };
      const r = famfs.createFile(f.path, f.size, { mode: f.mode, uid: f.uid, gid: f.gid, interleave, device: f.device });
      refreshAndInvalidate(fuseFs, session);
      return { path: r.file.relpath, size: r.file.size, created: r.created };
    },
    mkdir: (m) => {
      famfs.mkdir(m.path, { mode: m.mode, uid: m.uid, gid: m.gid, parents: m.parents });
      refreshAndInvalidate(fuseFs, session);
    },
    flush: (f) => {
      const file = famfs.fileAt(f.path);
      if (f.invalidate) famfs.invalidateFile(file);
      else famfs.flushFile(file);
    },
    setLogLevel: (level) => {
      if (!Logger.isLevel(level)) throw new FamfsError('EINVAL', 'control', `unknown log level '${level}' (error, warn, info, debug)`);
      log.level = level;
    },
    addDaxdev: (r) => {
      if (mode.active) {
        throw new FamfsError('EOPNOTSUPP', 'devadd', `devadd: this mount is in famfs mode, and the famfs kernel (kernel-v10) maps files on daxdev 0 only: unmount, add the device (famfs devadd ${famfs.dev.path} DEVICE), mount again`);
      }
      famfs.addDaxdev(r.path, { force: r.force });
      refreshAndInvalidate(fuseFs, session);
      log.info(`devadd: ${r.path} is daxdev ${famfs.daxdevTable().length - 1}`);
      return daxdevEntries(famfs);
    },
    daxdevs: (r) => {
      // the table as the log has it now (a client may not have replayed a devadd yet)
      refreshAndInvalidate(fuseFs, session);
      if (r.retry) famfs.retryDaxdevs();
      return daxdevEntries(famfs);
    },
    clone: (r) => {
      const file = famfs.clone(r.src, r.dest);
      refreshAndInvalidate(fuseFs, session);
      return { path: file.relpath, size: file.size, created: true };
    },
    release: () => {
      mode.release();
    },
    getMap: (path) => {
      const file = famfs.fileAt(path);
      return { path: file.relpath, size: file.size, created: false, fmap: file.fmap };
    },
  };
}
