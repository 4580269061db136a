import type { CliIo } from './io.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Bytes as people read them in a progress line. */
function human(n: number): string {
  return n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : `${(n / MiB).toFixed(n >= 10 * MiB ? 0 : 1)} MiB`;
}

/**
 * The text of one progress line: label, bar, percent, (files,) bytes and
 * rate. Pure, so that it is tested without a terminal.
 */
export function progressLine(label: string, done: number, total: number, seconds: number, files?: { done: number; total: number }): string {
  const frac = total === 0 ? 1 : Math.min(1, done / total);
  const width = 30;
  const fill = Math.round(frac * width);
  const rate = done / Math.max(seconds, 0.001) / MiB;
  const count = files === undefined ? '' : ` ${files.done}/${files.total} files,`;
  return `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}%${count} ${human(done)} of ${human(total)} ${rate.toFixed(0)} MiB/s`;
}

/**
 * A one-line progress bar on stderr (redrawn at most 10 times a second).
 * Only ever made when stderr is a terminal (`io.isTty`): pipes, files and
 * --json output never see one.
 */
export class Progress {
  private last = 0;
  private readonly start = Date.now();
  private files: { done: number; total: number } | undefined;
  private done = 0;

  constructor(
    private readonly io: CliIo,
    private readonly label: string,
    private readonly total: number,
    totalFiles?: number,
  ) {
    if (totalFiles !== undefined) this.files = { done: 0, total: totalFiles };
  }

  /** Bytes done so far (of the whole job). */
  update(done: number): void {
    this.done = done;
    const now = Date.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    this.draw(now);
  }

  /** One more file finished (a bar made with a file count). */
  fileDone(): void {
    if (this.files !== undefined) this.files.done++;
    this.draw(Date.now());
  }

  private draw(now: number): void {
    this.io.err(`\r${progressLine(this.label, this.done, this.total, (now - this.start) / 1000, this.files)}\x1b[K`);
  }

  /** The final state, and the end of the line. */
  finish(): void {
    this.done = Math.max(this.done, this.files === undefined ? this.total : this.done);
    this.draw(Date.now());
    this.io.err('\n');
  }
}

/** Whether a job of `bytes` is worth a progress bar here: stderr is a terminal, and it takes a moment. */
export function wantProgress(io: CliIo, bytes: number, json = false): boolean {
  return io.isTty && !json && bytes >= PROGRESS_MIN;
}

/** Jobs smaller than this finish before a bar would say anything. */
export const PROGRESS_MIN = 64 * MiB;
