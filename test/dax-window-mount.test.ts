/**
 * A real FUSE mount (this machine's kernel, /dev/fuse) served by a Session
 * that has a DAX window and fuse-iomap configured: the mount works as every
 * famfs mount does, and the INIT the kernel sent shows why the window stays
 * idle here — a /dev/fuse connection never offers MAP_ALIGNMENT (the kernel
 * offers it only to a virtio-fs mount with a DAX window) and never sends
 * SETUPMAPPING, and this kernel has no fuse-iomap. The session runs in this
 * process; the test reads through the mount with asynchronous calls so the
 * event loop keeps serving.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Famfs, mkfs, openDevice } from '@famfs/core';
import {
  DaxWindow, FamfsFuseFs, Logger, Session, devFuseTransport, famfsMountOf, primaryDaxdev,
} from '@famfs/fuse';
import { unmount, mountFuse } from '../packages/famfs-fuse/src/mounts.js';
import { GiB, MiB, needsRoot } from './helpers.js';
import { devFuseReq } from './mount-helpers.js';
import { seeded } from './random.js';

const SYS = '6f0e0d0c-0b0a-4908-8706-050403020100';

describe.runIf(needsRoot('a real FUSE mount with a DAX window', [devFuseReq]))('a real mount with a DAX window', () => {
  let dir: string;
  let image: string;
  let mnt: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-window-mount-'));
    image = path.join(dir, 'famfs.img');
    mnt = path.join(dir, 'mnt');
    fs.mkdirSync(mnt);
    const fd = fs.openSync(image, 'wx', 0o644);
    fs.ftruncateSync(fd, 4 * GiB);
    fs.closeSync(fd);
    const dev = openDevice(image, { writable: true });
    mkfs(dev, { systemUuid: SYS, devicePath: image });
    dev.close();
  });

  afterAll(() => {
    if (famfsMountOf(mnt)?.target === mnt) unmount(mnt, true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves files; the kernel offers neither MAP_ALIGNMENT nor fuse-iomap, so the window stays empty', async () => {
    const famfs = Famfs.open(image, { writable: true, systemUuid: SYS });
    const bytes = seeded('window mount').bytes(3 * MiB + 17);
    famfs.writeAt(famfs.createFile('data.bin', bytes.length).file, 0, bytes);
    const window = DaxWindow.create({ size: 64 * MiB, devices: [{ index: 0, path: image, writable: true }] });
    const lines: string[] = [];
    const fuseFd = fs.openSync('/dev/fuse', 'r+');
    let cookieCalls = 0;
    let running: Promise<void> | undefined;
    try {
      mountFuse(image, mnt, fuseFd, MiB);
      const session = new Session(devFuseTransport(fuseFd), new FamfsFuseFs(famfs, { cache: 'none' }), {
        profile: 'kernel-v10',
        maxWrite: MiB,
        daxdevs: [primaryDaxdev(famfs, image)],
        log: new Logger('info', (l) => lines.push(l)),
        window,
        iomap: { profile: 'iomap-2025', cookies: () => (cookieCalls++, new Map()) },
      });
      running = session.run();
      const got = await fs.promises.readFile(path.join(mnt, 'data.bin'));
      expect(Buffer.compare(got, bytes)).toBe(0);
      expect(session.initialized).toBe(true);
      expect(session.iomap).toBe(false);
      expect(cookieCalls).toBe(0);
      expect(lines.filter((l) => l.includes('INIT done'))).toEqual([expect.stringMatching(/INIT done: no mapping extension in this kernel/)]);
      expect(session.stats.ops.SETUPMAPPING ?? 0).toBe(0);
      expect(window.stats()).toMatchObject({ size: 64 * MiB, mappedBytes: 0, mappings: 0, setups: 0, generation: 0 });
    } finally {
      if (famfsMountOf(mnt)?.target === mnt) unmount(mnt, true);
      await running;
      fs.closeSync(fuseFd);
      window.close();
      famfs.close();
    }
  });
});
