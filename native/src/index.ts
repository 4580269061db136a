/**
 * @famfs/native: the few Linux system calls and x86 cache instructions famfs
 * needs that Node.js does not expose (mmap, msync, clwb/clflushopt, flock,
 * block-device size, dax detection, mount).
 *
 * The addon (build/Release/famfs_native.node) is loaded lazily on the first
 * call, so importing this module never fails; a missing build throws an Error
 * telling how to build it. Every function validates its arguments here, in
 * TypeScript, before any native code runs (TypeError for a wrong type,
 * RangeError for a bad value). Failures of the system calls themselves throw
 * an Error that satisfies {@link NativeError}: `code` 'ENOENT', `errno` 2,
 * `syscall` 'stat', `path` '/x', message "ENOENT: no such file or directory,
 * stat '/x'" (like Node's fs errors, except that `errno` is positive).
 *
 * Linux x86-64 only. All calls are synchronous and run on the calling thread.
 */
import { constants as bufferConstants } from 'node:buffer';
import * as fs from 'node:fs';
import { types } from 'node:util';
import { type Binding, loadNative } from './binding.js';

export { NATIVE_ADDON_ERROR, addonPath } from './binding.js';

// ---------------------------------------------------------------------------
// Types

/** What a path is, as far as famfs cares. */
export type DeviceKind = 'dax' | 'block' | 'file' | 'directory' | 'other';

export interface DeviceInfo {
  kind: DeviceKind;
  /**
   * Bytes: a dax device's sysfs `size`, a block device's BLKGETSIZE64, a file's
   * or directory's st_size; 0 for 'other'.
   */
  size: number;
  /** device numbers, for character and block devices only */
  major?: number;
  minor?: number;
}

export type FlockOp = 'sh' | 'ex' | 'un';
export type CacheFlushMethod = 'clwb' | 'clflushopt' | 'clflush';

/** The shape of every error a failed system call throws. */
export interface NativeError extends Error {
  /** errno name, e.g. 'ENOENT' */
  code: string;
  /** errno number (positive), e.g. 2 */
  errno: number;
  /** the call that failed: 'mmap', 'stat', 'open', 'ioctl(BLKGETSIZE64)', … */
  syscall: string;
  /** the path concerned, when there is one */
  path?: string;
}

export function isNativeError(e: unknown): e is NativeError {
  if (!(e instanceof Error)) return false;
  const o = e as Partial<NativeError>;
  return (
    typeof o.code === 'string' &&
    typeof o.errno === 'number' &&
    typeof o.syscall === 'string' &&
    (o.path === undefined || typeof o.path === 'string')
  );
}

/** True when the addon is built and loads. */
export function isNativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Argument checks

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return String(v);
  return Object.prototype.toString.call(v);
}

function checkInteger(name: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isInteger(v)) throw new TypeError(`${name} must be an integer, got ${describe(v)}`);
  if (v < min || v > max) throw new RangeError(`${name} must be in [${min}, ${max}], got ${v}`);
  return v;
}

function checkFd(fd: unknown): number {
  return checkInteger('fd', fd, 0, 0x7fffffff);
}

function checkBoolean(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(v)}`);
  return v;
}

function checkString(name: string, v: unknown, { allowEmpty = false } = {}): string {
  if (typeof v !== 'string') throw new TypeError(`${name} must be a string, got ${describe(v)}`);
  if (!allowEmpty && v.length === 0) throw new TypeError(`${name} must not be empty`);
  if (v.includes('\0')) throw new TypeError(`${name} must not contain NUL characters`);
  return v;
}

/** `v` must be a Uint8Array over a (non-shared) ArrayBuffer; returns that buffer. */
function checkView(name: string, v: unknown): ArrayBuffer {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array, got ${describe(v)}`);
  if (!types.isArrayBuffer(v.buffer)) throw new TypeError(`${name} must be backed by an ArrayBuffer (not shared memory)`);
  return v.buffer;
}

// ---------------------------------------------------------------------------
// Memory mappings

/** The system page size (mmap offsets must be multiples of it). */
export function pageSize(): number {
  return loadNative().pageSize();
}

