import * as fs from 'node:fs';
import { Allocator, type InterleaveRequest, type RandomInt, interleaveParams, mathRandomInt } from './alloc/allocator.js';
import { type Device, type OpenDeviceOptions, openDevice } from './device.js';
import { FamfsError } from './errors.js';
import { DEVNAME_FIELD_LEN, FileFlag, LogEntryLayout as LE, LogHeaderLayout as LH, SUPERBLOCK_SIZE, SbFlag, SuperblockLayout } from './format/constants.js';
import { encodeCString } from './format/codec.js';
import { checkSecondarySuperblock, encodeSuperblock } from './format/superblock.js';
import { newUuid } from './format/uuid.js';
import { recordDaxdev, resolveDaxdev } from './daxdevs.js';
import type { FmapRecord, LogEntryBody } from './format/log.js';
import { type DeviceRun, forEachRun } from './fmap.js';
import { appendLogEntry, logFull } from './log/writer.js';
import { type DaxdevRecord, LogReplayer, MAX_DAXDEVS, type ReplayStats, extentsOf } from './log/replay.js';
import { type DirNode, type FileNode, type FsNode, checkRelpath, parentOf } from './namespace.js';
import { type FsGeometry, readGeometry } from './superblock-io.js';
import type { Role } from './fsck.js';

export interface FamfsOpenOptions extends OpenDeviceOptions {
  /** this host's system UUID (decides master or client) */
  systemUuid: string;
  /** randomness for interleaved bucket order (tests) */
  random?: RandomInt;
  /**
   * Open secondary device `rec` (daxdev index >= 1) of file system
   * `fsUuid`, or say why not (throw). Default: resolve its path on this
   * host (daxdevs.ts) and open it as the primary is open.
   */
  openDaxdev?: (rec: DaxdevRecord, fsUuid: string, writable: boolean) => Device;
  /** paths to try first when a secondary device is looked for (`famfs daxdev refresh`, --daxdev) */
  daxdevCandidates?: readonly string[];
}

/** A device of the file system as this host sees it. */
export interface FsDaxdev extends DaxdevRecord {
  /** its path on this host (index 0: the primary as opened) */
  path?: string;
  /** why it is not open here */
  problem?: string;
}

export interface CreateOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  /** interleave the file; unset fields take their defaults (interleaveParams) */
  interleave?: InterleaveRequest;
  /** put a simple file on this daxdev (default: the emptiest) */
  device?: number;
}

export interface AddDaxdevOptions {
  /** overwrite a superblock that is not this file system's */
  force?: boolean;
}

export interface MkdirOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  /** create missing parents; an existing directory is not an error */
  parents?: boolean;
}

/** The directory of the meta files every famfs mount shows at its root. */
export const META_DIR = '.meta';
/** The two meta files: the superblock region and the log, as files. */
export type MetaKind = 'superblock' | 'log';
export const META_FILES: Readonly<Record<MetaKind, string>> = { superblock: `${META_DIR}/.superblock`, log: `${META_DIR}/.log` };
/** The superblock meta file of daxdev `index` (upstream's roadmap, phase 4): `.meta/.superblock.N`, index 0 is `.meta/.superblock`. */
export function superblockMetaName(index: number): string {
  return index === 0 ? META_FILES.superblock : `${META_FILES.superblock}.${index}`;
}

/** Staging buffer for pwrite-based fills (fillFile). */
const STAGING = 8 * 1024 * 1024;

/** Largest device view one I/O step maps (keeps views well under Node's 4 GiB limit). */
const IO_STEP = 64 * 1024 * 1024;

const defaultUid = (): number => process.getuid?.() ?? 0;
const defaultGid = (): number => process.getgid?.() ?? 0;

/**
 * A famfs file system on a device, without any kernel: the programmatic API
 * behind the CLI (and the FUSE server). Metadata changes are appended to the
 * log under the device lock, on the master only; the namespace and the
 * allocation bitmap are what a replay of the log says, nothing else.
 */
/** copyFileFromFd with a progress report copies in pieces of this much. */
const COPY_PROGRESS_PIECE = 64 * 1024 * 1024;

