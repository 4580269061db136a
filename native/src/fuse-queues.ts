/**
 * FUSE request queues: native worker threads that take requests off the
 * kernel for one mount, answer READ and WRITE on published file handles
 * straight from the mapped devices, and hand every other request to
 * JavaScript unchanged.
 *
 * ## Contract (what a FUSE server built on this must do)
 *
 * Setup, on the JS thread:
 *  1. open /dev/fuse and mount(2) with it; `new FuseQueues({ fd, onRequest })`;
 *  2. `addDevice(index, …)` for every device a run can name (the whole device
 *     is mapped once, MAP_SHARED; unmapped when the queues close);
 *  3. `start()`: a thread reads the session fd. From here on JS must never
 *     read that fd itself (it may still write notifications to it).
 *
 * Requests: `onRequest({ queue, token, bytes })` is called on the JS thread,
 * in arrival order per queue, for every request not answered natively —
 * INIT, LOOKUP, GETATTR, OPEN, RELEASE, FORGET, INTERRUPT, famfs messages,
 * READ and WRITE on a handle without a published table, malformed requests.
 * `bytes` is the request exactly as /dev/fuse carries it (fuse_in_header
 * first; for io_uring it is rebuilt from the ring entry in the same layout)
 * and belongs to JS. JS answers each token exactly once, at any later time:
 *  - `reply(token, parts)`: parts are the whole reply, fuse_out_header first
 *    (as written to /dev/fuse); it goes back through the channel/queue the
 *    request came from (the fd it was read from; for io_uring a
 *    COMMIT_AND_FETCH of its ring entry). Returns false when nobody waits any
 *    more (interrupted, unmounted, stopped, token unknown or already used);
 *    throws a NativeError when the channel refuses the reply (e.g. too large
 *    for a ring entry: EMSGSIZE) — the token then stays valid, so JS can
 *    still answer with an error.
 *  - `noReply(token)` for FORGET, BATCH_FORGET and INTERRUPT (and requests
 *    too short to answer). On a ring entry it answers EIO instead, since a
 *    ring entry is only re-armed by a commit.
 *  If `onRequest` throws, the wrapper answers EIO (or nothing, for the
 *  opcodes without replies) and emits a process warning.
 *
 * INIT decides the channel: the queues read the INIT reply JS writes. With
 * OVER_IO_URING (INIT bit 41, flags2 bit 9; only set it when the kernel
 * offered it — it does when the fuse module's enable_uring is Y) they
 * register one io_uring queue per possible CPU (`queueDepth` entries each,
 * payload buffers sized from the reply's max_write/max_pages) right after the
 * reply is written; otherwise they open `clones` channels cloned from the
 * session fd. If registering the rings fails, they fall back to cloned
 * channels (`info().setupErrors` says why). After registration the kernel
 * still sends FORGET, BATCH_FORGET and INTERRUPT through /dev/fuse: the
 * session fd's thread keeps reading it.
 *
 * Run tables: `publish(fh, table)` when OPEN has given out `fh` (before the
 * OPEN reply is written, so the first READ finds it); `withdraw(fh)` at
 * RELEASE (before replying) and whenever the file's map or size is no longer
 * right (then publish again). Tables are immutable: publish replaces. A
 * READ/WRITE that finds no table (or one for another nodeid, or WRITE on a
 * read-only table) goes to JS, which answers it (EBADF for a handle it closed)
 * — never from a withdrawn table. Natively: READ returns file bytes
 * [offset, min(offset+size, file size)); WRITE at or past the file size with
 * data is EFBIG, a WRITE crossing it is short, written bytes are written back
 * from the cache (clwb/clflushopt/clflush + fence) before the reply; with
 * `invalidateOnRead` (dax) the lines are invalidated before a READ.
 *
 * Ending: the queues end when the kernel says the connection is gone (a
 * /dev/fuse read fails with ENODEV or ECONNABORTED, a ring entry completes
 * with ENOTCONN: unmount, umount -f, abort), on a fatal error, or on `stop()`. `stop()` joins
 * every thread before it returns; `closed` resolves once, with the reason.
 * Afterwards every fd the queues opened is closed, every mapping unmapped,
 * replies return false; the session fd stays open (JS owns it). Stopping
 * while still mounted leaves requests the queues had not answered waiting in
 * the kernel: unmount first, or close the session fd afterwards (the kernel
 * aborts the connection when its last /dev/fuse fd closes).
 */
import * as fs from 'node:fs';
import { type NativeFuseQueues, type NativeQueueStats, type NativeQueuesInfo, loadNative } from './binding.js';
import type { NativeError } from './index.js';

