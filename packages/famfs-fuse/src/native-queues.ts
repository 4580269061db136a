import * as fs from 'node:fs';
import { FuseQueues, INIT_OVER_IO_URING, type FileRun, type QueueStats, type QueuesInfo } from '@famfs/native';
import type { FamfsFuseFs } from './filesystem.js';
import type { Logger } from './log.js';
import type { HandleObserver } from './session.js';
import type { Transport } from './transport.js';

/**
 * Serving a mount through the native request queues (@famfs/native
 * FuseQueues) with the Session unchanged: a Transport whose `write` answers
 * the request being handled, and a HandleObserver that publishes each open
 * file's run table so the queues answer READ and WRITE themselves.
 *
 *   const t = new QueueTransport({ fd, uring: true });
 *   t.queues.addDevice(0, { path: device, writable: master, invalidateOnRead: kind === 'dax' });
 *   const session = new Session(t, fuseFs, { …, handles: runTablePublisher(t.queues, fuseFs, log) });
 *   await session.run();
 *
 * Requests reach the Session one at a time on the JS thread, as from
 * devFuseTransport; every handler answers synchronously, so the reply a
 * handler writes belongs to the request being handled. A request the Session
 * leaves unanswered (FORGET, INTERRUPT, undecodable) is released with
 * noReply once its handler returns.
 *
 * FUSE-over-io_uring is a transport matter the protocol layer does not know
 * (PROTOCOL_SUPPORTED_FLAGS leaves OVER_IO_URING out): with `uring`, the INIT
 * reply the Session writes gets OVER_IO_URING added here — only when the
 * kernel offered it (the fuse module's enable_uring is Y) and the reply
 * carries INIT_EXT (flags2 is read only then). The queues then register
 * their rings; otherwise they clone the session fd.
 */

const IN_HEADER = 40;
const OUT_HEADER = 16;
/** fuse_init_in: flags at 12, flags2 at 16; fuse_init_out: flags at 12, flags2 at 32 */
const INIT_IN_FLAGS = IN_HEADER + 12;
const INIT_IN_FLAGS2 = IN_HEADER + 16;
const INIT_OUT_FLAGS = OUT_HEADER + 12;
const INIT_OUT_FLAGS2 = OUT_HEADER + 32;
const INIT_EXT = 1 << 30;
const OP_INIT = 26;
const URING_BIT2 = Number(INIT_OVER_IO_URING >> 32n); // flags2 bit 9

export interface QueueTransportOptions {
  /** the /dev/fuse fd given to mount(2); the transport closes it in close() */
  fd: number;
  /** serve over FUSE-over-io_uring when the kernel offers it */
  uring: boolean;
  clones?: number;
  queueDepth?: number;
  pinQueues?: boolean;
  /** the Session's maxWrite (default 1 MiB) */
  maxWrite?: number;
}

export class QueueTransport implements Transport {
  readonly kind = 'dev-fuse';
  readonly queues: FuseQueues;
  /** the token of the request the Session is handling right now */
  private current: number | undefined;
  private answered = false;
  /** kernel offered OVER_IO_URING in the INIT being handled */
  private uringOffered = false;
  private onMessage: ((msg: Uint8Array) => void) | undefined;
  private closed = false;

  constructor(private readonly opts: QueueTransportOptions) {
    this.queues = new FuseQueues({
      fd: opts.fd,
      clones: opts.clones,
      queueDepth: opts.queueDepth,
      pinQueues: opts.pinQueues,
      maxWrite: opts.maxWrite,
      onRequest: (req) => this.deliver(req.token, req.bytes),
    });
  }

  serve(_bufSize: number, onMessage: (msg: Uint8Array) => void): Promise<void> {
    this.onMessage = onMessage;
    this.queues.start();
    return this.queues.closed.then((end) => {
      if (end.reason === 'error' && end.error) throw end.error;
    });
  }