export class Famfs {
  readonly sb: FsGeometry['sb'];
  readonly role: Role;
  private log: Uint8Array;
  private device: Device;
  /** the secondary devices by daxdev index (0 is `device`), open or why not */
  private readonly secondaries: Array<Device | string | undefined> = [undefined];
  private readonly replayer: LogReplayer;
  private readonly allocator: Allocator;
  /** depth of nested locked sections (the lock is taken at depth 0 → 1) */
  private lockDepth = 0;
  private readonly openDaxdev: NonNullable<FamfsOpenOptions['openDaxdev']>;

  private constructor(
    dev: Device,
    readonly systemUuid: string,
    random: RandomInt,
    opts: Pick<FamfsOpenOptions, 'openDaxdev' | 'daxdevCandidates'> = {},
  ) {
    this.device = dev;
    const geo = readGeometry(dev);
    this.sb = geo.sb;
    this.log = geo.log;
    this.role = systemUuid === geo.sb.systemUuid ? 'master' : 'client';
    this.openDaxdev = opts.openDaxdev ?? defaultOpenDaxdev(opts.daxdevCandidates ?? []);
    this.replayer = new LogReplayer(geo.sb, Math.min(dev.size, geo.sb.daxdev.size));
    this.allocator = new Allocator(() => this.replayer.bitmaps, random, (i) => i === 0 || typeof this.secondaries[i] === 'object');
    this.replayer.replay(this.log, dev);
    this.attachDaxdevs();
  }

  /** Open a device or image file and replay its log (and open its other devices, found on this host). */
  static open(path: string, opts: FamfsOpenOptions): Famfs {
    const dev = openDevice(path, opts);
    try {
      return new Famfs(dev, opts.systemUuid, opts.random ?? mathRandomInt, opts);
    } catch (e) {
      dev.close();
      throw e;
    }
  }

  /**
   * Open a device for serving it (mount, serve): read-write on the master,
   * read-only on a client — which host this is decides, read from the
   * superblock first.
   */
  static openByRole(path: string, opts: Omit<FamfsOpenOptions, 'writable'>): Famfs {
    const probe = Famfs.open(path, { ...opts, writable: false });
    if (probe.role !== 'master') return probe;
    probe.close();
    return Famfs.open(path, { ...opts, writable: true });
  }

  /** Use an already open device (tests use a MemoryDevice). */
  static fromDevice(dev: Device, opts: Omit<FamfsOpenOptions, keyof OpenDeviceOptions>): Famfs {
    return new Famfs(dev, opts.systemUuid, opts.random ?? mathRandomInt, opts);
  }

  /** The primary device: the superblock and log are read and written through it (moveTo may replace it). */
  get dev(): Device {
    return this.device;
  }

  close(): void {
    this.device.close();
    for (const d of this.secondaries) if (typeof d === 'object') d.close();
  }

  // ---------------------------------------------------------------- devices

  /**
   * Open the devices the log names and this view has not opened yet (after
   * every replay: a client picks up a device the master added). A device
   * that is not found here is recorded with the reason; only I/O to it fails.
   */
  private attachDaxdevs(): void {
    const recs = this.replayer.daxdevs;
    for (let i = this.secondaries.length; i < recs.length; i++) {
      const rec = recs[i]!;
      try {
        const d = this.openDaxdev(rec, this.sb.uuid, this.device.writable);
        if (d.size < rec.size) {
          d.close();
          throw new FamfsError('EINVAL', 'daxdev', `${d.path} is ${d.size} bytes, smaller than the ${rec.size} bytes the log records for daxdev ${i}`, d.path);
        }
        this.secondaries.push(d);
      } catch (e) {
        this.secondaries.push(daxdevProblem(rec, e));
      }
    }
  }

  /** Try again to open the devices that were not found (after `famfs daxdev refresh`). */
  retryDaxdevs(): void {
    for (let i = 1; i < this.secondaries.length; i++) {
      if (typeof this.secondaries[i] === 'object') continue;
      try {
        this.secondaries[i] = this.openDaxdev(this.replayer.daxdevs[i]!, this.sb.uuid, this.device.writable);
      } catch (e) {
        this.secondaries[i] = daxdevProblem(this.replayer.daxdevs[i]!, e);
      }
    }
  }

  /** The device of daxdev `index`, open; ENODEV (naming it) when it is not open on this host. */
  devFor(index: number): Device {
    if (index === 0) return this.device;
    const d = this.secondaries[index];
    if (typeof d === 'object') return d;
    const rec = this.replayer.daxdevs[index];
    if (rec === undefined) throw new FamfsError('EINVAL', 'daxdev', `no daxdev ${index} in this file system (0..${this.replayer.daxdevs.length - 1})`);
    // the reason names the device already (attachDaxdevs)
    throw new FamfsError('ENODEV', 'daxdev', d ?? `daxdev ${index} (${rec.uuid}) is not open on this host`);
  }

