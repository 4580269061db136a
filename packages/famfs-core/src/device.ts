import * as fs from 'node:fs';
import * as native from '@famfs/native';
import { FamfsError, fromSystemError } from './errors.js';

/**
 * A famfs device: a dax character device, a (pmem or loop) block device, a
 * regular file used as an emulated device, or plain memory in tests. Core
 * reads and writes the file system through views of the device mapped
 * MAP_SHARED, and makes its stores visible to other hosts with `flush`.
 */
export type DeviceKind = 'dax' | 'block' | 'file' | 'memory';

export interface Device {
  readonly path: string;
  readonly kind: DeviceKind;
  /** size in bytes */
  readonly size: number;
  readonly writable: boolean;
  /**
   * A zero-copy view of device bytes [offset, offset + length): stores into it
   * are stores to the device. Node 20 caps a Uint8Array at 4 GiB, so a device
   * is mapped in windows; callers ask for the range they need (at most
   * MAX_VIEW bytes) rather than holding the whole device.
   */
  view(offset: number, length: number): Uint8Array;
  /**
   * Write back the processor cache lines covering `view` (from `view()`), so
   * that another host sharing the memory sees the stores.
   */
  flush(view: Uint8Array): void;
  /** Drop cached lines covering `view` before reading what another host wrote. */
  invalidate(view: Uint8Array): void;
  /** Make everything written durable on the backing store (msync for files and block devices). */
  sync(): void;
  /**
   * True when bulk writes are better done with pwrite(2) than with stores to
   * the mapping: a file or block device, where a store to a page not yet in
   * the page cache faults it in and zeroes it first (write(2) does not).
   */
  readonly prefersPwrite: boolean;
  /** Write `data` at device `offset` (pwrite for files and block devices, stores + flush otherwise). */
  pwrite(offset: number, data: Uint8Array): void;
  /**
   * Copy `len` bytes from `fd` at `srcOffset` to device `offset` inside the
   * kernel (copy_file_range), when the kernel can for this pair; returns the
   * bytes copied, or 0 when the caller should copy itself (read + pwrite).
   */
  copyIn?(fd: number, srcOffset: number, offset: number, len: number): number;
  /** Exclusive advisory lock on the device (flock); blocks until granted. Pair with unlock(). */
  lock(): void;
  unlock(): void;
  close(): void;
}

/** The largest view one call may ask for. */
export const MAX_VIEW = 1024 * 1024 * 1024;

function checkRange(dev: { path: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > dev.size) {
    throw new FamfsError('EINVAL', 'view', `${dev.path}: range [${offset}, ${offset + length}) is outside the ${dev.size}-byte device`, dev.path);
  }
  if (length > MAX_VIEW) throw new FamfsError('EINVAL', 'view', `${dev.path}: a view of ${length} bytes exceeds ${MAX_VIEW}`, dev.path);
}

/**
 * An in-memory device for tests and for building images in memory: flushes
 * are recorded (so tests can check write ordering) and the lock is a counter.
 */
export class MemoryDevice implements Device {
  readonly kind = 'memory';
  readonly writable = true;
  readonly flushes: Array<{ offset: number; length: number }> = [];
  private locked = false;

  constructor(
    readonly bytes: Uint8Array,
    readonly path = '/dev/memory',
  ) {}

  static ofSize(size: number, path?: string): MemoryDevice {
    return new MemoryDevice(new Uint8Array(size), path);
  }

  get size(): number {
    return this.bytes.length;
  }

  view(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }

  flush(view: Uint8Array): void {
    this.flushes.push({ offset: view.byteOffset - this.bytes.byteOffset, length: view.byteLength });
  }

  invalidate(): void {}
  sync(): void {}

  readonly prefersPwrite = false;

  pwrite(offset: number, data: Uint8Array): void {
    const v = this.view(offset, data.length);
    v.set(data);
    this.flush(v);
  }

  lock(): void {
    if (this.locked) throw new FamfsError('EBUSY', 'lock', `${this.path}: already locked`, this.path);
    this.locked = true;
  }

  unlock(): void {
    this.locked = false;
  }

  close(): void {}
}

/** One range of a RegionDevice: device bytes [offset, offset + bytes.length). */
export interface DeviceRegion {
  offset: number;
  bytes: Uint8Array;
  /** bytes mapped from shared memory: flush/invalidate act on them (a copy needs neither) */
  shared: boolean;
}

