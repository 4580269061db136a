import type { CliIo } from './io.js';

/** A one-line progress bar for long copies on a terminal (redrawn at most 10 times a second). */
export class Progress {
  private last = 0;
  private readonly start = Date.now();

  constructor(
    private readonly io: CliIo,
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number): void {
    const now = Date.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    const frac = this.total === 0 ? 1 : done / this.total;
    const width = 30;
    const fill = Math.round(frac * width);
    const secs = Math.max((now - this.start) / 1000, 0.001);
    const mibs = done / (1024 * 1024) / secs;
    this.io.err(`\r${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${mibs.toFixed(0)} MiB/s`);
  }

  done(): void {
    this.update(this.total);
    this.io.err('\n');
  }
}