  /** Every device of the file system, as this host sees it (index order). */
  daxdevTable(): FsDaxdev[] {
    return this.replayer.daxdevs.map((rec, i) => {
      if (i === 0) return { ...rec, path: this.device.path };
      const d = this.secondaries[i];
      return typeof d === 'object' ? { ...rec, path: d.path } : { ...rec, problem: d ?? 'not looked for' };
    });
  }

  /** The allocation bitmap of each device (index order). */
  get bitmaps() {
    return this.replayer.bitmaps;
  }

  /**
   * Add a device to the file system (upstream's roadmap, phase 5): write
   * its secondary superblock, then log ADD_DAXDEV with the next index. The
   * device must be blank (or hold a secondary superblock of this file
   * system that the log does not list: an add that was interrupted), unless
   * `force`. On the master, under the log lock.
   */
  addDaxdev(devicePath: string, opts: AddDaxdevOptions = {}): FsDaxdev {
    return this.locked('devadd', () => {
      const index = this.replayer.daxdevs.length;
      if (index >= MAX_DAXDEVS) throw new FamfsError('ENOSPC', 'devadd', `devadd: the file system has ${MAX_DAXDEVS} devices, the most it may`);
      const dev = openDevice(devicePath, { writable: true });
      try {
        for (const d of [this.device, ...this.secondaries.filter((x): x is Device => typeof x === 'object')]) {
          if (sameDevice(d, dev)) throw new FamfsError('EEXIST', 'devadd', `devadd: ${devicePath} is already a device of this file system (${d.path})`, devicePath);
        }
        const min = SUPERBLOCK_SIZE + this.sb.allocUnit;
        if (dev.size < min) throw new FamfsError('ENOSPC', 'devadd', `devadd: ${devicePath} has ${dev.size} bytes; a secondary device needs at least ${min}`, devicePath);
        const view = dev.view(0, SB_SIZE);
        dev.invalidate(view);
        const st = checkSecondarySuperblock(view, dev.size);
        const ours = st.ok && st.sb.uuid === this.sb.uuid;
        if (ours && this.replayer.daxdevs.some((d) => d.uuid === st.sb.devUuid)) {
          throw new FamfsError('EEXIST', 'devadd', `devadd: ${devicePath} is already daxdev ${this.replayer.daxdevs.findIndex((d) => d.uuid === st.sb.devUuid)} of this file system`, devicePath);
        }
        if (!ours && !opts.force && (st.ok || st.reason !== 'no-magic')) {
          const what = st.ok ? `a secondary of file system ${st.sb.uuid}` : st.reason === 'bad-geometry' ? 'a primary famfs superblock' : `a famfs superblock (${st.message})`;
          throw new FamfsError('EEXIST', 'devadd', `devadd: ${devicePath} holds ${what}; use -f to overwrite`, devicePath);
        }
        const devUuid = newUuid();
        const sbBytes = encodeSuperblock({
          logOffset: 0, logLen: 0, allocUnit: this.sb.allocUnit, uuid: this.sb.uuid, devUuid, systemUuid: this.sb.systemUuid,
          flags: SbFlag.SECONDARY, daxdev: { size: dev.size, uuid: this.sb.devUuid, path: fitDevname(devicePath) },
        });
        view.fill(0);
        view.set(sbBytes, 0);
        dev.flush(view);
        dev.sync();
        // this host's map first: an add cut short after its log entry still finds
        // its device here (a record of a device the log never lists is harmless)
        recordDaxdev(this.sb.uuid, devUuid, devicePath);
        this.commit({ type: 'daxdev', daxdev: { index, uuid: devUuid, size: dev.size } });
        if (this.replayer.daxdevs[index]?.uuid !== devUuid) throw new FamfsError('EIO', 'devadd', `devadd: the logged entry for daxdev ${index} did not replay`, devicePath);
        // commit's replay looked for the new device already (and may have opened it by scanning): use this one
        const was = this.secondaries[index];
        if (typeof was === 'object') was.close();
        this.secondaries[index] = dev;
        return { index, uuid: devUuid, size: dev.size, path: dev.path };
      } catch (e) {
        if (!this.secondaries.includes(dev)) dev.close();
        throw e;
      }
    });
  }

