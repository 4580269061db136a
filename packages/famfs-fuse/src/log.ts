/** The daemon's log: one line per event, to a file (its stdout/stderr) — no module-level state. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export class Logger {
  constructor(
    public level: LogLevel = 'info',
    private readonly sink: (line: string) => void = (l) => void process.stderr.write(l),
  ) {}

  static isLevel(s: string): s is LogLevel {
    return s in ORDER;
  }

  enabled(l: LogLevel): boolean {
    return ORDER[l] <= ORDER[this.level];
  }

  log(l: LogLevel, msg: string): void {
    if (this.enabled(l)) this.sink(`${new Date().toISOString()} ${l} ${msg}\n`);
  }

  error(msg: string): void {
    this.log('error', msg);
  }
  warn(msg: string): void {
    this.log('warn', msg);
  }
  info(msg: string): void {
    this.log('info', msg);
  }
  debug(msg: string): void {
    this.log('debug', msg);
  }
}
