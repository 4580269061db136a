import * as fs from 'node:fs';
import * as path from 'node:path';
import { FamfsError } from './errors.js';
import { isUuid, newUuid } from './format/uuid.js';

/** Upstream famfs keeps the host's identity here (created with a random UUID when missing). */
export const DEFAULT_SYSTEM_UUID_FILE = '/opt/famfs/system_uuid';

/**
 * How a process finds its host's system UUID, in order:
 * 1. an explicit UUID (a CLI option), 2. `FAMFS_SYSTEM_UUID` (a UUID),
 * 3. `FAMFS_SYSTEM_UUID_FILE` (a file holding one), 4. /opt/famfs/system_uuid.
 * 2 and 3 let tests run several emulated hosts on one machine.
 */
export interface SystemUuidSource {
  uuid?: string;
  file?: string;
  env?: NodeJS.ProcessEnv;
}

export function resolveSystemUuid(src: SystemUuidSource = {}): string {
  const env = src.env ?? process.env;
  const explicit = src.uuid ?? env.FAMFS_SYSTEM_UUID;
  if (explicit !== undefined && explicit !== '') {
    if (!isUuid(explicit.trim())) throw new FamfsError('EINVAL', 'system-uuid', `invalid system UUID '${explicit}'`);
    return explicit.trim().toLowerCase();
  }
  const file = src.file ?? (env.FAMFS_SYSTEM_UUID_FILE || DEFAULT_SYSTEM_UUID_FILE);
  return readOrCreateUuidFile(file);
}

function readOrCreateUuidFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new FamfsError('EIO', 'system-uuid', `cannot read system UUID file ${file}: ${(e as Error).message}`, file);
    }
    const uuid = newUuid();
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // Upstream's format: the 36 characters and a NUL, no newline, mode 0444.
      // 'wx': if another process created it meanwhile, use theirs.
      fs.writeFileSync(file, `${uuid}\0`, { flag: 'wx', mode: 0o444 });
      return uuid;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return readOrCreateUuidFile(file);
      throw new FamfsError('EIO', 'system-uuid', `cannot create system UUID file ${file}: ${(e2 as Error).message}`, file);
    }
  }
  // Upstream reads it with fscanf("%36s"): whitespace and a trailing NUL are fine.
  const uuid = text.replace(/\0/g, '').trim();
  if (!isUuid(uuid)) throw new FamfsError('EINVAL', 'system-uuid', `system UUID file ${file} does not hold a UUID`, file);
  return uuid.toLowerCase();
}