  /**
   * Carry on over another view of the same file system: in famfs mode the
   * daemon replays from a copy of the superblock and log, then moves to the
   * live log mapped through its own mount. `dev` must hold the same file
   * system (same UUID) and a log no shorter than what was replayed; the old
   * device is closed. Refreshes afterwards.
   */
  moveTo(dev: Device): void {
    const geo = readGeometry(dev);
    if (geo.sb.uuid !== this.sb.uuid) {
      throw new FamfsError('EINVAL', 'remap', `${dev.path}: holds file system ${geo.sb.uuid}, not ${this.sb.uuid}`, dev.path);
    }
    if (geo.header.nextIndex < this.replayer.cursor) {
      throw new FamfsError('EIO', 'remap', `${dev.path}: its log has ${geo.header.nextIndex} entries, fewer than the ${this.replayer.cursor} already replayed`, dev.path);
    }
    const old = this.device;
    this.device = dev;
    this.log = geo.log;
    this.replayer.moveLog(geo.log);
    old.close();
    this.refresh();
  }

  /**
   * Has the log gained entries since the last replay? One read of the log
   * header's next_index (its cache lines invalidated first): the cheap check
   * a client makes on every lookup, before deciding to replay.
   */
  logChanged(): boolean {
    const head = this.log.subarray(0, LH.SIZE);
    this.device.invalidate(head);
    const dv = new DataView(head.buffer, head.byteOffset, LH.SIZE);
    const next = dv.getUint32(LH.NEXT_INDEX, true) + dv.getUint32(LH.NEXT_INDEX + 4, true) * 0x1_0000_0000;
    return next !== this.replayer.cursor;
  }

  get namespace() {
    return this.replayer.namespace;
  }

  get bitmap() {
    return this.replayer.bitmap;
  }

  /** Problems found by replay so far (bad entries, broken rules). */
  get problems() {
    return this.replayer.problems;
  }

  /** Entries replayed so far: the metadata version this view reflects. */
  get logCursor(): number {
    return this.replayer.cursor;
  }

  /** Replay entries appended since the last replay (by this or another host). */
  refresh(): ReplayStats {
    const st = this.replayer.replay(this.log, this.dev);
    if (st.daxdevs > 0) this.attachDaxdevs();
    return st;
  }

  /** Entries in use / capacity of the log. */
  logUsage(): { used: number; capacity: number } {
    return { used: this.replayer.cursor, capacity: Math.floor((this.log.length - LH.SIZE) / LE.SIZE) };
  }

  // ---------------------------------------------------------------- lookups

  /** The node at a path relative to the root ('' is the root). ENOENT if absent. */
  stat(relpath: string): FsNode {
    const p = normalize(relpath);
    const n = this.namespace.lookup(p);
    if (n === undefined) throw new FamfsError('ENOENT', 'stat', `${p || '/'}: no such file or directory`, p);
    return n;
  }

  statFile(relpath: string): FileNode {
    const n = this.stat(relpath);
    if (n.kind !== 'file') throw new FamfsError('EISDIR', 'open', `${n.relpath}: is a directory`, n.relpath);
    return n;
  }

  /**
   * A meta file as a FileNode mapped onto its region of the device: what a
   * mount shows as `.meta/.superblock` (the 2 MiB superblock region, 0444)
   * and `.meta/.log` (the log, 0644 on the master, 0444 on a client), as
   * upstream's mkmeta makes them. Not in the log: index -1.
   */
  metaFile(kind: MetaKind): FileNode {
    const [offset, len] = kind === 'superblock' ? [0, SUPERBLOCK_SIZE] : [this.sb.logOffset, this.sb.logLen];
    return {
      kind: 'file', relpath: META_FILES[kind], size: len, flags: 0, uid: 0, gid: 0, index: -1,
      mode: kind === 'log' && this.role === 'master' ? 0o644 : 0o444,
      fmap: { type: 'simple', extents: [{ devIndex: 0, offset, len }] },
    };
  }

