import * as fs from 'node:fs';
import { FamfsError, fromSystemError } from '@famfs/core';
import * as native from '@famfs/native';
import { type DaxWindow, WINDOW_UNIT, type WindowOp, type WindowUpdate } from './dax-window.js';
import type { Logger } from './log.js';

/**
 * Handing the DAX window to a VMM. A window is a reservation in the
 * daemon's address space plus a table of device ranges mapped into it (see
 * dax-window.ts): a memfd cannot alias a device's pages, so what a VMM needs
 * to show the same bytes is the device fds and the table. The channel gives
 * it exactly that, in the shape vhost-user's SHMEM_MAP/SHMEM_UNMAP use:
 *
 *  - a SOCK_SEQPACKET unix socket (root only, next to the control socket):
 *    Node's stream sockets cannot carry SCM_RIGHTS, and message boundaries
 *    keep each update whole;
 *  - on connect, a SNAPSHOT: the window's size and alignment, the devices,
 *    the current mappings, with the fds [window memfd, device fds…];
 *  - then one UPDATE per change, in order: map and unmap steps a mirror
 *    applies with MAP_FIXED (an existing mapping is only unmapped whole);
 *  - a VMM that falls behind (its socket buffer full) is disconnected and
 *    reconnects for a fresh snapshot; messages from the VMM are ignored.
 *
 * Wire format, little-endian. Every message starts with a 24-byte header:
 *   u32 magic 0x4e495746 ("FWIN") @0, u16 version 1 @4, u16 type @6
 *   (1 SNAPSHOT, 2 UPDATE), u64 generation @8, u32 count @16 (ops in this
 *   message), u32 flags @20 (bit 0 MORE: more messages of this generation
 *   follow).
 * SNAPSHOT continues with u64 window_size @24, u32 align_shift @32,
 *   u32 ndevices @36, u32 total_entries @40, u32 reserved @44, then
 *   ndevices × {u32 index, u32 flags (bit 0 writable)} and `count` ops;
 *   its fds are [memfd, one per device in the listed order].
 * UPDATE continues with `count` ops.
 * An op (40 bytes): u32 kind @0 (1 MAP, 2 UNMAP), u32 flags @4 (bit 0
 *   WRITE), u32 dev_index @8, u32 reserved @12, u64 moffset @16, u64 len
 *   @24, u64 dev_offset @32 (UNMAP: moffset and len only).
 */

export const WINDOW_MAGIC = 0x4e495746;
export const WINDOW_VERSION = 1;
export const WindowMsgType = { SNAPSHOT: 1, UPDATE: 2 } as const;
export const WindowOpKind = { MAP: 1, UNMAP: 2 } as const;
const HEADER = 24;
const SNAPSHOT_INFO = 24;
const DEVICE = 8;
const OP = 40;
const FLAG_MORE = 1;
/** ops per message: 80 KiB, well inside a unix socket's default send buffer (208 KiB) */
const OPS_PER_MESSAGE = 2048;
/** a receive buffer that holds any message this module sends (header, snapshot info, 253 devices, ops) */
export const WINDOW_MESSAGE_MAX = HEADER + SNAPSHOT_INFO + 253 * DEVICE + OPS_PER_MESSAGE * OP;

export interface HandoffDevice {
  index: number;
  writable: boolean;
}

/** A decoded channel message. */
export type WindowMessage =
  | {
      type: 'snapshot';
      generation: number;
      more: boolean;
      size: number;
      alignShift: number;
      devices: HandoffDevice[];
      totalEntries: number;
      ops: WindowOp[];
    }
  | { type: 'update'; generation: number; more: boolean; ops: WindowOp[] };

function putOp(dv: DataView, at: number, op: WindowOp): void {
  dv.setUint32(at, op.kind === 'map' ? WindowOpKind.MAP : WindowOpKind.UNMAP, true);
  dv.setUint32(at + 4, op.kind === 'map' && op.writable ? 1 : 0, true);
  dv.setUint32(at + 8, op.kind === 'map' ? op.devIndex : 0, true);
  dv.setBigUint64(at + 16, BigInt(op.moffset), true);
  dv.setBigUint64(at + 24, BigInt(op.len), true);
  dv.setBigUint64(at + 32, BigInt(op.kind === 'map' ? op.devOffset : 0), true);
}

function putHeader(dv: DataView, type: number, generation: number, count: number, more: boolean): void {
  dv.setUint32(0, WINDOW_MAGIC, true);
  dv.setUint16(4, WINDOW_VERSION, true);
  dv.setUint16(6, type, true);
  dv.setBigUint64(8, BigInt(generation), true);
  dv.setUint32(16, count, true);
  dv.setUint32(20, more ? FLAG_MORE : 0, true);
}