/**
 * Map `length` bytes of `fd` from `offset` (MAP_SHARED; PROT_READ, plus
 * PROT_WRITE when `writable`) and return a zero-copy Uint8Array over them.
 *
 * `offset` must be a multiple of {@link pageSize} (it is not aligned for you).
 * `length` must be > 0 and at most the largest Uint8Array Node allows
 * (buffer.constants.MAX_LENGTH, 4 GiB on Node 20). For a regular file the
 * range must lie within the file (touching a page past EOF would be SIGBUS).
 *
 * Writing to a read-only mapping kills the process (SIGSEGV). The mapping is
 * released by {@link munmap}, or when the view is garbage-collected.
 */
export function mmap(fd: number, offset: number, length: number, writable: boolean, opts: MmapOptions = {}): Uint8Array {
  checkFd(fd);
  checkInteger('offset', offset);
  checkBoolean('writable', writable);
  const n = loadNative();
  const maxLength = Math.min(bufferConstants.MAX_LENGTH, n.maxMapLength);
  checkInteger('length', length, 1, maxLength);
  const page = n.pageSize();
  if (offset % page !== 0) throw new RangeError(`offset ${offset} is not a multiple of the page size (${page})`);
  if (opts.fileSize !== undefined) checkInteger('fileSize', opts.fileSize);
  const st = opts.fileSize === undefined ? fs.fstatSync(fd) : { isFile: () => true, size: opts.fileSize };
  if (st.isFile() && offset + length > st.size) {
    throw new RangeError(
      `range [${offset}, ${offset + length}) is beyond the end of the file (${st.size} bytes)`,
    );
  }
  return new Uint8Array(n.mmap(fd, offset, length, writable));
}

export interface MmapOptions {
  /**
   * The file's size, when the caller knows it: then no fstat(2) is made to
   * check the range. A FUSE server mapping a file of its own mount must not
   * fstat it synchronously (the kernel could ask the server itself for the
   * attributes, and the server is the caller).
   */
  fileSize?: number;
}

/**
 * Unmap a view returned by {@link mmap} (the whole view, not a subarray).
 * Its ArrayBuffer is detached first, so the view and every subarray of it
 * become empty (byteLength 0) and can never reach the unmapped memory.
 * Unmapping twice, or a view that mmap did not return, throws an EINVAL
 * {@link NativeError} (syscall 'munmap').
 */
export function munmap(view: Uint8Array): void {
  const buffer = checkView('view', view);
  if (view.byteOffset !== 0 || view.byteLength !== buffer.byteLength) {
    throw new RangeError('munmap needs the whole view returned by mmap, not a subarray of it');
  }
  loadNative().munmap(buffer);
}

/**
 * msync the pages covering `view` (a mapping from {@link mmap} or any
 * subarray of one): MS_SYNC when `sync` (wait for the write-back), else MS_ASYNC.
 */
export function msync(view: Uint8Array, sync = true): void {
  const buffer = checkView('view', view);
  checkBoolean('sync', sync);
  loadNative().msync(buffer, view.byteOffset, view.byteLength, sync);
}

// ---------------------------------------------------------------------------
// Processor cache

/** The write-back instruction flushRange uses, chosen once via CPUID. */
export function cacheFlushMethod(): CacheFlushMethod {
  return loadNative().cacheFlushMethod();
}

/** The cache line size in bytes (CPUID, default 64). */
export function cacheLineSize(): number {
  return loadNative().cacheLineSize();
}

/**
 * Write back the cache lines covering exactly `view` (any Uint8Array, e.g. a
 * subarray of a mapping; unaligned start and end are fine) with clwb, else
 * clflushopt, else clflush, then fence (sfence; mfence after clflush), so that
 * other hosts sharing the memory see the stores.
 */
export function flushRange(view: Uint8Array): void {
  const buffer = checkView('view', view);
  loadNative().flushRange(buffer, view.byteOffset, view.byteLength);
}

/**
 * Write back and evict the cache lines covering `view` (clflushopt, else
 * clflush; then mfence), so the next loads read what another host wrote.
 */
export function invalidateRange(view: Uint8Array): void {
  const buffer = checkView('view', view);
  loadNative().invalidateRange(buffer, view.byteOffset, view.byteLength);
}

// ---------------------------------------------------------------------------
// Locks, devices, mounts

export interface FlockOptions {
  /** LOCK_NB: return false instead of waiting when the lock is held elsewhere */
  nonblock?: boolean;
}

/**
 * flock(2) on `fd`: 'sh' shared, 'ex' exclusive, 'un' unlock. Returns true,
 * or false only when `nonblock` and the lock is held through another open
 * file description. A blocking call blocks the whole thread (EINTR is retried).
 */