  /** `.meta/.superblock.N`: the superblock region of daxdev N (N >= 1), read-only. */
  secondaryMetaFile(index: number): FileNode {
    if (!Number.isSafeInteger(index) || index < 1 || index >= this.replayer.daxdevs.length) {
      throw new FamfsError('ENOENT', 'stat', `${superblockMetaName(index)}: no such file (daxdevs 0..${this.replayer.daxdevs.length - 1})`);
    }
    return {
      kind: 'file', relpath: superblockMetaName(index), size: SUPERBLOCK_SIZE, flags: 0, uid: 0, gid: 0, index: -1, mode: 0o444,
      fmap: { type: 'simple', extents: [{ devIndex: index, offset: 0, len: SUPERBLOCK_SIZE }] },
    };
  }

  /** The names of the meta files: `.superblock`, `.log`, and `.superblock.N` per secondary device. */
  metaNames(): string[] {
    const names = [META_FILES.superblock, META_FILES.log];
    for (let i = 1; i < this.replayer.daxdevs.length; i++) names.push(superblockMetaName(i));
    return names.map((n) => n.slice(META_DIR.length + 1));
  }

  /** The file at a path — a logged file or one of the meta files. */
  fileAt(relpath: string): FileNode {
    const p = normalize(relpath);
    if (p === META_FILES.superblock) return this.metaFile('superblock');
    if (p === META_FILES.log) return this.metaFile('log');
    const m = /^\.meta\/\.superblock\.([1-9]\d{0,2})$/.exec(p);
    if (m !== null) return this.secondaryMetaFile(Number(m[1]));
    return this.statFile(p);
  }

  readdir(relpath: string): FsNode[] {
    const n = this.stat(relpath);
    if (n.kind !== 'dir') throw new FamfsError('ENOTDIR', 'readdir', `${n.relpath}: not a directory`, n.relpath);
    return [...n.children.keys()].sort().map((k) => n.children.get(k)!);
  }

  // ---------------------------------------------------------------- mutations

  /**
   * Run `fn` holding the device lock with the namespace current. Nested calls
   * share one lock (a batch of creates is one locked session, and the
   * allocator's first-fit cursor persists across it).
   */
  locked<T>(op: string, fn: () => T): T {
    if (this.role !== 'master') {
      throw new FamfsError('EPERM', op, `${op}: this host is a client of this file system (system UUID ${this.systemUuid}); only the master (${this.sb.systemUuid}) may change it`);
    }
    if (!this.dev.writable) throw new FamfsError('EROFS', op, `${op}: ${this.dev.path} is open read-only`, this.dev.path);
    if (this.lockDepth > 0) {
      this.lockDepth++;
      try {
        return fn();
      } finally {
        this.lockDepth--;
      }
    }
    this.dev.lock();
    this.lockDepth = 1;
    try {
      this.refresh();
      this.allocator.resetCursor();
      return fn();
    } finally {
      this.lockDepth = 0;
      this.dev.unlock();
    }
  }

  /** Append an entry and replay it, so this view equals what every host replays. */
  private commit(body: LogEntryBody, claimed?: FmapRecord): void {
    try {
      appendLogEntry(this.dev, this.log, body);
    } finally {
      // The allocator claimed the extents in the bitmap; replay claims them
      // again from the entry itself, so release the provisional claim first.
      if (claimed) for (const x of extentsOf(claimed)) this.bitmaps[x.devIndex]!.release(x.offset, x.len);
    }
    this.refresh();
  }

  /** Create a directory (logged). With `parents`, missing ancestors too, and an existing directory is fine. */
  mkdir(relpath: string, opts: MkdirOptions = {}): DirNode {
    const p = normalize(relpath);
    // the root exists: `mkdir -p MOUNTPOINT` is fine, as it is for every mkdir -p
    if (p === '') {
      if (opts.parents) return this.namespace.root;
      throw new FamfsError('EEXIST', 'mkdir', 'mkdir: the root directory exists', p);
    }
    checkRelpath(p, 'mkdir');
    return this.locked('mkdir', () => {
      const existing = this.namespace.lookup(p);
      if (existing !== undefined) {
        if (opts.parents && existing.kind === 'dir') return existing;
        throw new FamfsError('EEXIST', 'mkdir', `mkdir: ${p}: file exists`, p);
      }
      const parent = this.namespace.lookup(parentOf(p));
      if (parent === undefined) {
        if (!opts.parents) throw new FamfsError('ENOENT', 'mkdir', `mkdir: ${p}: parent directory ${parentOf(p)} does not exist`, p);
        this.mkdir(parentOf(p), opts);
      } else if (parent.kind !== 'dir') {
        throw new FamfsError('ENOTDIR', 'mkdir', `mkdir: ${p}: ${parentOf(p)} is not a directory`, p);
      }
      this.commit({
        type: 'mkdir',
        mkdir: { relpath: p, mode: (opts.mode ?? 0o755) & 0o7777, uid: opts.uid ?? defaultUid(), gid: opts.gid ?? defaultGid() },
      });
      return this.namespace.lookup(p) as DirNode;
    });
  }

