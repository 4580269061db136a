import * as nodefs from 'node:fs';
import * as path from 'node:path';
import {
  type CreateOptions, Famfs, FamfsError, type FmapRecord, type MkdirOptions, normalize,
} from '@famfs/core';
import { controlRequest, daemonFiles, famfsMountOf } from '@famfs/fuse';
import { deviceOf, type GlobalOptions, systemUuidOf } from './context.js';
import type { CliIo } from './io.js';

/**
 * Where a command's files live: an unmounted device opened directly
 * (`-D`), or a mounted famfs, where metadata changes go through the mount
 * daemon's control socket (one process owns the log while mounted) and data
 * goes through the mount. Commands are written once, against this.
 */
export interface Backend {
  /** absolute mount point, or the device path */
  readonly where: string;
  /** path inside the file system ('' = root) for a path as the user gave it */
  rel(p: string): string;
  /** what the user should see for a relative path */
  display(rel: string): string;
  lookup(rel: string): Promise<{ kind: 'file' | 'dir'; size: number } | undefined>;
  mkdir(rel: string, opts: MkdirOptions): Promise<void>;
  createFile(rel: string, size: number, opts: CreateOptions): Promise<{ created: boolean; size: number }>;
  /**
   * Write the whole file front to back: `fill` gets successive buffers (every
   * one but the last a multiple of 4 bytes) and their file offsets.
   */
  writeAll(rel: string, fill: (buf: Uint8Array, fileOffset: number) => void): Promise<void>;
  /** Copy a whole file from `fd` inside the kernel if the backend can; false: use writeAll. */
  copyFromFd(rel: string, fd: number): Promise<boolean>;
  /** Read the whole file front to back; returning false stops. */
  readAll(rel: string, fn: (buf: Uint8Array, fileOffset: number) => boolean | void): Promise<void>;
  getmap(rel: string): Promise<{ relpath: string; size: number; fmap: FmapRecord }>;
  /** Write back this host's cached lines over a file (or, with `invalidate`, drop them to see what another host wrote). */
  flush(rel: string, invalidate?: boolean): Promise<void>;
  close(): void;
}

class DeviceBackend implements Backend {
  constructor(readonly fs: Famfs) {}

  get where(): string {
    return this.fs.dev.path;
  }

  rel(p: string): string {
    return normalize(p);
  }

  display(rel: string): string {
    return rel;
  }

  async lookup(rel: string) {
    const n = this.fs.namespace.lookup(rel);
    return n === undefined ? undefined : { kind: n.kind, size: n.kind === 'file' ? n.size : 0 };
  }

  async mkdir(rel: string, opts: MkdirOptions): Promise<void> {
    this.fs.mkdir(rel, opts);
  }

  async createFile(rel: string, size: number, opts: CreateOptions) {
    const r = this.fs.createFile(rel, size, opts);
    return { created: r.created, size: r.file.size };
  }

  async writeAll(rel: string, fill: (buf: Uint8Array, off: number) => void): Promise<void> {
    this.fs.fillFile(this.fs.statFile(rel), fill);
  }

  async copyFromFd(rel: string, fd: number): Promise<boolean> {
    return this.fs.copyFileFromFd(this.fs.statFile(rel), fd);
  }

  async readAll(rel: string, fn: (buf: Uint8Array, off: number) => boolean | void): Promise<void> {
    const file = this.fs.statFile(rel);
    this.fs.readEach(file, 0, file.size, fn);
  }

  async getmap(rel: string) {
    const f = this.fs.statFile(rel);
    return { relpath: f.relpath, size: f.size, fmap: f.fmap };
  }

  async flush(rel: string, invalidate = false): Promise<void> {
    const f = this.fs.statFile(rel);
    if (invalidate) this.fs.invalidateFile(f);
    else this.fs.flushFile(f);
  }

  close(): void {
    this.fs.close();
  }
}

/** I/O through a mount in 8 MiB pieces. */
const MOUNT_IO = 8 * 1024 * 1024;

class MountBackend implements Backend {
  constructor(
    readonly where: string,
    private readonly socket: string,
  ) {}

  rel(p: string): string {
    const abs = path.resolve(p);
    if (abs !== this.where && !abs.startsWith(`${this.where}/`)) {
      throw new FamfsError('EXDEV', 'path', `${p} is not in the famfs mount at ${this.where}`, p);
    }
    return normalize(abs.slice(this.where.length));
  }