export function flock(fd: number, op: FlockOp, opts: FlockOptions = {}): boolean {
  checkFd(fd);
  if (op !== 'sh' && op !== 'ex' && op !== 'un') {
    throw new TypeError(`op must be 'sh', 'ex' or 'un', got ${describe(op)}`);
  }
  if (opts === null || typeof opts !== 'object') throw new TypeError(`opts must be an object, got ${describe(opts)}`);
  const nonblock = checkBoolean('opts.nonblock', opts.nonblock ?? false);
  return loadNative().flock(fd, op, nonblock);
}

/**
 * What `path` is (symlinks followed): 'dax' (a character device of the dax
 * class, size from sysfs), 'block' (size by BLKGETSIZE64, so it needs read
 * permission), 'file', 'directory', or 'other' (e.g. /dev/null; size 0).
 */
export function deviceInfo(path: string): DeviceInfo {
  checkString('path', path);
  return loadNative().deviceInfo(path);
}

/**
 * mount(2). `flags` are MS_* bits; `data` is the file-system specific option
 * string (an empty string passes NULL).
 */
export function mount(source: string, target: string, fstype: string, flags = 0, data = ''): void {
  checkString('source', source, { allowEmpty: true });
  checkString('target', target);
  checkString('fstype', fstype, { allowEmpty: true });
  checkInteger('flags', flags, 0, 0xffffffff);
  checkString('data', data, { allowEmpty: true });
  loadNative().mount(source, target, fstype, flags, data);
}

/** umount2(2). `flags`: MNT_FORCE 1, MNT_DETACH 2, MNT_EXPIRE 4, UMOUNT_NOFOLLOW 8. */
export function umount2(target: string, flags = 0): void {
  checkString('target', target);
  checkInteger('flags', flags, 0, 0x7fffffff);
  loadNative().umount2(target, flags);
}

/**
 * A connected AF_UNIX SOCK_SEQPACKET pair (close-on-exec): each write is one
 * message and each read returns one, as on /dev/fuse. Returns the two fds;
 * the caller closes them.
 */
export function socketpairSeqpacket(): [number, number] {
  return loadNative().socketpairSeqpacket();
}

/**
 * Call `onReadable(status)` on the event loop whenever `fd` is readable
 * (uv_poll; status < 0 is a libuv error). Returns a function that stops
 * watching. The fd should be non-blocking (setNonblock).
 */
export function watchReadable(fd: number, onReadable: (status: number) => void): () => void {
  checkInteger('fd', fd, 0, 0x7fffffff);
  if (typeof onReadable !== 'function') throw new TypeError('onReadable must be a function');
  const native = loadNative();
  const id = native.pollStart(fd, onReadable);
  return () => native.pollStop(id);
}

/**
 * copy_file_range(2) between positions of two fds (their file offsets do not
 * move): bytes copied, possibly fewer than `len`; 0 at the end of the input.
 * Throws (code EXDEV, EINVAL, EOPNOTSUPP …) where the kernel cannot do it,
 * e.g. for a block device: callers fall back to read/write.
 */
export function copyFileRange(fdIn: number, offIn: number, fdOut: number, offOut: number, len: number): number {
  checkInteger('fdIn', fdIn, 0, 0x7fffffff);
  checkInteger('offIn', offIn);
  checkInteger('fdOut', fdOut, 0, 0x7fffffff);
  checkInteger('offOut', offOut);
  checkInteger('len', len, 0, 0x7ffff000);
  return loadNative().copyFileRange(fdIn, offIn, fdOut, offOut, len);
}

/** Set or clear O_NONBLOCK on a file descriptor. */
export function setNonblock(fd: number, on: boolean): void {
  checkInteger('fd', fd, 0, 0x7fffffff);
  loadNative().setNonblock(fd, on === true);
}

/** Diagnostics: mappings made by mmap and neither unmapped nor collected yet. */
export function liveMappingCount(): number {
  return loadNative().liveMappingCount();
}

// ---------------------------------------------------------------------------
// The DAX window: an address-space reservation with device ranges mapped in

/**
 * memfd_create(2) of `size` bytes (close-on-exec), its size sealed
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) so that whoever maps it can
 * never meet a page past its end. Returns the fd; the caller closes it.
 */
export function memfdCreate(name: string, size: number): number {
  checkString('name', name);
  if (Buffer.byteLength(name) > 249) throw new RangeError('name must be at most 249 bytes (memfd_create)');
  checkInteger('size', size);
  return loadNative().memfdCreate(name, size);
}

