import * as fs from 'node:fs';

/** Where a command prints. The bin wires it to stdout/stderr; tests capture it. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** raw bytes to stdout (cat) */
  write(bytes: Uint8Array): void;
  /** stderr is a terminal: progress bars are drawn there */
  isTty: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * stdout and stderr written synchronously with write(2): output is in order,
 * and a reader that goes away (`famfs ls -lR | head`) shows up as an EPIPE
 * thrown right here, at the write, where the CLI turns it into the silent
 * exit a C tool killed by SIGPIPE would have — not as an 'error' event that
 * crashes the process later with a stack trace.
 */
export function processIo(): CliIo {
  return {
    out: (t) => writeAllSync(1, Buffer.from(t)),
    err: (t) => {
      try {
        writeAllSync(2, Buffer.from(t));
      } catch {
        // stderr is gone: nothing left to tell anyone
      }
    },
    write: (b) => writeAllSync(1, b),
    // read when a command asks (making the stderr stream costs start-up time)
    get isTty() {
      return process.stderr.isTTY === true;
    },
    env: process.env,
  };
}

/** Collects output in memory (tests). */
export function bufferIo(env: NodeJS.ProcessEnv = {}): CliIo & { stdout: string; stderr: string; bytes: Buffer[] } {
  const io = {
    stdout: '',
    stderr: '',
    isTty: false,
    env,
    out(t: string) {
      io.stdout += t;
    },
    err(t: string) {
      io.stderr += t;
    },
    write(b: Uint8Array) {
      io.bytes.push(Buffer.from(b));
    },
    bytes: [] as Buffer[],
  };
  return io;
}

/** write(2) all of `b`, retrying on a full non-blocking pipe (EAGAIN). */
function writeAllSync(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) {
    try {
      off += fs.writeSync(fd, b, off, b.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}
