import * as fs from 'node:fs';

/** Where a command prints. The bin wires it to stdout/stderr; tests capture it. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** raw bytes to stdout (cat) */
  write(bytes: Uint8Array): void;
  /** stdout is a terminal (progress bars) */
  isTty: boolean;
  env: NodeJS.ProcessEnv;
}

export function processIo(): CliIo {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    write: (b) => writeAllSync(1, b),
    isTty: process.stdout.isTTY === true,
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

/** write(2) all of `b`, retrying on a full pipe (EAGAIN) */
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