/**
 * A device of which only some ranges can be reached: what the mount daemon
 * has of a dax device in famfs mode, where user space can no longer map the
 * device and reads its superblock and log through the mount's
 * `.meta/.superblock` and `.meta/.log` (mapped by the kernel from their
 * fmaps) — or, before that mapping exists, a copy of them taken while the
 * device was still mappable. File data is not reachable (the kernel maps
 * files itself): a view outside the regions is EIO, never garbage.
 */
export class RegionDevice implements Device {
  readonly kind: DeviceKind;
  readonly prefersPwrite = false;

  constructor(
    readonly path: string,
    /** the device's own kind and size (sysfs still tells them in famfs mode) */
    kind: DeviceKind,
    readonly size: number,
    readonly writable: boolean,
    private readonly regions: readonly DeviceRegion[],
    /** serialize appends (flock on the mapped log file); no-ops when absent */
    private readonly locker?: { lock(): void; unlock(): void; close(): void },
  ) {
    this.kind = kind;
  }

  private regionOf(offset: number, length: number): DeviceRegion {
    for (const r of this.regions) if (offset >= r.offset && offset + length <= r.offset + r.bytes.length) return r;
    throw new FamfsError('EIO', 'view', `${this.path}: [${offset}, ${offset + length}) is not reachable here (only the superblock and the log are, in famfs mode)`, this.path);
  }

  view(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    const r = this.regionOf(offset, length);
    return r.bytes.subarray(offset - r.offset, offset - r.offset + length);
  }

  private isShared(v: Uint8Array): boolean {
    return this.regions.some((r) => r.shared && r.bytes.buffer === v.buffer);
  }

  flush(view: Uint8Array): void {
    if (this.isShared(view)) native.flushRange(view);
  }

  invalidate(view: Uint8Array): void {
    if (this.isShared(view)) native.invalidateRange(view);
  }

  sync(): void {}

  pwrite(offset: number, data: Uint8Array): void {
    if (!this.writable) throw new FamfsError('EROFS', 'write', `${this.path}: device is open read-only`, this.path);
    const v = this.view(offset, data.length);
    v.set(data);
    this.flush(v);
  }

  lock(): void {
    this.locker?.lock();
  }

  unlock(): void {
    this.locker?.unlock();
  }

  close(): void {
    this.locker?.close();
  }
}

export interface OpenDeviceOptions {
  /** open read-write (mkfs, creat, …); default read-only */
  writable?: boolean;
}

/** Kind and size of a path, without opening it for I/O. */
export function probeDevice(path: string): { kind: Exclude<DeviceKind, 'memory'>; size: number } {
  let info: native.DeviceInfo;
  try {
    info = native.deviceInfo(path);
  } catch (e) {
    throw fromSystemError(e, 'open', path);
  }
  switch (info.kind) {
    case 'dax':
    case 'block':
    case 'file':
      return { kind: info.kind, size: info.size };
    case 'directory':
      throw new FamfsError('EISDIR', 'open', `${path}: is a directory, not a device or image file`, path);
    default:
      throw new FamfsError('ENODEV', 'open', `${path}: not a dax device, block device or image file`, path);
  }
}

/** Windows are 1 GiB, aligned: metadata and most extents fall inside one. */
const WINDOW = 1024 * 1024 * 1024;
/** dax devices map in 2 MiB-aligned pieces; files and block devices need page alignment only. */
const MAP_ALIGN = 2 * 1024 * 1024;

class MappedDevice implements Device {
  private closed = false;
  private readonly windows = new Map<number, Uint8Array>();

  constructor(
    readonly path: string,
    readonly kind: Exclude<DeviceKind, 'memory'>,
    readonly size: number,
    readonly writable: boolean,
    private readonly fd: number,
  ) {}

  private mapAt(offset: number, length: number): Uint8Array {
    try {
      return native.mmap(this.fd, offset, length, this.writable);
    } catch (e) {
      throw fromSystemError(e, 'mmap', this.path);
    }
  }