  display(rel: string): string {
    return rel === '' ? this.where : `${this.where}/${rel}`;
  }

  async lookup(rel: string) {
    try {
      const st = nodefs.statSync(this.display(rel));
      return { kind: st.isDirectory() ? ('dir' as const) : ('file' as const), size: st.size };
    } catch {
      return undefined;
    }
  }

  async mkdir(rel: string, opts: MkdirOptions): Promise<void> {
    await controlRequest(this.socket, { mkdir: { path: rel, mode: opts.mode, uid: opts.uid, gid: opts.gid, parents: opts.parents } });
  }

  async createFile(rel: string, size: number, opts: CreateOptions) {
    const il = opts.interleave;
    const r = await controlRequest(this.socket, {
      createFile: {
        path: rel, size, mode: opts.mode, uid: opts.uid, gid: opts.gid,
        nstrips: il?.nstrips, nbuckets: il?.nbuckets, chunkSize: il?.chunkSize,
      },
    });
    return { created: r.file?.created ?? false, size: r.file?.size ?? size };
  }

  async writeAll(rel: string, fill: (buf: Uint8Array, off: number) => void): Promise<void> {
    const p = this.display(rel);
    const size = nodefs.statSync(p).size;
    // 'r+': famfs refuses O_TRUNC, and the file already has its size
    const fd = nodefs.openSync(p, 'r+');
    const buf = new Uint8Array(Math.min(MOUNT_IO, Math.max(size, 1)));
    try {
      for (let off = 0; off < size; ) {
        const piece = buf.subarray(0, Math.min(buf.length, size - off));
        fill(piece, off);
        for (let done = 0; done < piece.length; ) done += nodefs.writeSync(fd, piece, done, piece.length - done, off + done);
        off += piece.length;
      }
      nodefs.fsyncSync(fd);
    } finally {
      nodefs.closeSync(fd);
    }
  }

  async copyFromFd(): Promise<boolean> {
    return false;
  }

  async readAll(rel: string, fn: (buf: Uint8Array, off: number) => boolean | void): Promise<void> {
    const p = this.display(rel);
    const fd = nodefs.openSync(p, 'r');
    const buf = new Uint8Array(MOUNT_IO);
    try {
      for (let off = 0; ; ) {
        const n = nodefs.readSync(fd, buf, 0, buf.length, off);
        if (n === 0) return;
        if (fn(buf.subarray(0, n), off) === false) return;
        off += n;
      }
    } finally {
      nodefs.closeSync(fd);
    }
  }

  async getmap(rel: string) {
    const f = (await controlRequest(this.socket, { getMap: { path: rel } })).file;
    if (f?.fmap === undefined) throw new FamfsError('EPROTO', 'getmap', `getmap: the famfs daemon sent no map for ${this.display(rel)}`);
    return { relpath: f.path, size: f.size, fmap: f.fmap };
  }

  async flush(rel: string, invalidate = false): Promise<void> {
    await controlRequest(this.socket, { flush: { path: rel, invalidate } });
  }

  close(): void {}
}

/**
 * The backend for a command: `-D`/$FAMFS_DEVICE means the unmounted device;
 * otherwise `paths` must lie in one famfs mount.
 */
export function openBackend(io: CliIo, g: GlobalOptions, op: string, paths: readonly string[], writable: boolean): Backend {
  if (g.device !== undefined || (io.env.FAMFS_DEVICE ?? '') !== '') {
    return new DeviceBackend(Famfs.open(deviceOf(io, g, op), { writable, systemUuid: systemUuidOf(io, g) }));
  }
  const first = paths[0];
  const m = first === undefined ? undefined : famfsMountOf(first);
  if (m === undefined) {
    throw new FamfsError('EINVAL', op, `${op}: ${first ?? '(no path)'} is not in a mounted famfs file system (for an unmounted device: famfs -D <device> ${op} …)`, first);
  }
  const b = new MountBackend(m.target, daemonFiles(m.target).socket);
  for (const p of paths) b.rel(p);
  return b;
}

export async function withBackend<T>(io: CliIo, g: GlobalOptions, op: string, paths: readonly string[], writable: boolean, fn: (b: Backend) => Promise<T>): Promise<T> {
  const b = openBackend(io, g, op, paths, writable);
  try {
    return await fn(b);
  } finally {
    b.close();
  }
}
