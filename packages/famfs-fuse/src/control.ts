import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Errno, FamfsError, type FmapRecord, type SimpleExtent, errnoNameOf, fromSystemError } from '@famfs/core';
import type * as protobuf from 'protobufjs';

/**
 * The mount daemon's control socket: a root-only unix socket speaking the
 * protobuf schema in famfs-control.proto, one request per connection.
 */

// This module runs as src/control.ts (tests) and dist/control.js: the schema
// is one level up in both cases.
const PROTO_PATH = fileURLToPath(new URL('../famfs-control.proto', import.meta.url));

export interface StatusInfo {
  pid: number;
  device: string;
  mountpoint: string;
  role: string;
  systemUuid: string;
  fsUuid: string;
  logEntries: number;
  logCapacity: number;
  files: number;
  directories: number;
  requests: number;
  requestErrors: number;
  bytesRead: number;
  bytesWritten: number;
  rssBytes: number;
  inodesRemembered: number;
  protocolProfile: string;
  daxFmap: boolean;
  /** 'famfs-dax': the kernel maps files onto the device (GET_FMAP); 'read-write': data through the daemon */
  dataPath: string;
  /** the dax device is bound to fsdev_dax by this daemon */
  famfsModeDevice: boolean;
  /** the superblock and log are read through the mount's .meta files (famfs mode) */
  metaLive: boolean;
  /** requests by operation */
  ops: Record<string, number>;
  /** how requests reach the daemon: 'js' (its event loop), 'clone' (native cloned channels), 'uring' */
  channel: string;
  /** the native queues' counts, one per channel */
  queues: Array<{ queue: number; kind: string; nativeReads: number; nativeWrites: number; toJs: number; readBytes: number; writeBytes: number }>;
  cache: string;
  logLevel: string;
  /** the kernel negotiated fuse-iomap */
  iomap: boolean;
  /** the DAX window, when the mount has one (-o dax_window=SIZE) */
  daxWindow?: DaxWindowInfo;
}

/** The DAX window in `famfs status` (see DaxWindowStat in famfs-control.proto). */
export interface DaxWindowInfo {
  size: number;
  alignShift: number;
  mappedBytes: number;
  mappings: number;
  setups: number;
  removes: number;
  failures: number;
  /** where a VMM connects for the window's memfd and device fds (SOCK_SEQPACKET, SCM_RIGHTS) */
  socket: string;
  vmms: number;
}

export interface RefreshInfo {
  entries: number;
  files: number;
  directories: number;
  problems: number;
}

export interface FileInfo {
  path: string;
  size: number;
  created: boolean;
  /** the file's map (getMap only) */
  fmap?: FmapRecord;
}

/** Unset optional fields take the daemon's defaults (see famfs-control.proto). */
export interface CreateFileRequest {
  path: string;
  size: number;
  mode?: number;
  uid?: number;
  gid?: number;
  nstrips?: number;
  nbuckets?: number;
  chunkSize?: number;
  /** a simple file on this daxdev */
  device?: number;
}

/** One device in `famfs daxdev` of a mount. */
export interface DaxdevEntry {
  index: number;
  uuid: string;
  size: number;
  /** on the daemon's host; '' when not found there */
  path: string;
  problem: string;
  allocated: number;
}

export interface MkdirRequest {
  path: string;
  mode?: number;
  uid?: number;
  gid?: number;
  parents?: boolean;
}

export interface FlushRequest {
  path: string;
  invalidate?: boolean;
}

export type ControlRequest =
  | { status: Record<string, never> }
  | { refresh: Record<string, never> }
  | { createFile: CreateFileRequest }
  | { mkdir: MkdirRequest }
  | { flush: FlushRequest }
  | { setLogLevel: { level: string } }
  | { getMap: { path: string } }
  | { clone: { src: string; dest: string } }
  | { release: Record<string, never> }
  | { addDaxdev: { path: string; force: boolean } }
  | { daxdevs: { retry: boolean } };

export interface ControlResponse {
  errno: number;
  error: string;
  status?: StatusInfo;
  refresh?: RefreshInfo;
  file?: FileInfo;
  daxdevs?: { daxdevs: DaxdevEntry[] };
}