/** The snapshot of `window` as channel messages (the first carries the fds). */
export function encodeSnapshot(window: DaxWindow): Uint8Array[] {
  const devices = window.deviceList();
  const ops: WindowOp[] = window.entries().map((e) => ({ kind: 'map', moffset: e.moffset, len: e.len, devIndex: e.devIndex, devOffset: e.devOffset, writable: e.writable }));
  const first = ops.slice(0, OPS_PER_MESSAGE);
  const b = new Uint8Array(HEADER + SNAPSHOT_INFO + devices.length * DEVICE + first.length * OP);
  const dv = new DataView(b.buffer);
  putHeader(dv, WindowMsgType.SNAPSHOT, window.generation, first.length, ops.length > first.length);
  dv.setBigUint64(24, BigInt(window.size), true);
  dv.setUint32(32, window.alignShift, true);
  dv.setUint32(36, devices.length, true);
  dv.setUint32(40, ops.length, true);
  let at = HEADER + SNAPSHOT_INFO;
  for (const d of devices) {
    dv.setUint32(at, d.index, true);
    dv.setUint32(at + 4, d.writable ? 1 : 0, true);
    at += DEVICE;
  }
  for (const op of first) {
    putOp(dv, at, op);
    at += OP;
  }
  return [b, ...encodeOps(WindowMsgType.UPDATE, window.generation, ops.slice(OPS_PER_MESSAGE))];
}

/** An update as channel messages (split at OPS_PER_MESSAGE; all but the last say MORE). */
export function encodeUpdate(u: WindowUpdate): Uint8Array[] {
  return encodeOps(WindowMsgType.UPDATE, u.generation, u.ops);
}

function encodeOps(type: number, generation: number, ops: readonly WindowOp[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < ops.length; i += OPS_PER_MESSAGE) {
    const part = ops.slice(i, i + OPS_PER_MESSAGE);
    const b = new Uint8Array(HEADER + part.length * OP);
    const dv = new DataView(b.buffer);
    putHeader(dv, type, generation, part.length, i + OPS_PER_MESSAGE < ops.length);
    part.forEach((op, k) => putOp(dv, HEADER + k * OP, op));
    out.push(b);
  }
  return out;
}

function bad(what: string): FamfsError {
  return new FamfsError('EPROTO', 'window channel', `window channel: ${what}`);
}

function u64(dv: DataView, at: number, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`${what} ${v} exceeds 2^53-1`);
  return Number(v);
}

/** Decode one channel message; every length is checked against the bytes (EPROTO otherwise). */
export function decodeWindowMessage(b: Uint8Array): WindowMessage {
  if (b.length < HEADER) throw bad(`message of ${b.length} bytes is shorter than the ${HEADER}-byte header`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== WINDOW_MAGIC) throw bad('bad magic');
  if (dv.getUint16(4, true) !== WINDOW_VERSION) throw bad(`version ${dv.getUint16(4, true)} is not ${WINDOW_VERSION}`);
  const type = dv.getUint16(6, true);
  const generation = u64(dv, 8, 'generation');
  const count = dv.getUint32(16, true);
  const more = (dv.getUint32(20, true) & FLAG_MORE) !== 0;
  const readOps = (at: number): WindowOp[] => {
    if (at + count * OP !== b.length) throw bad(`${count} ops need ${at + count * OP} bytes, the message has ${b.length}`);
    const ops: WindowOp[] = [];
    for (let k = 0; k < count; k++, at += OP) {
      const kind = dv.getUint32(at, true);
      const moffset = u64(dv, at + 16, 'moffset');
      const len = u64(dv, at + 24, 'len');
      if (kind === WindowOpKind.MAP) {
        ops.push({ kind: 'map', moffset, len, devIndex: dv.getUint32(at + 8, true), devOffset: u64(dv, at + 32, 'dev_offset'), writable: (dv.getUint32(at + 4, true) & 1) !== 0 });
      } else if (kind === WindowOpKind.UNMAP) {
        ops.push({ kind: 'unmap', moffset, len });
      } else {
        throw bad(`op kind ${kind}`);
      }
    }
    return ops;
  };
  if (type === WindowMsgType.UPDATE) return { type: 'update', generation, more, ops: readOps(HEADER) };
  if (type !== WindowMsgType.SNAPSHOT) throw bad(`message type ${type}`);
  if (b.length < HEADER + SNAPSHOT_INFO) throw bad('snapshot shorter than its header');
  const size = u64(dv, 24, 'window_size');
  const alignShift = dv.getUint32(32, true);
  const ndev = dv.getUint32(36, true);
  const totalEntries = dv.getUint32(40, true);
  if (ndev > 253 || HEADER + SNAPSHOT_INFO + ndev * DEVICE > b.length) throw bad(`${ndev} devices do not fit the message`);
  const devices: HandoffDevice[] = [];
  let at = HEADER + SNAPSHOT_INFO;
  for (let k = 0; k < ndev; k++, at += DEVICE) devices.push({ index: dv.getUint32(at, true), writable: (dv.getUint32(at + 4, true) & 1) !== 0 });
  return { type: 'snapshot', generation, more, size, alignShift, devices, totalEntries, ops: readOps(at) };
}