/**
 * An address range reserved in this process: every page either shows the
 * base layer (PROT_NONE — any access faults) or a range of some fd mapped
 * over it with MAP_FIXED. Made by {@link reserveWindow}; released by
 * {@link WindowReservation.release} (and only then: it is not collected).
 * Its address never reaches JavaScript as something to dereference; reads
 * go through {@link WindowReservation.probe}, which cannot crash.
 */
export class WindowReservation {
  private released = false;

  /** @internal use reserveWindow */
  constructor(
    private readonly id: number,
    readonly length: number,
    readonly align: number,
  ) {}

  private live(): Binding {
    if (this.released) throw new Error('window reservation already released');
    return loadNative();
  }

  /** The start address (diagnostics only: matching /proc/self/maps lines). */
  get base(): number {
    return this.live().windowBase(this.id);
  }

  private checkRange(offset: number, length: number): void {
    const page = loadNative().pageSize();
    checkInteger('offset', offset);
    checkInteger('length', length, 1);
    if (offset % page !== 0 || length % page !== 0) throw new RangeError(`offset ${offset} and length ${length} must be multiples of the page size (${page})`);
    if (offset + length > this.length) throw new RangeError(`range [${offset}, ${offset + length}) is outside the ${this.length}-byte window`);
  }

  /**
   * mmap `length` bytes of `fd` from `fdOffset` at window `offset`
   * (MAP_SHARED | MAP_FIXED; PROT_READ, plus PROT_WRITE when `writable`),
   * replacing whatever the range showed. On failure the range shows the
   * base layer (MAP_FIXED may have dropped the old pages before failing)
   * and a {@link NativeError} (syscall 'mmap(MAP_FIXED)') is thrown.
   */
  map(offset: number, length: number, fd: number, fdOffset: number, writable: boolean): void {
    const n = this.live();
    this.checkRange(offset, length);
    checkFd(fd);
    checkInteger('fdOffset', fdOffset);
    checkBoolean('writable', writable);
    if (fdOffset % n.pageSize() !== 0) throw new RangeError(`fdOffset ${fdOffset} is not a multiple of the page size`);
    n.windowMap(this.id, offset, length, fd, fdOffset, writable);
  }

  /** Put the base layer (PROT_NONE) back over [offset, offset+length). */
  unmap(offset: number, length: number): void {
    const n = this.live();
    this.checkRange(offset, length);
    n.windowUnmap(this.id, offset, length);
  }

  /**
   * Read `segLen` bytes at each window offset in `offsets` into
   * `dst[i*segLen ..]`, without ever faulting this process: a segment whose
   * page cannot be read (base layer, or nothing) gets status 0. With
   * `writeBack`, each readable segment is written back unchanged through
   * the page protection: status 2 = readable and writable, 1 = read-only.
   * Returns the statuses (one byte per segment).
   */
  probe(offsets: readonly number[], segLen: number, dst: Uint8Array, writeBack = false): Uint8Array {
    const n = this.live();
    checkInteger('segLen', segLen, 1, 4096);
    checkBoolean('writeBack', writeBack);
    if (!(dst instanceof Uint8Array) || dst.byteOffset !== 0 || !types.isArrayBuffer(dst.buffer)) {
      throw new TypeError('dst must be a Uint8Array over a whole (non-shared) ArrayBuffer');
    }
    if (dst.byteLength < offsets.length * segLen) throw new RangeError(`dst holds ${dst.byteLength} bytes, ${offsets.length * segLen} needed`);
    const offs = Float64Array.from(offsets, (o, i) => {
      checkInteger(`offsets[${i}]`, o, 0, this.length - segLen);
      return o;
    });
    const status = new Uint8Array(offsets.length);
    n.windowProbe(this.id, offs, segLen, dst.buffer, status.buffer, writeBack);
    return status;
  }

  /** Unmap the whole reservation. A second call throws. */
  release(): void {
    const n = this.live();
    this.released = true;
    n.windowRelease(this.id);
  }
}

/**
 * Reserve `length` bytes of address space, aligned to `align` (a power of
 * two, at least a page; 2 MiB lets a devdax device be mapped in), every
 * page PROT_NONE. The base layer is `fd` mapped MAP_SHARED from offset 0
 * (a memfd at least `length` long), or anonymous memory when `fd` is -1.
 */
