/** Where a command prints. The bin wires it to stdout/stderr; tests capture it. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal (progress bars) */
  isTty: boolean;
  env: NodeJS.ProcessEnv;
}

export function processIo(): CliIo {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    isTty: process.stdout.isTTY === true,
    env: process.env,
  };
}

/** Collects output in memory (tests). */
export function bufferIo(env: NodeJS.ProcessEnv = {}): CliIo & { stdout: string; stderr: string } {
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
  };
  return io;
}
