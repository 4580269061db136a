import { Famfs, FamfsError, resolveSystemUuid } from '@famfs/core';
import type { CliIo } from './io.js';

/** Options every famfs command shares (given before the command name). */
export interface GlobalOptions {
  /** act as this host (overrides FAMFS_SYSTEM_UUID and the system UUID file) */
  systemUuid?: string;
  /** operate on this unmounted device or image; paths are relative to its root */
  device?: string;
}

export function systemUuidOf(io: CliIo, g: GlobalOptions): string {
  return resolveSystemUuid({ uuid: g.systemUuid, env: io.env });
}

/** The device a command works on: `-D/--device`, else $FAMFS_DEVICE. */
export function deviceOf(io: CliIo, g: GlobalOptions, op: string): string {
  const dev = g.device ?? io.env.FAMFS_DEVICE;
  if (dev === undefined || dev === '') {
    throw new FamfsError('EINVAL', op, `${op}: no famfs device given: use 'famfs -D <device|image> ${op} …' (or set FAMFS_DEVICE)`);
  }
  return dev;
}

/** Open the file system a command works on; the caller closes it. */
export function openFs(io: CliIo, g: GlobalOptions, op: string, writable: boolean): Famfs {
  return Famfs.open(deviceOf(io, g, op), { writable, systemUuid: systemUuidOf(io, g) });
}

export function withFs<T>(io: CliIo, g: GlobalOptions, op: string, writable: boolean, fn: (fs: Famfs) => T): T {
  const fs = openFs(io, g, op, writable);
  try {
    return fn(fs);
  } finally {
    fs.close();
  }
}