// ------------------------------------------------------------------ the daemon's side

interface Client {
  fd: number;
  stopWatch: () => void;
  unsubscribe: () => void;
}

/**
 * The daemon's window socket: listens at `path` (mode 0600), sends each VMM
 * that connects the snapshot with the fds, then every update.
 */
export class WindowChannel {
  private readonly clientSet = new Set<Client>();
  private closed = false;
  private readonly stopListen: () => void;

  private constructor(
    readonly path: string,
    private readonly listenFd: number,
    private readonly window: DaxWindow,
    private readonly log: Logger,
  ) {
    this.stopListen = native.watchReadable(listenFd, () => this.acceptAll());
  }

  /** Listen at `path` (a stale socket file there is replaced). */
  static listen(path: string, window: DaxWindow, log: Logger): WindowChannel {
    fs.rmSync(path, { force: true });
    let fd: number;
    try {
      fd = native.seqpacketListen(path);
      fs.chmodSync(path, 0o600);
    } catch (e) {
      throw fromSystemError(e, 'listen', path);
    }
    return new WindowChannel(path, fd, window, log);
  }

  /** VMMs connected now. */
  get clients(): number {
    return this.clientSet.size;
  }

  private acceptAll(): void {
    for (;;) {
      if (this.closed) return;
      let fd: number;
      try {
        fd = native.seqpacketAccept(this.listenFd);
      } catch (e) {
        this.log.warn(`window channel: accept: ${(e as Error).message}`);
        return;
      }
      if (fd < 0) return;
      this.attach(fd);
    }
  }

  private attach(fd: number): void {
    const c: Client = { fd, stopWatch: () => undefined, unsubscribe: () => undefined };
    this.clientSet.add(c);
    const msgs = encodeSnapshot(this.window);
    const fds = [this.window.memfd, ...this.window.deviceList().map((d) => d.fd)];
    if (!msgs.every((m, i) => this.send(c, m, i === 0 ? fds : []))) return;
    c.unsubscribe = this.window.subscribe((u) => {
      for (const m of encodeUpdate(u)) if (!this.send(c, m, [])) return;
    });
    // the VMM never speaks; readable means it hung up (or sent something to ignore)
    const scratch = new Uint8Array(256);
    c.stopWatch = native.watchReadable(fd, () => {
      for (;;) {
        let got: native.ReceivedMessage | null;
        try {
          got = native.recvFds(fd, scratch, 0);
        } catch {
          got = { bytes: 0, fds: [] };
        }
        if (got === null) return;
        for (const f of got.fds) fs.closeSync(f);
        if (got.bytes === 0) {
          this.drop(c, 'hung up');
          return;
        }
      }
    });
    this.log.info(`window channel: a VMM connected (generation ${this.window.generation})`);
  }

  /** Send one message; a full buffer or a gone peer drops the VMM. */
  private send(c: Client, m: Uint8Array, fds: number[]): boolean {
    try {
      native.sendFds(c.fd, m, fds);
      return true;
    } catch (e) {
      const code = native.isNativeError(e) ? e.code : String(e);
      this.drop(c, code === 'EAGAIN' ? 'fell behind (its socket buffer is full); it must reconnect' : `gone (${code})`);
      return false;
    }
  }

  private drop(c: Client, why: string): void {
    if (!this.clientSet.delete(c)) return;
    c.unsubscribe();
    c.stopWatch();
    fs.closeSync(c.fd);
    this.log.info(`window channel: VMM ${why}`);
  }

  /** Disconnect every VMM, stop listening, remove the socket file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.clientSet]) this.drop(c, 'disconnected: the window is closing');
    this.stopListen();
    fs.closeSync(this.listenFd);
    fs.rmSync(this.path, { force: true });
  }
}

// ------------------------------------------------------------------ a VMM's side

/**
 * What a VMM does with the channel — the reference consumer, used by the
 * tests: its own reservation of the window's size (over the memfd it was
 * given), each mapping applied with MAP_FIXED of the device fd it was given,
 * each update in order.
 */
export class VmmWindow {
  private gen: number;
  private closed = false;
  private readonly buf = new Uint8Array(WINDOW_MESSAGE_MAX);