/** INIT flag (bit 41): serve this connection through FUSE-over-io_uring. */
export const INIT_OVER_IO_URING = 1n << 41n;

/** The fuse module parameter that lets servers negotiate FUSE-over-io_uring (root may write it). */
export const URING_PARAMETER = '/sys/module/fuse/parameters/enable_uring';

const FORGET = 2;
const INTERRUPT = 36;
const BATCH_FORGET = 42;
const NO_REPLY = new Set([FORGET, INTERRUPT, BATCH_FORGET]);
const EIO = 5;
const MAX_DEVICES = 32;
const MAX_PARTS = 1024;

export interface FuseQueuesOptions {
  /**
   * The /dev/fuse fd mount(2) was given. The queues make it non-blocking,
   * read it, write replies to it, and never close it.
   */
  fd: number;
  /** Every request not answered natively, on the JS thread (see the module comment). */
  onRequest: (req: QueuedRequest) => void;
  /** Cloned /dev/fuse channels besides the session fd when io_uring is not negotiated (default: possible CPUs). */
  clones?: number;
  /** Ring entries per io_uring queue (default 16; the kernel's max_background is 12 by default). */
  queueDepth?: number;
  /** Pin io_uring queue thread N to CPU N, where the kernel queues the requests of callers on CPU N (default true). */
  pinQueues?: boolean;
  /** The max_write the INIT reply will carry: sizes the first read buffer (default 1 MiB; INIT's reply rules). */
  maxWrite?: number;
}

export interface QueuedRequest {
  /** the queue it came from (0: the session fd) */
  readonly queue: number;
  /** answer with reply(token, …) or noReply(token), exactly once */
  readonly token: number;
  /** the request as /dev/fuse carries it: fuse_in_header, then the body */
  readonly bytes: Uint8Array;
}

export interface DeviceSpec {
  /** an fd open on the device (O_RDWR when writable); the queues map it and do not keep it */
  fd?: number;
  /** or a path, opened just to map it */
  path?: string;
  /** bytes to map (default: the device's size from deviceInfo/fstat) */
  size?: number;
  writable: boolean;
  /** invalidate the cache lines before each native READ (dax memory other hosts write) */
  invalidateOnRead?: boolean;
}

/** A contiguous piece of a file on a device. */
export interface FileRun {
  fileOffset: number;
  len: number;
  devIndex: number;
  devOffset: number;
}

/** What the queues need to answer READ/WRITE for one open handle. */
export interface RunTable {
  /** the inode the handle belongs to: a request naming another nodeid goes to JS */
  nodeid: bigint;
  /** the file size: READ stops there, WRITE never passes it */
  size: number;
  /** WRITE is answered natively only when true */
  writable: boolean;
  /** in file order, contiguous from 0, covering at least `size` */
  runs: readonly FileRun[];
}

export interface QueuesEnd {
  reason: 'unmounted' | 'stopped' | 'error';
  /** for 'error': what failed */
  error?: NativeError;
}

export type QueueStats = NativeQueueStats;
export type QueuesInfo = NativeQueuesInfo;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return String(v);
  return Object.prototype.toString.call(v);
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isInteger(v)) throw new TypeError(`${name} must be an integer, got ${describe(v)}`);
  if (v < min || v > max) throw new RangeError(`${name} must be in [${min}, ${max}], got ${v}`);
  return v;
}

function checkU64(name: string, v: unknown): bigint {
  if (typeof v !== 'bigint') throw new TypeError(`${name} must be a bigint, got ${describe(v)}`);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`${name} must fit in 64 bits unsigned, got ${v}`);
  return v;
}

