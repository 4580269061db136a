import {
  type DaxDriver, type Famfs, FamfsError, RegionDevice, SUPERBLOCK_SIZE, daxDeviceName, daxDriverOf, famfsModeAvailable,
  openMetaDeviceAsync, setDaxDriver,
} from '@famfs/core';
import type { Logger } from './log.js';

/**
 * famfs mode, the daemon's side. A famfs kernel maps each file straight onto
 * a dax device from the fmap the daemon gives it (GET_FMAP), but it takes a
 * dax device only when the device is bound to the `fsdev_dax` driver — and
 * then user space can no longer map it. So:
 *
 * 1. the daemon starts as always: the device mapped (devdax mode), the
 *    superblock and log validated and replayed;
 * 2. at INIT, when the kernel offers DAX_FMAP (enter): the superblock region
 *    and the log are copied into memory, the file system carries on over the
 *    copies, the device mapping is dropped, and the device is switched to
 *    fsdev_dax — all before INIT is answered, so no GET_DAXDEV can come first;
 * 3. once the mount answers (attach): `.meta/.superblock` and `.meta/.log`
 *    are opened through the mount (off the event loop: opening them makes the
 *    kernel ask this very daemon) and mapped — the kernel maps them onto the
 *    device memory — and the file system moves to them: the live log;
 * 4. before unmounting (release): back to copies, the meta files closed —
 *    a mount with open files cannot be unmounted;
 * 5. at exit (restore): the device goes back to the driver it had, unless
 *    the mount was asked to keep famfs mode.
 */
export type FamfsModeWish = 'auto' | 'on' | 'off';

export class FamfsMode {
  /** the dax device's name (dax0.0), when the device is one */
  private readonly daxName: string | undefined;
  private before: DaxDriver | undefined;
  private live = false;
  /** the device is in famfs mode now */
  active = false;

  constructor(
    private readonly famfs: Famfs,
    private readonly device: string,
    private readonly wish: FamfsModeWish,
    private readonly log: Logger,
    /** daxdev indexes the famfs kernel maps (1: daxdev 0 only, as the V10 series) */
    private readonly kernelDaxdevs = 1,
  ) {
    this.daxName = daxDeviceName(device);
  }

  /** Should the daemon ask for DAX_FMAP: a dax device, a kernel with fsdev_dax, and not turned off. */
  get wanted(): boolean {
    return this.wish !== 'off' && this.daxName !== undefined && famfsModeAvailable();
  }

  /** Why famfs mode cannot be had, for `famfs_mode=on` (undefined when it can). */
  obstacle(): string | undefined {
    if (this.daxName === undefined) return `${this.device} is not a dax device`;
    if (!famfsModeAvailable()) return 'this kernel has no fsdev_dax driver (no famfs mode)';
    const n = this.famfs.daxdevTable().length;
    if (n > this.kernelDaxdevs) {
      // the famfs kernel (series V10) refuses every fmap with an extent on a daxdev other than 0
      return `the file system spans ${n} devices, and the famfs kernel maps files on ${this.kernelDaxdevs === 1 ? 'daxdev 0 only' : `daxdevs 0..${this.kernelDaxdevs - 1} only`}`;
    }
    return undefined;
  }

  /** Step 2 (Session.prepareFamfs): copies in memory, device mapping dropped, device to fsdev_dax. */
  enter(): boolean {
    const name = this.daxName;
    if (name === undefined) return false;
    const why = this.obstacle();
    if (why !== undefined) {
      this.log.info(`famfs mode: not entered: ${why}; serving READ/WRITE`);
      return false;
    }
    const f = this.famfs;
    const sbCopy = f.dev.view(0, SUPERBLOCK_SIZE).slice();
    const logCopy = f.dev.view(f.sb.logOffset, f.sb.logLen).slice();
    const copies = new RegionDevice(f.dev.path, 'dax', f.dev.size, false, [
      { offset: 0, bytes: sbCopy, shared: false },
      { offset: f.sb.logOffset, bytes: logCopy, shared: false },
    ]);
    f.moveTo(copies); // closes the device mapping: nothing maps the device any more
    this.before = setDaxDriver(name, 'fsdev_dax');
    this.active = true;
    this.log.info(`famfs mode: ${name} bound to fsdev_dax (was ${this.before}); the kernel maps files from their fmaps`);
    return true;
  }

  /** Step 3: the live superblock and log, through the mount's meta files. */
  async attach(mountpoint: string): Promise<void> {
    if (!this.active || this.live) return;
    const f = this.famfs;
    const dev = await openMetaDeviceAsync(mountpoint, this.device, {
      logOffset: f.sb.logOffset, logLen: f.sb.logLen, size: f.dev.size, superblockLen: SUPERBLOCK_SIZE,
    }, f.role === 'master');
    f.moveTo(dev);
    this.live = true;
    this.log.info(`famfs mode: reading the superblock and log through ${mountpoint}/.meta`);
  }

  /** The log is read through the mount (false before attach and after release). */
  get isLive(): boolean {
    return this.live;
  }

  /** Step 4: copies again, the meta files closed, so that the mount can go. */
  release(): void {
    if (!this.live) return;
    const f = this.famfs;
    const sbCopy = f.dev.view(0, SUPERBLOCK_SIZE).slice();
    const logCopy = f.dev.view(f.sb.logOffset, f.sb.logLen).slice();
    f.moveTo(new RegionDevice(f.dev.path, 'dax', f.dev.size, false, [
      { offset: 0, bytes: sbCopy, shared: false },
      { offset: f.sb.logOffset, bytes: logCopy, shared: false },
    ]));
    this.live = false;
    this.log.info('famfs mode: meta files released');
  }

  /** Step 5: the device back to the driver it had (after the mount is gone). */
  restore(keep: boolean): void {
    if (!this.active || this.daxName === undefined || this.before === undefined) return;
    this.active = false;
    if (keep) {
      this.log.info(`famfs mode: ${this.daxName} stays bound to fsdev_dax (keep_famfs_mode)`);
      return;
    }
    const to = this.before === 'fsdev_dax' ? 'fsdev_dax' : 'device_dax';
    try {
      setDaxDriver(this.daxName, to);
      this.log.info(`famfs mode: ${this.daxName} bound to ${to} again`);
    } catch (e) {
      this.log.warn(`famfs mode: ${this.daxName} could not go back to ${to}: ${(e as Error).message}`);
    }
  }
}

/**
 * Before `famfs mount` validates a dax device through a mapping: a device
 * left in famfs mode by a daemon that did not restore it (killed, or asked to
 * keep it) is not mapped by anything any more — give it back to device_dax.
 */
export function leaveStaleFamfsMode(device: string, log?: (line: string) => void): void {
  const name = daxDeviceName(device);
  if (name === undefined || daxDriverOf(name) !== 'fsdev_dax') return;
  setDaxDriver(name, 'device_dax');
  log?.(`famfs mount: ${name} was left in famfs mode; bound to device_dax again to check it`);
}

export function famfsModeWish(s: string): FamfsModeWish {
  if (s === 'auto' || s === 'on' || s === 'off') return s;
  throw new FamfsError('EINVAL', 'mount', `unknown famfs_mode '${s}' (auto, on, off)`, { kind: 'usage' });
}
