import * as nodefs from 'node:fs';
import {
  type Device, Famfs, FamfsError, META_FILES, SUPERBLOCK_SIZE, SuperblockLayout, checkSuperblock, daxDeviceName, daxDriverOf,
  formatError, fromSystemError, openDevice, openMetaDevice, probeDevice, resolveSystemUuid,
} from '@famfs/core';
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

/**
 * The device of a mounted famfs, for commands that read its superblock and
 * log (fsck, logplay --shadow of a mount): the device itself, mapped — or,
 * when a famfs kernel holds it in famfs mode (user space can no longer map
 * it), the mount's `.meta/.superblock` and `.meta/.log`, which the kernel
 * maps onto the device memory.
 */
export function openMountedDevice(mountpoint: string, source: string): Device {
  const name = daxDeviceName(source);
  if (name === undefined || daxDriverOf(name) !== 'fsdev_dax') return openDevice(source, { writable: false });
  const sbFile = `${mountpoint}/${META_FILES.superblock}`;
  const head = new Uint8Array(SuperblockLayout.SIZE);
  let fd: number;
  try {
    fd = nodefs.openSync(sbFile, 'r');
  } catch (e) {
    throw fromSystemError(e, 'open', sbFile);
  }
  try {
    nodefs.readSync(fd, head, 0, head.length, 0);
  } catch (e) {
    throw fromSystemError(e, 'read', sbFile);
  } finally {
    nodefs.closeSync(fd);
  }
  const st = checkSuperblock(head);
  if (!st.ok) throw formatError(st.reason === 'no-magic' ? 'EINVAL' : 'EUCLEAN', 'superblock', `${sbFile}: ${st.message}`, sbFile);
  return openMetaDevice(mountpoint, source, {
    logOffset: st.sb.logOffset, logLen: st.sb.logLen, size: probeDevice(source).size, superblockLen: SUPERBLOCK_SIZE,
  }, false);
}