/** What the daemon does for each request; a thrown FamfsError becomes an errno response. */
export interface ControlHandlers {
  status(): StatusInfo;
  refresh(): RefreshInfo;
  createFile(r: CreateFileRequest): FileInfo;
  mkdir(r: MkdirRequest): void;
  flush(r: FlushRequest): void;
  setLogLevel(level: string): void;
  getMap(path: string): FileInfo;
  clone(r: { src: string; dest: string }): FileInfo;
  /** let go of the mount's meta files (famfs mode), so that it can be unmounted */
  release(): void;
  /** famfs devadd of a mounted master: the table after the add */
  addDaxdev(r: { path: string; force: boolean }): DaxdevEntry[];
  /** famfs daxdev of a mount */
  daxdevs(r: { retry: boolean }): DaxdevEntry[];
}

// ------------------------------------------------------------ fmap messages

interface ExtentMsg {
  devindex: number;
  offset: number;
  len: number;
}

/** The Fmap message as protobufjs's plain objects give it (oneof `map` names the member set). */
interface FmapMsg {
  map?: 'simple' | 'interleaved';
  simple?: { extents?: ExtentMsg[] } | null;
  interleaved?: { extents?: Array<{ nstrips: number; chunkSize: number; strips?: ExtentMsg[] }> } | null;
}

const toExtentMsg = (x: SimpleExtent): ExtentMsg => ({ devindex: x.devIndex, offset: x.offset, len: x.len });
const fromExtentMsg = (x: ExtentMsg): SimpleExtent => ({ devIndex: x.devindex, offset: x.offset, len: x.len });

function fmapToMsg(m: FmapRecord): FmapMsg {
  return m.type === 'simple'
    ? { simple: { extents: m.extents.map(toExtentMsg) } }
    : { interleaved: { extents: m.extents.map((ie) => ({ nstrips: ie.nstrips, chunkSize: ie.chunkSize, strips: ie.strips.map(toExtentMsg) })) } };
}

function fmapFromMsg(m: FmapMsg | null | undefined): FmapRecord | undefined {
  if (!m || m.map === undefined) return undefined;
  if (m.map === 'simple') return { type: 'simple', extents: (m.simple?.extents ?? []).map(fromExtentMsg) };
  return {
    type: 'interleave',
    extents: (m.interleaved?.extents ?? []).map((ie) => ({ nstrips: ie.nstrips, chunkSize: ie.chunkSize, strips: (ie.strips ?? []).map(fromExtentMsg) })),
  };
}

interface Schema {
  Request: protobuf.Type;
  Response: protobuf.Type;
}

let schema: Schema | undefined;
function loadSchema(): Schema {
  if (schema) return schema;
  // protobufjs is loaded here, at the first control request, not with this
  // module: every CLI command imports it, few talk to a daemon (start-up time)
  const pb = createRequire(import.meta.url)('protobufjs') as typeof protobuf;
  const root = pb.loadSync(PROTO_PATH);
  schema = { Request: root.lookupType('famfs.control.Request'), Response: root.lookupType('famfs.control.Response') };
  return schema;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, defaults: true, oneofs: true };

/** Largest request accepted (a request is a few hundred bytes). */
const MAX_REQUEST = 64 * 1024;

function respond(s: Schema, r: ControlResponse): Uint8Array {
  const wire = r.file?.fmap === undefined ? r : { ...r, file: { ...r.file, fmap: fmapToMsg(r.file.fmap) } };
  return s.Response.encodeDelimited(s.Response.fromObject(wire)).finish();
}

function handle(h: ControlHandlers, req: Record<string, unknown>): ControlResponse {
  const ok: ControlResponse = { errno: 0, error: '' };
  switch (req.op) {
    case 'status':
      return { ...ok, status: h.status() };
    case 'refresh':
      return { ...ok, refresh: h.refresh() };
    case 'createFile':
      return { ...ok, file: h.createFile(req.createFile as CreateFileRequest) };
    case 'mkdir':
      h.mkdir(req.mkdir as MkdirRequest);
      return ok;
    case 'flush':
      h.flush(req.flush as FlushRequest);
      return ok;
    case 'setLogLevel':
      h.setLogLevel((req.setLogLevel as { level: string }).level);
      return ok;
    case 'getMap':
      return { ...ok, file: h.getMap((req.getMap as { path: string }).path) };
    case 'clone':
      return { ...ok, file: h.clone(req.clone as { src: string; dest: string }) };
    case 'release':
      h.release();
      return ok;
    case 'addDaxdev':
      return { ...ok, daxdevs: { daxdevs: h.addDaxdev(req.addDaxdev as { path: string; force: boolean }) } };
    case 'daxdevs':
      return { ...ok, daxdevs: { daxdevs: h.daxdevs(req.daxdevs as { retry: boolean }) } };
    default:
      throw new FamfsError('EINVAL', 'control', 'control: empty or unknown request');
  }
}

