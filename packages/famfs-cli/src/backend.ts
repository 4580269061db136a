import * as nodefs from 'node:fs';
import * as native from '@famfs/native';
import {
  type CreateOptions, Famfs, FamfsError, type FileNode, type FmapRecord, type FsNode, META_DIR, META_FILES, type MkdirOptions,
  fromSystemError, normalize,
} from '@famfs/core';
import { controlRequest, daemonFiles, famfsMountOf, realPath } from '@famfs/fuse';
import { deviceOf, type GlobalOptions, systemUuidOf } from './context.js';
import type { CliIo } from './io.js';

/** A file or directory as a command sees it, on a device or through a mount. */
export interface Entry {
  /** path inside the file system ('' = root) */
  rel: string;
  kind: 'file' | 'dir';
  size: number;
  /** permission bits */
  mode: number;
  uid: number;
  gid: number;
}

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
  /** The entry at `rel` (the meta files included), or undefined when there is none. */
  lookup(rel: string): Promise<Entry | undefined>;
  /** The entries of directory `rel` in name order; with `recursive`, depth first (each directory followed by its tree). */
  list(rel: string, recursive: boolean): Promise<Entry[]>;
  mkdir(rel: string, opts: MkdirOptions): Promise<void>;
  createFile(rel: string, size: number, opts: CreateOptions): Promise<{ created: boolean; size: number }>;
  /**
   * Write the whole file front to back: `fill` gets successive buffers (every
   * one but the last a multiple of 4 bytes) and their file offsets.
   */
  writeAll(rel: string, fill: (buf: Uint8Array, fileOffset: number) => void): Promise<void>;
  /** Copy a whole file from `fd` inside the kernel if the backend can (telling `progress` the bytes done); false: use writeAll. */
  copyFromFd(rel: string, fd: number, progress?: (bytesDone: number) => void): Promise<boolean>;
  /** Read the whole file front to back; returning false stops. */
  readAll(rel: string, fn: (buf: Uint8Array, fileOffset: number) => boolean | void): Promise<void>;
  getmap(rel: string): Promise<{ relpath: string; size: number; fmap: FmapRecord }>;
  /** Write back this host's cached lines over a file (or, with `invalidate`, drop them to see what another host wrote). */
  flush(rel: string, invalidate?: boolean): Promise<void>;
  /** (testing) log `dest` as a second file with `src`'s map. */
  clone(src: string, dest: string): Promise<void>;
  /** A whole file read twice: through a memory mapping, and with read(2) (`famfs chkread`). */
  readTwice(rel: string): Promise<{ mapped: Uint8Array; read: Uint8Array }>;
  close(): void;
}