function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(v)}`);
  return v;
}

function checkParts(parts: unknown): readonly Uint8Array[] {
  if (!Array.isArray(parts)) throw new TypeError(`parts must be an array of Uint8Array, got ${describe(parts)}`);
  if (parts.length > MAX_PARTS) throw new RangeError(`at most ${MAX_PARTS} parts, got ${parts.length}`);
  for (const p of parts) if (!(p instanceof Uint8Array)) throw new TypeError(`parts must be Uint8Array, got ${describe(p)}`);
  return parts as Uint8Array[];
}

function endOf(info: { reason: QueuesEnd['reason']; errno?: number; code?: string; syscall?: string }): QueuesEnd {
  if (info.reason !== 'error') return { reason: info.reason };
  const code = info.code ?? 'EIO';
  const e = new Error(`${code}: FUSE request queues failed, ${info.syscall ?? '?'}`) as NativeError;
  e.code = code;
  e.errno = info.errno ?? EIO;
  e.syscall = info.syscall ?? '?';
  return { reason: 'error', error: e };
}

/** The runs as the addon takes them: [fileOffset, len, devIndex, devOffset] per run. */
function packRuns(t: RunTable): Float64Array {
  if (t === null || typeof t !== 'object') throw new TypeError(`table must be an object, got ${describe(t)}`);
  checkU64('table.nodeid', t.nodeid);
  checkInt('table.size', t.size, 0, Number.MAX_SAFE_INTEGER);
  checkBool('table.writable', t.writable);
  if (!Array.isArray(t.runs)) throw new TypeError(`table.runs must be an array, got ${describe(t.runs)}`);
  const out = new Float64Array(t.runs.length * 4);
  let next = 0;
  t.runs.forEach((r: FileRun, i) => {
    const fileOffset = checkInt(`runs[${i}].fileOffset`, r.fileOffset, 0, Number.MAX_SAFE_INTEGER);
    const len = checkInt(`runs[${i}].len`, r.len, 1, Number.MAX_SAFE_INTEGER);
    const devIndex = checkInt(`runs[${i}].devIndex`, r.devIndex, 0, MAX_DEVICES - 1);
    const devOffset = checkInt(`runs[${i}].devOffset`, r.devOffset, 0, Number.MAX_SAFE_INTEGER);
    if (fileOffset !== next) throw new RangeError(`runs[${i}] starts at ${fileOffset}, expected ${next}: runs must be contiguous from 0`);
    next = fileOffset + len;
    out.set([fileOffset, len, devIndex, devOffset], i * 4);
  });
  if (next < t.size) throw new RangeError(`runs cover ${next} bytes, less than the file size ${t.size}`);
  return out;
}

/** The FUSE request queues of one mount (see the module comment for the contract). */
export class FuseQueues {
  /** Resolves once, when every thread has ended (unmount, stop(), or a fatal error). */
  readonly closed: Promise<QueuesEnd>;
  private readonly native: NativeFuseQueues;
  private readonly onRequest: (req: QueuedRequest) => void;
  private resolveClosed: ((end: QueuesEnd) => void) | undefined;
  private end: QueuesEnd | undefined;
  private started = false;

  constructor(opts: FuseQueuesOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError(`opts must be an object, got ${describe(opts)}`);
    const fd = checkInt('fd', opts.fd, 0, 0x7fffffff);
    if (typeof opts.onRequest !== 'function') throw new TypeError('onRequest must be a function');
    const binding = loadNative();
    const clones = checkInt('clones', opts.clones ?? binding.possibleCpus(), 0, 256);
    const depth = checkInt('queueDepth', opts.queueDepth ?? 16, 1, 1024);
    const pin = checkBool('pinQueues', opts.pinQueues ?? true);
    const maxWrite = checkInt('maxWrite', opts.maxWrite ?? 1024 * 1024, 4096, 64 * 1024 * 1024);
    this.onRequest = opts.onRequest;
    this.native = new binding.FuseQueues(fd, clones, depth, pin, maxWrite);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /**
   * Map device `index` (0–31) whole, MAP_SHARED, once. Before start() or
   * while running; an index is added once.
   */
  addDevice(index: number, dev: DeviceSpec): void {
    checkInt('index', index, 0, MAX_DEVICES - 1);
    if (dev === null || typeof dev !== 'object') throw new TypeError(`dev must be an object, got ${describe(dev)}`);
    const writable = checkBool('dev.writable', dev.writable);
    const invalidate = checkBool('dev.invalidateOnRead', dev.invalidateOnRead ?? false);
    if ((dev.fd === undefined) === (dev.path === undefined)) throw new TypeError('dev needs exactly one of fd and path');
    let fd: number;
    let opened = false;
    if (dev.path !== undefined) {
      if (typeof dev.path !== 'string' || dev.path.length === 0 || dev.path.includes('\0')) {
        throw new TypeError(`dev.path must be a non-empty string without NUL, got ${describe(dev.path)}`);
      }
      fd = fs.openSync(dev.path, writable ? 'r+' : 'r');
      opened = true;
    } else {
      fd = checkInt('dev.fd', dev.fd, 0, 0x7fffffff);
    }
    try {
      let size = dev.size;
      if (size === undefined) {
        const st = fs.fstatSync(fd);
        size = st.isFile() ? st.size : dev.path !== undefined ? loadNative().deviceInfo(dev.path).size : 0;
        if (size === 0) throw new RangeError('dev.size is needed: the device size cannot be found from the fd');
      }
      checkInt('dev.size', size, 1, Number.MAX_SAFE_INTEGER);
      this.native.addDevice(index, fd, size, writable, invalidate);
    } finally {
      if (opened) fs.closeSync(fd);
    }
  }

  /** Start the session fd's thread. The rest follows from the INIT reply (see the module comment). */
  start(): void {
    if (this.started) throw new Error('FuseQueues: already started');
    this.started = true;
    this.native.start(
      (queue, token, ab) => this.deliver(queue, token, ab),
      (info) => this.finish(endOf(info)),
    );
  }

  /**
   * Publish (or replace) the run table of open handle `fh`: from now on the
   * queues answer READ (and WRITE when `writable`) on it. Returns the
   * table's generation (increasing per FuseQueues).
   */
  publish(fh: bigint, table: RunTable): number {
    checkU64('fh', fh);
    const runs = packRuns(table);
    return this.native.publish(fh, table.nodeid, table.size, table.writable, runs);
  }

  /** Withdraw the table of `fh`: later READ/WRITE on it go to JS. True when there was one. */
  withdraw(fh: bigint): boolean {
    checkU64('fh', fh);
    return this.native.withdraw(fh);
  }

  /**
   * Answer a request handed to JS: `parts` are the whole reply, fuse_out_header
   * first. True when delivered (for io_uring: queued for its ring's thread to
   * commit); false when nobody waits any more. Throws a NativeError when the
   * channel refuses the reply; the token then stays valid.
   */
  reply(token: number, parts: readonly Uint8Array[]): boolean {
    checkInt('token', token, 1, Number.MAX_SAFE_INTEGER);
    return this.native.reply(token, checkParts(parts));
  }

  /** A request that gets no reply (FORGET, BATCH_FORGET, INTERRUPT). False for an unknown or used token. */
  noReply(token: number): boolean {
    checkInt('token', token, 1, Number.MAX_SAFE_INTEGER);
    return this.native.noReply(token);
  }

  /**
   * Stop: wake and join every thread, close the fds the queues opened, unmap
   * the devices. Idempotent; returns how the queues ended.
   */
  stop(): QueuesEnd {
    if (!this.end) {
      this.native.stop();
      this.finish({ reason: 'stopped' });
    }
    return this.end as QueuesEnd;
  }

  /** Per-queue counters: native-answered READ/WRITE and bytes, requests handed to JS, … */
  stats(): QueueStats[] {
    return this.native.stats();
  }

  /** Which channel is in use ('init' until the INIT reply), state, threads alive, setup errors. */
  info(): QueuesInfo {
    return this.native.info();
  }

  private finish(end: QueuesEnd): void {
    if (this.end) return;
    this.end = end;
    this.resolveClosed?.(end);
  }

  private deliver(queue: number, token: number, ab: ArrayBuffer): void {
    const bytes = new Uint8Array(ab);
    try {
      this.onRequest({ queue, token, bytes });
    } catch (e) {
      process.emitWarning(`famfs: FUSE request handler failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      this.answerFailed(token, bytes);
    }
  }

  /** After a handler threw: EIO if the request still waits for an answer. */
  private answerFailed(token: number, bytes: Uint8Array): void {
    if (bytes.length < 16) {
      this.native.noReply(token);
      return;
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (NO_REPLY.has(dv.getUint32(4, true))) {
      this.native.noReply(token);
      return;
    }
    const out = new Uint8Array(16);
    const o = new DataView(out.buffer);
    o.setUint32(0, 16, true);
    o.setInt32(4, -EIO, true);
    o.setBigUint64(8, dv.getBigUint64(8, true), true);
    try {
      this.native.reply(token, [out]);
    } catch {
      this.native.noReply(token);
    }
  }
}

/** The possible CPUs: how many io_uring queues the kernel makes for a connection. */
export function possibleCpus(): number {
  return loadNative().possibleCpus();
}

/** The fuse module's enable_uring: true/false, or undefined when the kernel has no such parameter. */
export function uringParameter(): boolean | undefined {
  let s: string;
  try {
    s = fs.readFileSync(URING_PARAMETER, 'utf8').trim();
  } catch {
    return undefined;
  }
  return s === 'Y' || s === '1';
}

/**
 * Set the fuse module's enable_uring (root). Returns the previous value.
 * It is global to the machine: whoever turns it on restores it.
 */
export function setUringParameter(on: boolean): boolean {
  checkBool('on', on);
  const before = uringParameter();
  if (before === undefined) {
    const e = new Error(`ENOENT: no such file or directory, open '${URING_PARAMETER}'`) as NativeError;
    e.code = 'ENOENT';
    e.errno = 2;
    e.syscall = 'open';
    e.path = URING_PARAMETER;
    throw e;
  }
  if (before !== on) fs.writeFileSync(URING_PARAMETER, on ? 'Y' : 'N');
  return before;
}