  /**
   * Create a file of `size` bytes (allocated and logged). An existing file of
   * the same size is returned as is (`created: false`): re-creating is how
   * scripts restart. A different size, a directory in the way, size 0 fail.
   */
  createFile(relpath: string, size: number, opts: CreateOptions = {}): { file: FileNode; created: boolean } {
    const p = normalize(relpath);
    checkRelpath(p, 'creat');
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new FamfsError('EINVAL', 'creat', `creat: ${p}: invalid size ${size} (a famfs file has a fixed, non-zero size)`, p);
    }
    return this.locked('creat', () => {
      const existing = this.namespace.lookup(p);
      if (existing !== undefined) {
        if (existing.kind !== 'file') throw new FamfsError('EISDIR', 'creat', `creat: ${p}: exists and is not a regular file`, p);
        if (existing.size !== size) {
          throw new FamfsError('EEXIST', 'creat', `creat: ${p}: exists with size ${existing.size}, not ${size}`, p);
        }
        return { file: existing, created: false };
      }
      const parent = this.namespace.lookup(parentOf(p));
      if (parent === undefined) throw new FamfsError('ENOENT', 'creat', `creat: ${p}: parent directory ${parentOf(p) || '/'} does not exist`, p);
      if (parent.kind !== 'dir') throw new FamfsError('ENOTDIR', 'creat', `creat: ${p}: ${parentOf(p)} is not a directory`, p);
      // a full log is the reason, whatever the allocator would say about space
      const log = this.logUsage();
      if (log.used >= log.capacity) throw logFull(this.dev.path, log.capacity);
      const fmap = this.allocator.allocate(size, interleaveParams(opts.interleave), { device: opts.device });
      this.commit(
        {
          type: 'file',
          file: {
            relpath: p, size, flags: FileFlag.ALL_HOSTS_RW, mode: (opts.mode ?? 0o644) & 0o7777,
            uid: opts.uid ?? defaultUid(), gid: opts.gid ?? defaultGid(), fmap,
          },
        },
        fmap,
      );
      const file = this.namespace.lookup(p);
      if (file?.kind !== 'file' || file.index !== this.replayer.cursor - 1) {
        throw new FamfsError('EIO', 'creat', `creat: ${p}: the logged entry did not replay`, p);
      }
      return { file, created: true };
    });
  }

  /**
   * Log `dest` as a second file with `src`'s map (upstream's test-only
   * clone). This cross-links memory on purpose; fsck reports it.
   */
  clone(srcPath: string, destPath: string): FileNode {
    const src = this.statFile(srcPath);
    const p = normalize(destPath);
    checkRelpath(p, 'clone');
    return this.locked('clone', () => {
      if (this.namespace.lookup(p) !== undefined) throw new FamfsError('EEXIST', 'clone', `clone: ${p}: file exists`, p);
      const parent = this.namespace.lookup(parentOf(p));
      if (parent?.kind !== 'dir') throw new FamfsError('ENOENT', 'clone', `clone: ${p}: parent directory does not exist`, p);
      this.commit({
        type: 'file',
        file: { relpath: p, size: src.size, flags: src.flags, mode: src.mode & 0o777, uid: src.uid, gid: src.gid, fmap: src.fmap },
      });
      return this.namespace.lookup(p) as FileNode;
    });
  }

  // ---------------------------------------------------------------- data

  /** Device runs of file bytes [offset, offset+length), clamped to the file size. */
  runs(file: FileNode, offset = 0, length = file.size): DeviceRun[] {
    const out: DeviceRun[] = [];
    const n = clampLen(file, offset, length);
    if (n > 0) forEachRun(file.fmap, offset, n, (r) => void out.push(r));
    return out;
  }

  /**
   * Call `fn` with zero-copy device views covering file bytes
   * [offset, offset+length) (clamped to the file size), in file order, each
   * at most 64 MiB. Returning false stops. No cache maintenance: the callers
   * below decide between invalidate (read) and flush (write).
   */
  private forEachView(file: FileNode, offset: number, length: number, fn: (view: Uint8Array, fileOffset: number, dev: Device) => boolean | void): void {
    const n = clampLen(file, offset, length);
    if (n === 0) return;
    let stop = false;
    forEachRun(file.fmap, offset, n, (r) => {
      const dev = this.devFor(r.devIndex);
      for (let done = 0; done < r.len && !stop; ) {
        const step = Math.min(IO_STEP, r.len - done);
        if (fn(dev.view(r.offset + done, step), r.fileOffset + done, dev) === false) stop = true;
        done += step;
      }
      return !stop;
    });
  }

  /** The devices a file's map uses, open (ENODEV for one that is not). */
  private devicesOf(file: FileNode): Device[] {
    const out = new Set<Device>();
    for (const x of extentsOf(file.fmap)) out.add(this.devFor(x.devIndex));
    return [...out];
  }

  private checkWritable(file: FileNode): void {
    for (const d of this.devicesOf(file)) {
      if (!d.writable) throw new FamfsError('EROFS', 'write', `${file.relpath}: device ${d.path} is open read-only`, file.relpath);
    }
  }

  /**
   * The read path: call `fn` with zero-copy views of file bytes
   * [offset, offset+length) — clamped to the file size, so nothing at or past
   * EOF — in file order, each invalidated first so that it shows what another
   * host wrote. Returning false stops.
   */
  readEach(file: FileNode, offset: number, length: number, fn: (view: Uint8Array, fileOffset: number) => boolean | void): void {
    this.forEachView(file, offset, length, (v, off, dev) => {
      dev.invalidate(v);
      return fn(v, off);
    });
  }

  /** The read path as an array of views (a FUSE READ reply is written straight from them). */
  readViews(file: FileNode, offset: number, length: number): Uint8Array[] {
    const views: Uint8Array[] = [];
    this.readEach(file, offset, length, (v) => void views.push(v));
    return views;
  }

  /** Copy file bytes [offset, offset+dst.length) into `dst`; returns the bytes read (short at EOF). */
  readInto(file: FileNode, offset: number, dst: Uint8Array): number {
    let got = 0;
    this.readEach(file, offset, dst.length, (v) => {
      dst.set(v, got);
      got += v.length;
    });
    return got;
  }

  read(file: FileNode, offset = 0, length = file.size): Uint8Array {
    const buf = new Uint8Array(clampLen(file, offset, length));
    this.readInto(file, offset, buf);
    return buf;
  }

  /**
   * The write path: store `data` at file `offset` and write the cache lines
   * back to the device. A famfs file never grows, and the rule is POSIX's for
   * a file-size limit: a write that starts inside the file stores what fits
   * and returns that count (short); one that starts at or past the end fails
   * with EFBIG and stores nothing. An empty write stores nothing and returns 0.
   */
  writeAt(file: FileNode, offset: number, data: Uint8Array): number {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new FamfsError('EINVAL', 'write', `${file.relpath}: invalid write offset ${offset}`, file.relpath);
    }
    if (data.length === 0) return 0;
    if (offset >= file.size) {
      throw new FamfsError('EFBIG', 'write', `${file.relpath}: write at ${offset} is at or past the file size ${file.size} (famfs files never grow)`, file.relpath);
    }
    this.checkWritable(file);
    let put = 0;
    this.forEachView(file, offset, data.length, (v, _off, dev) => {
      v.set(data.subarray(put, put + v.length));
      dev.flush(v);
      put += v.length;
    });
    return put;
  }

  /**
   * Fill a whole file front to back: `fill` gets successive buffers (each
   * at most 8 MiB and, but for the last, a multiple of 4 bytes) with their
   * file offsets. Stores go straight into the mapping where that is cheap
   * (dax), or through a staging buffer and pwrite(2) on a file or block
   * device, where stores to the mapping fault in and zero every new page.
   */
  fillFile(file: FileNode, fill: (buf: Uint8Array, fileOffset: number) => void): void {
    this.checkWritable(file);
    let staging: Uint8Array | undefined;
    const n = clampLen(file, 0, file.size);
    if (n === 0) return;
    forEachRun(file.fmap, 0, n, (r) => {
      const dev = this.devFor(r.devIndex);
      for (let done = 0; done < r.len; ) {
        if (dev.prefersPwrite) {
          staging ??= new Uint8Array(Math.min(STAGING, file.size));
          const piece = staging.subarray(0, Math.min(staging.length, r.len - done));
          fill(piece, r.fileOffset + done);
          dev.pwrite(r.offset + done, piece);
          done += piece.length;
        } else {
          const v = dev.view(r.offset + done, Math.min(IO_STEP, r.len - done));
          fill(v, r.fileOffset + done);
          dev.flush(v);
          done += v.length;
        }
      }
    });
  }

  /**
   * Copy a whole file's contents from `fd` (a regular file of at least the
   * file's size) inside the kernel where the device allows it (an image file:
   * copy_file_range per run); returns false when it does not, having copied
   * nothing, so the caller falls back to fillFile.
   */
  copyFileFromFd(file: FileNode, fd: number, progress?: (bytesDone: number) => void): boolean {
    this.checkWritable(file);
    // in the kernel only when every device of the file can
    if (this.devicesOf(file).some((d) => d.copyIn === undefined)) return false;
    // with a progress report, copy in pieces so that it can be told
    const piece = progress === undefined ? Number.MAX_SAFE_INTEGER : COPY_PROGRESS_PIECE;
    let first = true;
    let ok = true;
    forEachRun(file.fmap, 0, file.size, (r) => {
      for (let done = 0; done < r.len; ) {
        const len = Math.min(piece, r.len - done);
        const dev = this.devFor(r.devIndex);
        const n = dev.copyIn!(fd, r.fileOffset + done, r.offset + done, len);
        if (n === 0 && first) {
          ok = false;
          return false;
        }
        first = false;
        if (n !== len) throw new FamfsError('EIO', 'copy', `${file.relpath}: the source ended after ${r.fileOffset + done + n} of ${file.size} bytes`, file.relpath);
        done += n;
        progress?.(r.fileOffset + done);
      }
      return true;
    });
    return ok;
  }

  /** Write back the processor cache over a whole file (`famfs flush`). */
  flushFile(file: FileNode): void {
    this.forEachView(file, 0, file.size, (v, _off, dev) => dev.flush(v));
  }

  /** Drop this host's cached lines over a whole file (before reading what another host wrote). */
  invalidateFile(file: FileNode): void {
    this.forEachView(file, 0, file.size, (v, _off, dev) => dev.invalidate(v));
  }
}

