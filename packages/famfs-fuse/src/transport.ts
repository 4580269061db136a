import * as fs from 'node:fs';
import * as native from '@famfs/native';

/**
 * Where requests come from and replies go: `/dev/fuse`, or (tests) one end of
 * a connected SOCK_SEQPACKET socket pair, which keeps message boundaries the
 * same way (one message per read, one per write).
 *
 * The fd is non-blocking and watched by the event loop: each time it is
 * readable, every request that is ready is read and handled on the main
 * thread in one go. (A blocking read per request in a libuv worker costs a
 * thread hand-off each way and capped small requests at ~30k/s.)
 */
export interface Transport {
  readonly kind: 'dev-fuse' | 'seqpacket';
  /**
   * Deliver each message to `onMessage` (synchronously; the buffer is reused
   * once it returns) until the channel is gone — unmounted (ENODEV) or the
   * peer hung up — or `close()` is called. Interrupted reads are retried.
   */
  serve(bufSize: number, onMessage: (msg: Uint8Array) => void): Promise<void>;
  /**
   * Write one message made of `parts` in a single writev (the kernel needs a
   * reply in one write). Returns false when nobody waits for it any more
   * (ENOENT: the request was interrupted; ENODEV: unmounted) — not an error.
   */
  write(parts: readonly Uint8Array[]): boolean;
  /** Write one message without blocking the event loop (notifications). */
  writeAsync(bytes: Uint8Array): Promise<void>;
  close(): void;
}

/** Messages handled per wakeup before yielding to the rest of the loop (timers, control socket). */
const BATCH = 256;

class FdTransport implements Transport {
  private closed = false;
  private stopWatch: (() => void) | undefined;
  private finish: (() => void) | undefined;

  constructor(
    readonly kind: Transport['kind'],
    private readonly fd: number,
  ) {
    native.setNonblock(fd, true);
  }

  serve(bufSize: number, onMessage: (msg: Uint8Array) => void): Promise<void> {
    const buf = new Uint8Array(bufSize);
    return new Promise<void>((resolve, reject) => {
      this.finish = () => {
        this.stopWatch?.();
        this.stopWatch = undefined;
        resolve();
      };
      const drain = (): void => {
        for (let i = 0; i < BATCH && !this.closed; i++) {
          let n: number;
          try {
            n = fs.readSync(this.fd, buf, 0, buf.length, null);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === 'EAGAIN') return; // drained: wait for the next wakeup
            // ENOENT: the request was interrupted before we read it
            if (code === 'ENOENT' || code === 'EINTR') continue;
            // ENODEV: unmounted; ECONNABORTED: the connection was aborted
            // (/sys/fs/fuse/connections/N/abort); EBADF: closed under us;
            // ECONNRESET: peer gone
            if (code === 'ENODEV' || code === 'ECONNABORTED' || code === 'EBADF' || code === 'ECONNRESET') return this.finish?.();
            this.stopWatch?.();
            return reject(e instanceof Error ? e : new Error(String(e)));
          }
          if (n === 0) return this.finish?.(); // a socket peer hung up
          try {
            onMessage(buf.subarray(0, n));
          } catch (e) {
            // The session answers every failure itself; anything that still
            // escapes is a bug, and must not unwind into the native poll
            // callback (that would abort the process): report it, keep serving.
            process.emitWarning(`famfs: request handler failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
          }
        }
        // more may be waiting: the poll is level-triggered and fires again
      };
      try {
        this.stopWatch = native.watchReadable(this.fd, drain);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      drain();
    });
  }

  write(parts: readonly Uint8Array[]): boolean {
    if (this.closed) return false;
    // a zero-length part would become a second write (an empty message)
    const iov = parts.some((p) => p.length === 0) ? parts.filter((p) => p.length > 0) : (parts as Uint8Array[]);
    for (;;) {
      try {
        fs.writevSync(this.fd, iov);
        return true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // a socket peer that is slow to read: its buffer is full for a moment
        if (code === 'EAGAIN') continue;
        if (code === 'ENOENT' || code === 'ENODEV' || code === 'ECONNABORTED' || code === 'EPIPE' || code === 'ECONNRESET' || code === 'EBADF') return false;
        throw e;
      }
    }
  }

  writeAsync(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return resolve();
      fs.write(this.fd, bytes, 0, bytes.length, null, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.finish?.();
    fs.closeSync(this.fd);
  }
}

/** /dev/fuse, opened by the caller (before mount(2), which needs the fd number). */
export function devFuseTransport(fd: number): Transport {
  return new FdTransport('dev-fuse', fd);
}

/** One end of a SOCK_SEQPACKET pair (see native.socketpairSeqpacket). */
export function seqpacketTransport(fd: number): Transport {
  return new FdTransport('seqpacket', fd);
}