  view(offset: number, length: number): Uint8Array {
    if (this.closed) throw new FamfsError('EBADF', 'view', `${this.path}: device is closed`, this.path);
    checkRange(this, offset, length);
    const w = Math.floor(offset / WINDOW);
    if (length === 0 || Math.floor((offset + length - 1) / WINDOW) === w) {
      let win = this.windows.get(w);
      if (win === undefined) {
        win = this.mapAt(w * WINDOW, Math.min(WINDOW, this.size - w * WINDOW));
        this.windows.set(w, win);
      }
      return win.subarray(offset - w * WINDOW, offset - w * WINDOW + length);
    }
    // A range across a window boundary gets a mapping of its own, released by
    // the garbage collector (the addon's finalizer unmaps it) with its view.
    const start = Math.floor(offset / MAP_ALIGN) * MAP_ALIGN;
    const end = Math.min(this.size, Math.ceil((offset + length) / MAP_ALIGN) * MAP_ALIGN);
    const m = this.mapAt(start, end - start);
    return m.subarray(offset - start, offset - start + length);
  }

  flush(view: Uint8Array): void {
    native.flushRange(view);
  }

  invalidate(view: Uint8Array): void {
    // Only dax memory can be shared with other hosts without coherence. A
    // file or block device is read through this host's page cache, which the
    // CPU keeps coherent for every process here (emulated hosts included):
    // dropping lines there only costs time on every read.
    if (this.kind === 'dax') native.invalidateRange(view);
  }

  sync(): void {
    // A dax device is memory: the cache flush already made stores visible and
    // there is nothing behind it to sync. Files and block devices have a page
    // cache in front of their backing store.
    if (this.kind === 'dax' || !this.writable) return;
    for (const win of this.windows.values()) native.msync(win, true);
    fs.fsyncSync(this.fd);
  }

  get prefersPwrite(): boolean {
    return this.kind !== 'dax';
  }

  pwrite(offset: number, data: Uint8Array): void {
    checkRange(this, offset, data.length);
    if (!this.writable) throw new FamfsError('EROFS', 'write', `${this.path}: device is open read-only`, this.path);
    if (this.kind === 'dax') {
      const v = this.view(offset, data.length);
      v.set(data);
      this.flush(v);
      return;
    }
    try {
      for (let done = 0; done < data.length; ) done += fs.writeSync(this.fd, data, done, data.length - done, offset + done);
    } catch (e) {
      throw fromSystemError(e, 'write', this.path);
    }
  }

  /** copy_file_range works between regular files; after one refusal, do not ask again. */
  private copyRangeWorks = true;

  copyIn(fd: number, srcOffset: number, offset: number, len: number): number {
    if (this.kind !== 'file' || !this.copyRangeWorks || !this.writable) return 0;
    checkRange(this, offset, len);
    let done = 0;
    try {
      while (done < len) {
        const n = native.copyFileRange(fd, srcOffset + done, this.fd, offset + done, Math.min(len - done, 0x40000000));
        if (n === 0) break; // the source ended early: the caller sees the short count
        done += n;
      }
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (done === 0 && (code === 'EXDEV' || code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOSYS' || code === 'EBADF')) {
        this.copyRangeWorks = false;
        return 0;
      }
      throw fromSystemError(e, 'copy_file_range', this.path);
    }
    return done;
  }

  lock(): void {
    native.flock(this.fd, 'ex', { nonblock: false });
  }

  unlock(): void {
    native.flock(this.fd, 'un', { nonblock: false });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const win of this.windows.values()) native.munmap(win);
    this.windows.clear();
    fs.closeSync(this.fd);
  }
}

/**
 * Open and map a device or emulated device file. Fails with a FamfsError
 * (ENOENT, EISDIR, ENODEV, EACCES, EROFS, EINVAL for an empty file …).
 */
export function openDevice(path: string, opts: OpenDeviceOptions = {}): Device {
  const writable = opts.writable ?? false;
  const { kind, size } = probeDevice(path);
  if (size === 0) throw new FamfsError('EINVAL', 'open', `${path}: device is empty (size 0)`, path);
  if (writable && kind === 'file') refuseReadOnlyFile(path);
  let fd: number;
  try {
    fd = fs.openSync(path, writable ? 'r+' : 'r');
  } catch (e) {
    throw fromSystemError(e, 'open', path);
  }
  return new MappedDevice(path, kind, size, writable, fd);
}

/**
 * root may open a file without write permission bits for writing; famfs
 * treats such a file as read-only anyway, so that an image a user protected
 * with `chmod a-w` is never modified.
 */
function refuseReadOnlyFile(path: string): void {
  const st = fs.statSync(path);
  if ((st.mode & 0o222) === 0) {
    throw new FamfsError('EACCES', 'open', `${path}: image file is read-only`, path);
  }
}