/**
 * Remove a stale socket at `path` (a daemon killed with SIGKILL leaves one);
 * anything else there — a symlink, a file — is refused, never removed or
 * followed.
 */
function removeStaleSocket(path: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fromSystemError(e, 'control', path);
  }
  if (!st.isSocket()) throw new FamfsError('EEXIST', 'control', `control: refusing ${path}: it is not a socket (${st.isSymbolicLink() ? 'a symbolic link' : 'something else'}); remove it`, path);
  fs.rmSync(path, { force: true });
}

/**
 * Listen on `path` (replacing a stale socket), readable and writable by its
 * owner (root) only. Each connection carries one request and gets one response.
 */
export function startControlServer(path: string, handlers: ControlHandlers, onError: (e: unknown) => void = () => {}): Promise<net.Server> {
  const s = loadSchema();
  removeStaleSocket(path);
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > MAX_REQUEST) return void sock.destroy();
      let req: Record<string, unknown>;
      try {
        req = s.Request.toObject(s.Request.decodeDelimited(buf), TO_OBJECT);
      } catch (e) {
        if (e instanceof RangeError) return; // incomplete: wait for more bytes
        return void sock.end(respond(s, { errno: Errno.EINVAL, error: `control: malformed request: ${(e as Error).message}` }));
      }
      let res: ControlResponse;
      try {
        res = handle(handlers, req);
      } catch (e) {
        if (e instanceof FamfsError) res = { errno: e.errno, error: e.message };
        else {
          onError(e);
          res = { errno: Errno.EIO, error: `control: internal error: ${(e as Error).message}` };
        }
      }
      sock.end(respond(s, res));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // The umask makes bind(2) create the socket 0600: it is never accessible
    // to others, even briefly, and needs no chmod afterwards (chmod follows
    // symlinks; bind never does — it fails if anything is at the path). The
    // bind happens synchronously inside listen(), so the umask is restored
    // right after it.
    const old = process.umask(0o177);
    server.listen(path, () => {
      server.off('error', reject);
      resolve(server);
    });
    process.umask(old);
  });
}

/** How a connection to a daemon fails, in words (the code stays in the message for searching). */
const CONNECT_FAILURES: Partial<Record<string, string>> = {
  ENOENT: 'ENOENT: its control socket is missing',
  ECONNREFUSED: 'ECONNREFUSED: nothing listens on its control socket',
  EPIPE: 'EPIPE: it closed the connection without an answer',
  ECONNRESET: 'ECONNRESET: it closed the connection without an answer',
};

/** The daemon is gone or mute: one line that says so, of kind 'daemon'. */
function daemonGone(path: string, what: string): FamfsError {
  return new FamfsError('ENOTCONN', 'control', `the famfs daemon is not answering (${what}; socket ${path}): is the file system still mounted?`, { path, kind: 'daemon' });
}

/**
 * Send one request to a daemon's control socket. A daemon-side failure is
 * thrown as the FamfsError it was (its errno); a daemon that cannot be
 * reached, hangs up without answering (it died) or does not answer in time is
 * ENOTCONN of kind 'daemon'.
 */
export function controlRequest(path: string, req: ControlRequest, timeoutMs = 30_000): Promise<ControlResponse> {
  const s = loadSchema();
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(daemonGone(path, `no answer in ${timeoutMs / 1000} s`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(s.Request.encodeDelimited(s.Request.fromObject(req)).finish()));
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      const code = (e as NodeJS.ErrnoException).code;
      reject(daemonGone(path, code === undefined ? e.message : (CONNECT_FAILURES[code] ?? code)));
    });
    sock.on('end', () => {
      clearTimeout(timer);
      if (buf.length === 0) return reject(daemonGone(path, 'it closed the connection without an answer'));
      let res: ControlResponse & { file?: FileInfo & { fmap?: unknown } };
      try {
        res = s.Response.toObject(s.Response.decodeDelimited(buf), TO_OBJECT) as typeof res;
      } catch (e) {
        return reject(daemonGone(path, `a cut-off or malformed answer: ${(e as Error).message}`));
      }
      if (res.errno !== 0) {
        return reject(new FamfsError(errnoNameOf(res.errno) ?? 'EIO', 'control', res.error));
      }
      if (res.file) res.file = { ...res.file, fmap: fmapFromMsg(res.file.fmap as FmapMsg | null) };
      resolve(res);
    });
  });
}