  write(parts: readonly Uint8Array[]): boolean {
    if (this.closed) return false;
    const token = this.current;
    if (token === undefined) throw new Error('QueueTransport.write outside a request: notifications go through writeAsync');
    const out = this.uringOffered ? withOverIoUring(parts) : parts;
    const ok = this.queues.reply(token, out); // throws (token still valid) when the channel refuses it
    this.answered = true;
    return ok;
  }

  writeAsync(bytes: Uint8Array): Promise<void> {
    // Notifications (unique 0) go through /dev/fuse on every channel: the
    // kernel takes none through io_uring.
    return new Promise((resolve, reject) => {
      if (this.closed) return resolve();
      fs.write(this.opts.fd, bytes, 0, bytes.length, null, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queues.stop();
    fs.closeSync(this.opts.fd);
  }

  stats(): QueueStats[] {
    return this.queues.stats();
  }

  info(): QueuesInfo {
    return this.queues.info();
  }

  private deliver(token: number, bytes: Uint8Array): void {
    this.current = token;
    this.answered = false;
    this.uringOffered = this.opts.uring && offersOverIoUring(bytes);
    try {
      this.onMessage?.(bytes);
    } finally {
      if (!this.answered) this.queues.noReply(token);
      this.current = undefined;
      this.uringOffered = false;
    }
  }
}

function offersOverIoUring(msg: Uint8Array): boolean {
  if (msg.length < INIT_IN_FLAGS2 + 4) return false;
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (v.getUint32(4, true) !== OP_INIT) return false;
  const flags = v.getUint32(INIT_IN_FLAGS, true);
  return (flags & INIT_EXT) !== 0 && (v.getUint32(INIT_IN_FLAGS2, true) & URING_BIT2) !== 0;
}

/** The INIT reply with OVER_IO_URING set, when it is a successful one with INIT_EXT; else as it was. */
function withOverIoUring(parts: readonly Uint8Array[]): readonly Uint8Array[] {
  const len = parts.reduce((n, p) => n + p.length, 0);
  if (len < INIT_OUT_FLAGS2 + 4) return parts;
  const msg = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    msg.set(p, at);
    at += p.length;
  }
  const v = new DataView(msg.buffer);
  if (v.getInt32(4, true) !== 0 || (v.getUint32(INIT_OUT_FLAGS, true) & INIT_EXT) === 0) return parts;
  v.setUint32(INIT_OUT_FLAGS2, v.getUint32(INIT_OUT_FLAGS2, true) | URING_BIT2, true);
  return [msg];
}

/**
 * Publishes the run table of every regular file handle the Session gives out
 * (the file's device runs over [0, size), writable as the Session decided),
 * and withdraws it at RELEASE. A file whose map cannot be resolved is simply
 * not published: the Session answers its READs.
 */
export function runTablePublisher(queues: FuseQueues, fuseFs: FamfsFuseFs, log: Logger): HandleObserver & { republish(nodeid: bigint): void } {
  const open = new Map<bigint, { nodeid: bigint; writable: boolean }>();
  const publish = (fh: bigint, nodeid: bigint, writable: boolean): void => {
    try {
      const file = fuseFs.fileOf(nodeid);
      const runs: FileRun[] = fuseFs.famfs.runs(file).map((r) => ({ fileOffset: r.fileOffset, len: r.len, devIndex: r.devIndex, devOffset: r.offset }));
      queues.publish(fh, { nodeid, size: file.size, writable, runs });
    } catch (e) {
      queues.withdraw(fh);
      log.warn(`fh ${fh} (nodeid ${nodeid}): no run table, the session serves it: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  return {
    opened(fh, nodeid, writable) {
      open.set(fh, { nodeid, writable });
      publish(fh, nodeid, writable);
    },
    released(fh) {
      open.delete(fh);
      queues.withdraw(fh);
    },
    /** after a refresh changed a file: replace the tables of its open handles */
    republish(nodeid) {
      for (const [fh, h] of open) if (h.nodeid === nodeid) publish(fh, h.nodeid, h.writable);
    },
  };
}