function entryOf(n: FsNode | FileNode): Entry {
  return { rel: n.relpath, kind: n.kind, size: n.kind === 'file' ? n.size : 0, mode: n.mode, uid: n.uid, gid: n.gid };
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

  async lookup(rel: string): Promise<Entry | undefined> {
    if (rel === META_DIR) return { rel, kind: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0 };
    if (rel === META_FILES.superblock || rel === META_FILES.log) return entryOf(this.fs.fileAt(rel));
    const n = this.fs.namespace.lookup(rel);
    return n === undefined ? undefined : entryOf(n);
  }

  async list(rel: string, recursive: boolean): Promise<Entry[]> {
    const n = this.fs.stat(rel);
    if (n.kind !== 'dir') throw new FamfsError('ENOTDIR', 'ls', `${rel}: not a directory`, rel);
    return recursive ? [...this.fs.namespace.walk(n)].map(entryOf) : this.fs.readdir(rel).map(entryOf);
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

  async copyFromFd(rel: string, fd: number, progress?: (bytesDone: number) => void): Promise<boolean> {
    return this.fs.copyFileFromFd(this.fs.statFile(rel), fd, progress);
  }

  async readAll(rel: string, fn: (buf: Uint8Array, off: number) => boolean | void): Promise<void> {
    const file = this.fs.fileAt(rel);
    this.fs.readEach(file, 0, file.size, fn);
  }

  async getmap(rel: string) {
    const f = this.fs.fileAt(rel);
    return { relpath: f.relpath, size: f.size, fmap: f.fmap };
  }

  async flush(rel: string, invalidate = false): Promise<void> {
    const f = this.fs.fileAt(rel);
    if (invalidate) this.fs.invalidateFile(f);
    else this.fs.flushFile(f);
  }

  async clone(src: string, dest: string): Promise<void> {
    this.fs.clone(src, dest);
  }

  /** The device mapping, and pread(2) of the device at the file's runs. */
  async readTwice(rel: string) {
    const file = this.fs.fileAt(rel);
    const mapped = this.fs.read(file);
    const read = new Uint8Array(file.size);
    let fd: number;
    try {
      fd = nodefs.openSync(this.fs.dev.path, 'r');
    } catch (e) {
      throw fromSystemError(e, 'chkread', this.fs.dev.path);
    }
    try {
      for (const r of this.fs.runs(file)) {
        for (let got = 0; got < r.len; ) {
          const n = nodefs.readSync(fd, read, r.fileOffset + got, r.len - got, r.offset + got);
          if (n === 0) break;
          got += n;
        }
      }
    } finally {
      nodefs.closeSync(fd);
    }
    return { mapped, read };
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
    const abs = realPath(p);
    if (abs !== this.where && !abs.startsWith(`${this.where}/`)) {
      throw new FamfsError('EXDEV', 'path', `${p} is not in the famfs mount at ${this.where}`, p);
    }
    return normalize(abs.slice(this.where.length));
  }

  display(rel: string): string {
    return rel === '' ? this.where : `${this.where}/${rel}`;
  }

  async lookup(rel: string): Promise<Entry | undefined> {
    let st: nodefs.Stats;
    try {
      st = nodefs.statSync(this.display(rel));
    } catch (e) {
      const err = fromSystemError(e, 'stat', this.display(rel));
      if (err.code === 'ENOENT') return undefined;
      throw err;
    }
    return { rel, kind: st.isDirectory() ? 'dir' : 'file', size: st.isDirectory() ? 0 : st.size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  }

  async list(rel: string, recursive: boolean): Promise<Entry[]> {
    const out: Entry[] = [];
    const walk = async (dir: string): Promise<void> => {
      let names: string[];
      try {
        names = nodefs.readdirSync(this.display(dir)).sort();
      } catch (e) {
        throw fromSystemError(e, 'ls', this.display(dir));
      }
      for (const name of names) {
        const child = dir === '' ? name : `${dir}/${name}`;
        const e = await this.lookup(child);
        if (e === undefined) continue; // gone since the listing
        out.push(e);
        if (recursive && e.kind === 'dir') await walk(child);
      }
    };
    await walk(rel);
    return out;
  }

  async mkdir(rel: string, opts: MkdirOptions): Promise<void> {
    await controlRequest(this.socket, { mkdir: { path: rel, mode: opts.mode, uid: opts.uid, gid: opts.gid, parents: opts.parents } });
  }

  async createFile(rel: string, size: number, opts: CreateOptions) {
    const il = opts.interleave;
    const r = await controlRequest(this.socket, {
      createFile: {
        path: rel, size, mode: opts.mode, uid: opts.uid, gid: opts.gid,
        nstrips: il?.nstrips, nbuckets: il?.nbuckets, chunkSize: il?.chunkSize, device: opts.device,
      },
    });
    return { created: r.file?.created ?? false, size: r.file?.size ?? size };
  }

  /** A system error of I/O through the mount, with the file it concerned (a dead daemon: ENOTCONN). */
  /** Open a file of the mount for reading; a failure is the CLI's one-line error. */
  private openForRead(p: string): number {
    try {
      return nodefs.openSync(p, 'r');
    } catch (e) {
      throw this.ioError(e, 'open', p);
    }
  }

  private ioError(e: unknown, op: string, p: string): FamfsError {
    return fromSystemError(e, op, p);
  }

  async writeAll(rel: string, fill: (buf: Uint8Array, off: number) => void): Promise<void> {
    const p = this.display(rel);
    let fd: number;
    let size: number;
    try {
      size = nodefs.statSync(p).size;
      // 'r+': famfs refuses O_TRUNC, and the file already has its size
      fd = nodefs.openSync(p, 'r+');
    } catch (e) {
      throw this.ioError(e, 'open', p);
    }
    const buf = new Uint8Array(Math.min(MOUNT_IO, Math.max(size, 1)));
    try {
      for (let off = 0; off < size; ) {
        const piece = buf.subarray(0, Math.min(buf.length, size - off));
        fill(piece, off);
        try {
          for (let done = 0; done < piece.length; ) done += nodefs.writeSync(fd, piece, done, piece.length - done, off + done);
        } catch (e) {
          throw this.ioError(e, 'write', p);
        }
        off += piece.length;
      }
      try {
        nodefs.fsyncSync(fd);
      } catch (e) {
        throw this.ioError(e, 'fsync', p);
      }
    } finally {
      try {
        nodefs.closeSync(fd);
      } catch {
        // the mount is gone: the error that matters was thrown above
      }
    }
  }

  async copyFromFd(): Promise<boolean> {
    return false;
  }

  async readAll(rel: string, fn: (buf: Uint8Array, off: number) => boolean | void): Promise<void> {
    const p = this.display(rel);
    const fd = this.openForRead(p);
    const buf = new Uint8Array(MOUNT_IO);
    try {
      for (let off = 0; ; ) {
        let n: number;
        try {
          n = nodefs.readSync(fd, buf, 0, buf.length, off);
        } catch (e) {
          throw this.ioError(e, 'read', p);
        }
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

  private dataPath: string | undefined;

  /**
   * Where file bytes are written back: in famfs mode the kernel maps files
   * onto the device and the daemon cannot reach their memory, so this
   * process maps the file and writes back (or drops) its cache lines itself,
   * as upstream's flush does; on a READ/WRITE mount the daemon's mapping of
   * the device holds the data, so the daemon does it.
   */
  async flush(rel: string, invalidate = false): Promise<void> {
    this.dataPath ??= (await controlRequest(this.socket, { status: {} })).status?.dataPath ?? 'read-write';
    if (this.dataPath !== 'famfs-dax') {
      await controlRequest(this.socket, { flush: { path: rel, invalidate } });
      return;
    }
    const p = this.display(rel);
    const fd = this.openForRead(p);
    try {
      const size = nodefs.fstatSync(fd).size;
      if (size === 0) return;
      const m = native.mmap(fd, 0, size, false);
      try {
        if (invalidate) native.invalidateRange(m);
        else native.flushRange(m);
      } finally {
        native.munmap(m);
      }
    } catch (e) {
      throw this.ioError(e, 'flush', p);
    } finally {
      nodefs.closeSync(fd);
    }
  }

  async clone(src: string, dest: string): Promise<void> {
    await controlRequest(this.socket, { clone: { src, dest } });
  }

  /** mmap(2) of the file in the mount, and read(2) of it. */
  async readTwice(rel: string) {
    const p = this.display(rel);
    let fd: number;
    try {
      fd = nodefs.openSync(p, 'r');
    } catch (e) {
      throw fromSystemError(e, 'chkread', p);
    }
    try {
      const size = nodefs.fstatSync(fd).size;
      const read = new Uint8Array(size);
      for (let got = 0; got < size; ) {
        const n = nodefs.readSync(fd, read, got, size - got, got);
        if (n === 0) break;
        got += n;
      }
      let mapped = new Uint8Array(0);
      if (size > 0) {
        const m = native.mmap(fd, 0, size, false);
        try {
          mapped = m.slice();
        } finally {
          native.munmap(m);
        }
      }
      return { mapped, read };
    } catch (e) {
      throw fromSystemError(e, 'chkread', p);
    } finally {
      nodefs.closeSync(fd);
    }
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
  // the mount the first path in a famfs mount lies in (commands that go on
  // after a bad path, as creat --multi does, report the others one by one)
  const m = paths.map((p) => famfsMountOf(p)).find((x) => x !== undefined);
  const first = paths[0];
  if (m === undefined) {
    throw new FamfsError('EINVAL', op, `${op}: ${first ?? '(no path)'} is not in a mounted famfs file system (for an unmounted device: famfs -D <device> ${op} …)`, first);
  }
  return new MountBackend(m.target, daemonFiles(m.target).socket);
}

export async function withBackend<T>(io: CliIo, g: GlobalOptions, op: string, paths: readonly string[], writable: boolean, fn: (b: Backend) => Promise<T>): Promise<T> {
  const b = openBackend(io, g, op, paths, writable);
  try {
    return await fn(b);
  } finally {
    b.close();
  }
}