function clampLen(file: FileNode, offset: number, length: number): number {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new FamfsError('EINVAL', 'read', `${file.relpath}: invalid range offset ${offset} length ${length}`, file.relpath);
  }
  return Math.max(0, Math.min(length, file.size - offset));
}

/** Paths given to the API may carry a leading or trailing '/': the root is ''. */
export function normalize(relpath: string): string {
  return relpath.replace(/^\/+/, '').replace(/\/+$/, '');
}

const SB_SIZE = SuperblockLayout.SIZE;

/** The device path recorded in a secondary superblock: as given, or cut to the field (it is only a hint). */
function fitDevname(p: string): string {
  if (encodeCString(p, DEVNAME_FIELD_LEN) !== undefined) return p;
  return Buffer.from(p, 'utf8').subarray(0, DEVNAME_FIELD_LEN - 1).toString('utf8').replace(/\uFFFD+$/, '');
}

/** Two open devices on the same file (same device and inode): one device given twice under two names. */
function sameDevice(a: Device, b: Device): boolean {
  try {
    const x = fs.statSync(a.path);
    const y = fs.statSync(b.path);
    if (x.isBlockDevice() || x.isCharacterDevice()) return x.rdev === y.rdev;
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** Why a secondary device is not open here, naming it. */
function daxdevProblem(rec: DaxdevRecord, e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.startsWith(`daxdev ${rec.index} `) ? m : `daxdev ${rec.index} (${rec.uuid}): ${m}`;
}

/** Find a secondary device on this host (daxdevs.ts), check it is that device, open it. */
function defaultOpenDaxdev(candidates: readonly string[]): NonNullable<FamfsOpenOptions['openDaxdev']> {
  return (rec, fsUuid, writable) => {
    const r = resolveDaxdev(fsUuid, rec.uuid, candidates);
    if (r.path === undefined) {
      throw new FamfsError('ENODEV', 'daxdev', `daxdev ${rec.index} (${rec.uuid}) is not found on this host${r.tried.length > 0 ? ` (tried: ${r.tried.join('; ')})` : ''}: \`famfs daxdev refresh\` with its path`);
    }
    return openDevice(r.path, { writable });
  };
}