  private constructor(
    readonly sock: number,
    readonly size: number,
    readonly alignShift: number,
    private readonly reservation: native.WindowReservation,
    readonly memfd: number,
    private readonly devices: ReadonlyMap<number, { fd: number; writable: boolean }>,
    generation: number,
  ) {
    this.gen = generation;
  }

  /** Connect to a daemon's window socket and take the snapshot (blocking until it is whole). */
  static connect(path: string): VmmWindow {
    let sock: number;
    try {
      sock = native.seqpacketConnect(path);
    } catch (e) {
      throw fromSystemError(e, 'connect', path);
    }
    try {
      return VmmWindow.fromSocket(sock);
    } catch (e) {
      fs.closeSync(sock);
      throw e;
    }
  }

  /** Take the snapshot from a connected channel socket (blocking). */
  static fromSocket(sock: number): VmmWindow {
    const buf = new Uint8Array(WINDOW_MESSAGE_MAX);
    const first = native.recvFds(sock, buf);
    if (first === null || first.bytes === 0) throw bad('no snapshot: the daemon hung up');
    const closeAll = (): void => first.fds.forEach((f) => fs.closeSync(f));
    let msg: WindowMessage;
    try {
      msg = decodeWindowMessage(buf.subarray(0, first.bytes));
      if (msg.type !== 'snapshot') throw bad('the first message is not a snapshot');
      if (first.fds.length !== msg.devices.length + 1) throw bad(`${first.fds.length} fds for ${msg.devices.length} devices and the memfd`);
      if (msg.size <= 0 || msg.size % WINDOW_UNIT !== 0) throw bad(`window size ${msg.size}`);
    } catch (e) {
      closeAll();
      throw e;
    }
    const [memfd, ...devFds] = first.fds as [number, ...number[]];
    const devices = new Map(msg.devices.map((d, i) => [d.index, { fd: devFds[i]!, writable: d.writable }]));
    let reservation: native.WindowReservation;
    try {
      reservation = native.reserveWindow(msg.size, WINDOW_UNIT, memfd);
    } catch (e) {
      closeAll();
      throw fromSystemError(e, 'reserve');
    }
    const w = new VmmWindow(sock, msg.size, msg.alignShift, reservation, memfd, devices, msg.generation);
    try {
      w.applyOps(msg.ops);
      let more = msg.more;
      while (more) {
        const next = w.receive(true);
        if (next === null || next.type !== 'update' || next.generation !== msg.generation) throw bad('the snapshot was cut short');
        w.applyOps(next.ops);
        more = next.more;
      }
    } catch (e) {
      w.close(false);
      throw e;
    }
    return w;
  }

  get generation(): number {
    return this.gen;
  }

  private receive(block: boolean): WindowMessage | null {
    native.setNonblock(this.sock, !block);
    const got = native.recvFds(this.sock, this.buf, 0);
    if (got === null) return null;
    if (got.bytes === 0) throw new FamfsError('ECONNRESET', 'window channel', 'window channel: the daemon hung up');
    return decodeWindowMessage(this.buf.subarray(0, got.bytes));
  }

  /** Apply every update waiting on the socket (without blocking); returns how many messages were applied. */
  pump(): number {
    let n = 0;
    for (;;) {
      const m = this.receive(false);
      if (m === null) return n;
      if (m.type !== 'update') throw bad('a second snapshot');
      this.applyOps(m.ops);
      this.gen = m.generation;
      n++;
    }
  }

  private applyOps(ops: readonly WindowOp[]): void {
    for (const op of ops) {
      if (op.kind === 'unmap') {
        this.reservation.unmap(op.moffset, op.len);
        continue;
      }
      const d = this.devices.get(op.devIndex);
      if (d === undefined) throw bad(`a mapping on daxdev ${op.devIndex}, which the snapshot did not hand over`);
      this.reservation.map(op.moffset, op.len, d.fd, op.devOffset, op.writable);
    }
  }

  /** Read through this window without risk (see DaxWindow.probe). */
  probe(offsets: readonly number[], segLen: number, dst: Uint8Array, writeBack = false): Uint8Array {
    return this.reservation.probe(offsets, segLen, dst, writeBack);
  }

  /** Release the reservation and close every fd (the socket too unless `closeSocket` is false). */
  close(closeSocket = true): void {
    if (this.closed) return;
    this.closed = true;
    this.reservation.release();
    fs.closeSync(this.memfd);
    for (const d of this.devices.values()) fs.closeSync(d.fd);
    if (closeSocket) fs.closeSync(this.sock);
  }
}