export function reserveWindow(length: number, align: number, fd = -1): WindowReservation {
  const n = loadNative();
  const page = n.pageSize();
  checkInteger('length', length, page, 2 ** 46);
  if (length % page !== 0) throw new RangeError(`length ${length} is not a multiple of the page size (${page})`);
  checkInteger('align', align, page, 2 ** 30);
  if ((align & (align - 1)) !== 0) throw new RangeError(`align ${align} is not a power of two`);
  if (fd !== -1) {
    checkFd(fd);
    const st = fs.fstatSync(fd);
    if (st.size < length) throw new RangeError(`the base layer fd holds ${st.size} bytes, the window needs ${length}`);
  }
  return new WindowReservation(n.windowReserve(length, align, fd), length, align);
}

/** Diagnostics: window reservations not yet released. */
export function liveWindowCount(): number {
  return loadNative().liveWindowCount();
}

// ---------------------------------------------------------------------------
// Unix sockets: descriptors (SCM_RIGHTS) and SOCK_SEQPACKET servers

/**
 * sendmsg(2) one message: `data` and, with it, `fds` (SCM_RIGHTS, at most
 * 253). Returns the bytes sent. On a non-blocking socket a full buffer is
 * an EAGAIN {@link NativeError}.
 */
export function sendFds(sock: number, data: Uint8Array, fds: readonly number[] = []): number {
  checkFd(sock);
  const buffer = checkView('data', data);
  const list: number[] = Array.from(fds);
  if (list.length > 253) throw new TypeError('fds must be an array of at most 253 descriptors');
  list.forEach((fd, i) => checkInteger(`fds[${i}]`, fd, 0, 0x7fffffff));
  return loadNative().sendFds(sock, buffer, data.byteOffset, data.byteLength, list);
}

export interface ReceivedMessage {
  /** bytes of data received into the buffer (0 with no fds: the peer hung up) */
  bytes: number;
  /** descriptors that came with it (close-on-exec; the caller owns them) */
  fds: number[];
}

/**
 * recvmsg(2) one message into `buf` with up to `maxFds` descriptors.
 * Returns null when the socket is non-blocking and nothing is waiting. A
 * message that does not fit (data or descriptors) is an EMSGSIZE error and
 * its descriptors are closed.
 */
export function recvFds(sock: number, buf: Uint8Array, maxFds = 253): ReceivedMessage | null {
  checkFd(sock);
  const buffer = checkView('buf', buf);
  checkInteger('maxFds', maxFds, 0, 253);
  return loadNative().recvFds(sock, buffer, buf.byteOffset, buf.byteLength, maxFds);
}

/** A listening AF_UNIX SOCK_SEQPACKET socket at `path` (non-blocking, close-on-exec); the caller closes it and removes the path. */
export function seqpacketListen(path: string, backlog = 16): number {
  checkString('path', path);
  checkInteger('backlog', backlog, 1, 4096);
  return loadNative().seqpacketListen(path, backlog);
}

/** accept4(2) on a listening socket: a connection (non-blocking, close-on-exec), or -1 when none is waiting. */
export function seqpacketAccept(fd: number): number {
  checkFd(fd);
  return loadNative().seqpacketAccept(fd);
}

/** Connect a (blocking, close-on-exec) SOCK_SEQPACKET socket to `path`. */
export function seqpacketConnect(path: string): number {
  checkString('path', path);
  return loadNative().seqpacketConnect(path);
}

// ---------------------------------------------------------------------------
// FUSE backing devices

/** fuse_backing_map.flags low byte in the fuse-iomap series (mainline passthrough needs 0). */
export const FuseBackingType = { PASSTHROUGH: 0, IOMAP: 1 } as const;

/**
 * FUSE_DEV_IOC_BACKING_OPEN on a /dev/fuse fd: register `fd` as a backing
 * file or device and return its id (a positive number: passthrough's
 * backing_id, or fuse-iomap's device cookie). Needs CAP_SYS_ADMIN and a
 * kernel that negotiated passthrough or iomap.
 */
export function fuseBackingOpen(fuseFd: number, fd: number, flags = 0): number {
  checkFd(fuseFd);
  checkFd(fd);
  checkInteger('flags', flags, 0, 0xffffffff);
  return loadNative().fuseBackingOpen(fuseFd, fd, flags);
}

/** FUSE_DEV_IOC_BACKING_CLOSE: forget a backing id. */
export function fuseBackingClose(fuseFd: number, id: number): void {
  checkFd(fuseFd);
  checkInteger('id', id, 1, 0xffffffff);
  loadNative().fuseBackingClose(fuseFd, id);
}

