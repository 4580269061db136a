/**
 * Which path names a file system's secondary device on this host (upstream's
 * multi-daxdev roadmap, phase 3). The log names devices by UUID only — a
 * path is not the same on every host — so each host resolves a UUID to a
 * path itself: first from its own map (where it found the device last
 * time), checked against the device's superblock; else by reading the
 * superblocks of candidate paths (those given, then every /dev/dax* and
 * /dev/pmem*). A hit is written back to the map.
 *
 * The map is host-local and throwaway: `$FAMFS_STATE_DIR/<fs uuid>/daxdev_map.json`
 * (default /var/lib/famfs), a JSON list of `{ devUuid, path, lastSeen }`.
 * It is hostile input like everything else: a bad map is ignored, never
 * trusted — every path it names is checked before use.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Device, openDevice } from './device.js';
import { FamfsError } from './errors.js';
import { SuperblockLayout as SB } from './format/constants.js';
import { checkSecondarySuperblock } from './format/superblock.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Where famfs keeps per-host state (the daxdev map). */
export function stateDir(): string {
  const d = process.env.FAMFS_STATE_DIR;
  return d !== undefined && d !== '' ? d : '/var/lib/famfs';
}

/** The map of file system `fsUuid` on this host. */
export function daxdevMapFile(fsUuid: string): string {
  if (!UUID_RE.test(fsUuid)) throw new FamfsError('EINVAL', 'daxdev', `not a file system UUID: '${fsUuid}'`);
  return path.join(stateDir(), fsUuid, 'daxdev_map.json');
}

export interface DaxdevMapRecord {
  devUuid: string;
  path: string;
  /** ISO time this host last found the device there */
  lastSeen: string;
}

/** A map is a few records; anything much larger is not one. */
const MAX_MAP_BYTES = 1024 * 1024;

/** The map's records; an absent, unreadable or malformed map is empty (it only ever saves a scan). */
export function readDaxdevMap(fsUuid: string): DaxdevMapRecord[] {
  let text: string;
  try {
    const file = daxdevMapFile(fsUuid);
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.size > MAX_MAP_BYTES) return [];
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  const out: DaxdevMapRecord[] = [];
  for (const r of v as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const { devUuid, path: p, lastSeen } = r as Record<string, unknown>;
    if (typeof devUuid !== 'string' || typeof p !== 'string' || !p.startsWith('/') || p.includes('\0') || p.length > 4096) continue;
    out.push({ devUuid, path: p, lastSeen: typeof lastSeen === 'string' ? lastSeen : '' });
  }
  return out;
}

/**
 * Remember that `devUuid` of `fsUuid` is at `devicePath` on this host (an
 * absolute path). Written to a temporary file and renamed over the map: a
 * reader sees the old map or the new one. Best effort: a host that cannot
 * write its state directory resolves by scanning next time.
 */
export function recordDaxdev(fsUuid: string, devUuid: string, devicePath: string): boolean {
  try {
    const file = daxdevMapFile(fsUuid);
    const abs = path.resolve(devicePath);
    const records = readDaxdevMap(fsUuid).filter((r) => r.devUuid !== devUuid && r.path !== abs);
    records.push({ devUuid, path: abs, lastSeen: new Date().toISOString() });
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, `${JSON.stringify(records, null, 2)}\n`, { mode: 0o644, flag: 'w' });
    fs.renameSync(tmp, file);
    return true;
  } catch {
    return false;
  }
}

/** Forget where a device was (it was not there any more). */
function forgetDaxdev(fsUuid: string, devUuid: string): void {
  const records = readDaxdevMap(fsUuid);
  const kept = records.filter((r) => r.devUuid !== devUuid);
  if (kept.length === records.length) return;
  try {
    const file = daxdevMapFile(fsUuid);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, `${JSON.stringify(kept, null, 2)}\n`, { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch {
    // best effort
  }
}

/**
 * Does `devicePath` hold the secondary superblock of device `devUuid` of
 * file system `fsUuid`? undefined when it does, else why not.
 */
export function secondaryProblem(devicePath: string, fsUuid: string, devUuid: string): string | undefined {
  let dev: Device;
  try {
    dev = openDevice(devicePath, { writable: false });
  } catch (e) {
    return (e as Error).message;
  }
  try {
    return secondaryProblemOf(dev, fsUuid, devUuid);
  } finally {
    dev.close();
  }
}

/** secondaryProblem for an open device. */
export function secondaryProblemOf(dev: Device, fsUuid: string, devUuid: string): string | undefined {
  if (dev.size < SB.SIZE) return `${dev.path}: too small to hold a superblock`;
  const view = dev.view(0, SB.SIZE);
  dev.invalidate(view);
  const st = checkSecondarySuperblock(view, dev.size);
  if (!st.ok) return `${dev.path}: ${st.reason === 'no-magic' ? 'no famfs superblock' : st.message}`;
  if (st.sb.uuid !== fsUuid) return `${dev.path}: a secondary of file system ${st.sb.uuid}, not ${fsUuid}`;
  if (st.sb.devUuid !== devUuid) return `${dev.path}: device ${st.sb.devUuid}, not ${devUuid}`;
  return undefined;
}

/** Every /dev/dax* and /dev/pmem* device node (the candidates of a scan). */
export function scanCandidates(devDir = '/dev'): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(devDir);
  } catch {
    return [];
  }
  return names.filter((n) => /^dax\d+\.\d+$/.test(n) || /^pmem\d+(\.\d+)?$/.test(n)).sort().map((n) => path.join(devDir, n));
}

export interface Resolution {
  /** the path of the device on this host, checked */
  path?: string;
  /** what was tried and why it was not it (for the message when nothing was found) */
  tried: string[];
}

/**
 * Find device `devUuid` of file system `fsUuid` on this host: the map, then
 * `candidates`, then a scan of /dev. Records a hit in the map.
 */
export function resolveDaxdev(fsUuid: string, devUuid: string, candidates: readonly string[] = []): Resolution {
  daxdevMapFile(fsUuid); // EINVAL for what is not a UUID
  if (!UUID_RE.test(devUuid)) throw new FamfsError('EINVAL', 'daxdev', `not a device UUID: '${devUuid}'`);
  const tried: string[] = [];
  const seen = new Set<string>();
  const attempt = (p: string): boolean => {
    const abs = path.resolve(p);
    if (seen.has(abs)) return false;
    seen.add(abs);
    const why = secondaryProblem(abs, fsUuid, devUuid);
    if (why === undefined) return true;
    tried.push(why);
    return false;
  };
  for (const r of readDaxdevMap(fsUuid)) {
    if (r.devUuid !== devUuid) continue;
    if (attempt(r.path)) return { path: path.resolve(r.path), tried };
    forgetDaxdev(fsUuid, devUuid); // not there any more
  }
  for (const c of [...candidates, ...scanCandidates()]) {
    if (attempt(c)) {
      const abs = path.resolve(c);
      recordDaxdev(fsUuid, devUuid, abs);
      return { path: abs, tried };
    }
  }
  return { tried };
}

/** The one-line error for a device not found on this host. */
export function daxdevNotFound(index: number, devUuid: string): FamfsError {
  return new FamfsError('ENODEV', 'daxdev', `daxdev ${index} (${devUuid}) is not found on this host: \`famfs daxdev refresh\` with its path`);
}
