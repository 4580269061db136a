import { resolveSystemUuid } from '@famfs/core';
import type { CliIo } from './io.js';

/** Options every famfs command shares. */
export interface GlobalOptions {
  /** act as this host (overrides FAMFS_SYSTEM_UUID and the system UUID file) */
  systemUuid?: string;
}

export function systemUuidOf(io: CliIo, g: GlobalOptions): string {
  return resolveSystemUuid({ uuid: g.systemUuid, env: io.env });
}