// ---------------------------------------------------------------------------
// CRC-32 (zlib's: IEEE 802.3, reflected 0xEDB88320, init and final XOR ~0)

export interface CrcOptions {
  /** use the PCLMULQDQ folding where the CPU has it (default); false: the table only (tests compare both) */
  fold?: boolean;
}

/**
 * Check `count` records of `stride` bytes laid end to end from the start of
 * `view` (famfs log entries: stride 544, crcLen 536): record r is good when
 * the little-endian u64 at its byte `crcLen` equals the CRC-32 of its bytes
 * [0, crcLen). Returns the numbers of the records that are not good, in
 * increasing order (empty when all are). One call for a whole log instead
 * of one per entry.
 */
export function crc32Records(view: Uint8Array, count: number, stride: number, crcLen: number, opts: CrcOptions = {}): Uint32Array {
  const buffer = checkView('view', view);
  checkInteger('count', count, 0, 0xffffffff);
  checkInteger('stride', stride, 8, 0xffffffff);
  checkInteger('crcLen', crcLen, 0, stride - 8);
  if (count * stride > view.byteLength) {
    throw new RangeError(`${count} records of ${stride} bytes do not fit in the ${view.byteLength}-byte view`);
  }
  return loadNative().crc32Records(buffer, view.byteOffset, count, stride, crcLen, opts.fold !== false);
}

/** zlib's crc32(0, view): the CRC-32 of every byte of `view`. */
export function crc32(view: Uint8Array, opts: CrcOptions = {}): number {
  const buffer = checkView('view', view);
  return loadNative().crc32(buffer, view.byteOffset, view.byteLength, opts.fold !== false);
}

/** Does this CPU compute CRC-32 with PCLMULQDQ (else with tables)? */
export function crcFoldAvailable(): boolean {
  return loadNative().crcFoldAvailable();
}

/**
 * `view` (a mapping) is about to be read once, all of it: map its pages in
 * one madvise(MADV_POPULATE_READ) instead of a page fault each, when it is
 * 1 MiB or more (best effort: older kernels, other memory, errors: nothing).
 */
export function populateForRead(view: Uint8Array): void {
  const buffer = checkView('view', view);
  loadNative().populateForRead(buffer, view.byteOffset, view.byteLength);
}

// ---------------------------------------------------------------------------
// The common case of a check-only log replay (core's LogReplayer, fileNodes: false)

/** Where the accumulators of checkFileEntries are in its `acc` array (in and out). */
export const LogCheckAcc = { SUM_FILE_SIZES: 0, FILE_ENTRIES: 1, FILES: 2, EXISTED: 3, ALLOCATED: 4, COLLISIONS: 5, LENGTH: 6 } as const;

/**
 * Apply log entries [first, end) of `log` (a log region: 48-byte header,
 * 544-byte entries) for a check-only replay, in native code, for as long as
 * each is a FILE entry with a good CRC and seqnum, an ASCII path that breaks
 * no rule, simple extents that break none and an existing parent directory:
 * claim its extents in `claims` (one count per allocation unit), add its
 * path to `files` (or count it as existing when a directory or a file has
 * it) and count it in `acc` (LogCheckAcc). Returns the index of the first
 * entry it did not apply (`end` when it applied them all), which the caller
 * applies itself. `geometry` is [first data offset, device capacity, alloc
 * unit, alloc unit - 1]; `dirs` and `files` are core's LogPathTable arrays;
 * at most `room` paths are added to `files`.
 */
export function checkFileEntries(
  log: Uint8Array, first: number, end: number, geometry: Float64Array, dirs: Int32Array, files: Int32Array, room: number,
  claims: Uint8Array, acc: Float64Array,
): number {
  const buffer = checkView('log', log);
  checkInteger('first', first, 0, 0xffffffff);
  checkInteger('end', end, first, 0xffffffff);
  checkInteger('room', room, 0, files.length / 2);
  if (!(geometry instanceof Float64Array) || !(acc instanceof Float64Array)) throw new TypeError('geometry and acc must be Float64Arrays');
  if (!(dirs instanceof Int32Array) || !(files instanceof Int32Array)) throw new TypeError('dirs and files must be Int32Arrays');
  if (!(claims instanceof Uint8Array)) throw new TypeError('claims must be a Uint8Array');
  return loadNative().checkFileEntries(buffer, log.byteOffset, log.byteLength, first, end, geometry, dirs, files, room, claims, acc);
}

export * from './fuse-queues.js';
