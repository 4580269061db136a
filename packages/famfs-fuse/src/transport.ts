import * as fs from 'node:fs';

/**
 * Where requests come from and replies go: `/dev/fuse`, or (tests) one end of
 * a connected SOCK_SEQPACKET socket pair, which keeps message boundaries the
 * same way (one message per read, one per write).
 */
export interface Transport {
  readonly kind: 'dev-fuse' | 'seqpacket';
  /**
   * Read one message into `buf`. Resolves to its length, or to 0 when the
   * channel is gone (unmounted / peer closed). Interrupted reads are retried.
   */
  read(buf: Uint8Array): Promise<number>;
  /**
   * Write one message made of `parts` in a single writev (the kernel needs a
   * reply in one write). Returns false when the kernel no longer waits for
   * it (ENOENT: the request was interrupted) — not an error.
   */
  write(parts: readonly Uint8Array[]): boolean;
  /** Write one message without blocking the event loop (notifications). */
  writeAsync(bytes: Uint8Array): Promise<void>;
  close(): void;
}

function readOnce(fd: number, buf: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

class FdTransport implements Transport {
  private closed = false;

  constructor(
    readonly kind: Transport['kind'],
    private readonly fd: number,
  ) {}

  async read(buf: Uint8Array): Promise<number> {
    for (;;) {
      if (this.closed) return 0;
      try {
        return await readOnce(this.fd, buf);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // ENOENT: the request was interrupted before we read it; EINTR/EAGAIN: try again.
        if (code === 'ENOENT' || code === 'EINTR' || code === 'EAGAIN') continue;
        // ENODEV: the file system was unmounted; EBADF: we closed the fd.
        if (code === 'ENODEV' || code === 'EBADF' || code === 'ECONNRESET') return 0;
        throw e;
      }
    }
  }

  write(parts: readonly Uint8Array[]): boolean {
    if (this.closed) return false;
    try {
      fs.writevSync(this.fd, parts as Uint8Array[]);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      if (code === 'ENODEV' || code === 'EPIPE' || code === 'ECONNRESET' || code === 'EBADF') return false;
      throw e;
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
