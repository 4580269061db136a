/**
 * Loads the famfs native addon (build/Release/famfs_native.node) on first
 * use, and describes what it exports. Argument checks are the job of the
 * wrappers (index.ts, fuse-queues.ts), never of this module.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { CacheFlushMethod, DeviceInfo, FlockOp } from './index.js';

/** The raw addon; argument checks are the wrapper's job. */
export interface Binding {
  mmap(fd: number, offset: number, length: number, writable: boolean): ArrayBuffer;
  munmap(buffer: ArrayBuffer): void;
  msync(buffer: ArrayBuffer, offset: number, length: number, sync: boolean): void;
  flushRange(buffer: ArrayBuffer, offset: number, length: number): void;
  invalidateRange(buffer: ArrayBuffer, offset: number, length: number): void;
  cacheFlushMethod(): CacheFlushMethod;
  cacheLineSize(): number;
  pageSize(): number;
  flock(fd: number, op: FlockOp, nonblock: boolean): boolean;
  deviceInfo(path: string): DeviceInfo;
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  umount2(target: string, flags: number): void;
  socketpairSeqpacket(): [number, number];
  copyFileRange(fdIn: number, offIn: number, fdOut: number, offOut: number, len: number): number;
  pollStart(fd: number, callback: (status: number) => void): number;
  pollStop(id: number): void;
  setNonblock(fd: number, on: boolean): void;
  liveMappingCount(): number;
  maxMapLength: number;
  FuseQueues: new (fd: number, clones: number, queueDepth: number, pinQueues: boolean, maxWrite: number) => NativeFuseQueues;
  possibleCpus(): number;
  memfdCreate(name: string, size: number): number;
  windowReserve(length: number, align: number, fd: number): number;
  windowMap(id: number, offset: number, length: number, fd: number, fdOffset: number, writable: boolean): void;
  windowUnmap(id: number, offset: number, length: number): void;
  windowProbe(id: number, offsets: Float64Array, segLen: number, dst: ArrayBuffer, status: ArrayBuffer, writeBack: boolean): void;
  windowRelease(id: number): void;
  windowBase(id: number): number;
  liveWindowCount(): number;
  sendFds(sock: number, buffer: ArrayBuffer, offset: number, length: number, fds: number[]): number;
  recvFds(sock: number, buffer: ArrayBuffer, offset: number, length: number, maxFds: number): { bytes: number; fds: number[] } | null;
  seqpacketListen(path: string, backlog: number): number;
  seqpacketAccept(fd: number): number;
  seqpacketConnect(path: string): number;
  fuseBackingOpen(fuseFd: number, fd: number, flags: number): number;
  fuseBackingClose(fuseFd: number, id: number): void;
  crc32Records(buffer: ArrayBuffer, byteOffset: number, count: number, stride: number, crcLen: number, fold: boolean): Uint32Array;
  crc32(buffer: ArrayBuffer, byteOffset: number, length: number, fold: boolean): number;
  crcFoldAvailable(): boolean;
  populateForRead(buffer: ArrayBuffer, byteOffset: number, length: number): void;
  checkFileEntries(
    log: ArrayBuffer, byteOffset: number, byteLength: number, first: number, end: number, geometry: Float64Array,
    dirs: Int32Array, files: Int32Array, room: number, claims: Uint8Array, acc: Float64Array,
  ): number;
}

/** What the addon's FuseQueues object does; fuse-queues.ts wraps it. */
export interface NativeFuseQueues {
  addDevice(index: number, fd: number, size: number, writable: boolean, invalidateOnRead: boolean): void;
  start(onRequest: (queue: number, token: number, bytes: ArrayBuffer) => void, onEnd: (info: NativeQueuesEnd) => void): void;
  publish(fh: bigint, nodeid: bigint, size: number, writable: boolean, runs: Float64Array): number;
  withdraw(fh: bigint): boolean;
  reply(token: number, parts: readonly Uint8Array[]): boolean;
  noReply(token: number): boolean;
  stop(): void;
  stats(): NativeQueueStats[];
  info(): NativeQueuesInfo;
}

export interface NativeQueuesEnd {
  reason: 'unmounted' | 'stopped' | 'error';
  errno?: number;
  code?: string;
  syscall?: string;
}

export interface NativeQueueStats {
  queue: number;
  kind: 'main' | 'clone' | 'uring';
  running: boolean;
  nativeReads: number;
  nativeWrites: number;
  readBytes: number;
  writeBytes: number;
  nativeErrors: number;
  toJs: number;
  malformed: number;
  failures: number;
}

export interface NativeQueuesInfo {
  channel: 'init' | 'uring-starting' | 'uring' | 'clone';
  state: 'new' | 'running' | 'stopping' | 'closed';
  liveThreads: number;
  pendingReplies: number;
  publishedHandles: number;
  uringPayloadSize: number;
  setupErrors: string[];
}

// ---------------------------------------------------------------------------
// Loader

// This file runs as native/src/index.ts (vitest) and as native/dist/index.js
// (compiled): both are one level below native/.
const BUILT_ADDON = fileURLToPath(new URL('../build/Release/famfs_native.node', import.meta.url));
const BUILD_HINT = 'run `make build` in a famfs-ts checkout, or `npm rebuild @famfs/native` where it was installed';

let binding: Binding | undefined;

/** The `code` of what loadNative throws when the addon is missing or does not load (an installation problem, not a bug). */
export const NATIVE_ADDON_ERROR = 'ERR_FAMFS_NATIVE_ADDON';

function addonError(message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code: NATIVE_ADDON_ERROR });
}

/**
 * Where the addon is: $FAMFS_NATIVE_ADDON when set (a famfs_native.node built
 * elsewhere, as better-sqlite3's nativeBinding), else this package's build.
 */
export function addonPath(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.FAMFS_NATIVE_ADDON;
  return override !== undefined && override !== '' ? override : BUILT_ADDON;
}

/** Loads the addon on first use; throws an actionable Error when it is not built. */
export function loadNative(): Binding {
  if (binding) return binding;
  const file = addonPath();
  const overridden = file !== BUILT_ADDON;
  if (!fs.existsSync(file)) {
    throw addonError(
      overridden
        ? `famfs native addon not found: FAMFS_NATIVE_ADDON=${file} does not exist`
        : `famfs native addon is not built (${file} missing): ${BUILD_HINT}`,
    );
  }
  try {
    binding = createRequire(import.meta.url)(file) as Binding;
  } catch (e) {
    throw addonError(
      `famfs native addon failed to load (${file}${overridden ? ', from FAMFS_NATIVE_ADDON' : ''}): ${(e as Error).message}; rebuild it: ${BUILD_HINT}`,
      e,
    );
  }
  return binding;
}

