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
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Famfs, RandomStream } from '@famfs/core';
import { socketpairSeqpacket } from '@famfs/native';
import {
  DaxWindow, FamfsFuseFs, Logger, Session, VmmWindow, devFuseTransport, famfsMountOf, primaryDaxdev,
} from '@famfs/fuse';
import { unmount, mountFuse } from '../packages/famfs-fuse/src/mounts.js';
import { GiB, MiB, REPO, formattedImage, needsRoot, requireBuiltCli, runBin, tmpDirs } from './helpers.js';
import { Op, cname, initIn, reply, request, setupmappingIn } from '../packages/famfs-fuse/src/test-kernel.testkit.js';
import { devFuseReq, isMounted, waitFor, withMountScratch } from './mount-helpers.js';
import { seeded } from './random.js';

const tmp = tmpDirs('famfs-window-cli-');
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
    formattedImage(image, 4 * GiB, SYS).close();
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

/** An emulated 1 GiB device that mkfs.famfs made in `dir`, and an empty mount point beside it. */
function cliImage(dir: string, env: Record<string, string>): { img: string; mnt: string } {
  const img = path.join(dir, 'famfs.img');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  expect(runBin('mkfs.famfs', ['--create-size', '1g', img], env).status).toBe(0);
  return { img, mnt };
}

describe.runIf(needsRoot('famfs mount -o dax_window', [devFuseReq]))('famfs mount -o dax_window=SIZE', () => {
  const SYS2 = '6f0e0d0c-0b0a-4908-8706-0504030201aa';

  it('the daemon holds a window: famfs status shows its size and mapped bytes, a VMM takes it from the window socket', async () => {
    requireBuiltCli();
    await withMountScratch(tmp.make(), SYS2, async ({ dir, env }) => {
      const { img, mnt } = cliImage(dir, env);
      expect(runBin('famfs', ['-D', img, 'creat', '-s', '3m', '-r', '-S', '5', 'f'], env).status).toBe(0);
      const m = runBin('famfs', ['mount', '-o', 'dax_window=64m', img, mnt], env);
      expect(m.status, m.stderr).toBe(0);
      const st = (): { iomap: boolean; daxWindow: { size: number; mappedBytes: number; mappings: number; socket: string; vmms: number; alignShift: number } } =>
        JSON.parse(runBin('famfs', ['status', '--json', mnt], env).stdout) as ReturnType<typeof st>;
      const s0 = st();
      expect(s0.iomap).toBe(false);
      expect(s0.daxWindow).toMatchObject({ size: 64 * MiB, mappedBytes: 0, mappings: 0, alignShift: 21, vmms: 0 });
      expect(fs.lstatSync(s0.daxWindow.socket).isSocket()).toBe(true);
      expect(fs.lstatSync(s0.daxWindow.socket).mode & 0o777).toBe(0o600);
      const text = runBin('famfs', ['status', mnt], env).stdout;
      expect(text).toMatch(/^DAX window: +67108864 bytes, 0 mapped in 0 mappings/m);
      // the mount serves as any other
      expect(runBin('famfs', ['verify', '-S', '5', '-f', path.join(mnt, 'f')], env).status).toBe(0);
      // a VMM takes the window: its size, alignment and generation, over SCM_RIGHTS
      const vmm = VmmWindow.connect(s0.daxWindow.socket);
      try {
        expect(vmm.size).toBe(64 * MiB);
        expect(vmm.alignShift).toBe(21);
        expect(vmm.generation).toBe(0);
        expect(fs.fstatSync(vmm.memfd).size).toBe(64 * MiB);
        await waitFor(() => st().daxWindow.vmms === 1, 5000);
        expect(st().daxWindow.vmms).toBe(1);
      } finally {
        vmm.close();
      }
      expect(runBin('famfs', ['umount', mnt], env).status).toBe(0);
      expect(fs.existsSync(s0.daxWindow.socket)).toBe(false);
    });
  });

  it('a size that is not a positive multiple of 2 MiB is refused in one line, nothing mounted', async () => {
    requireBuiltCli();
    await withMountScratch(tmp.make(), SYS2, async ({ dir, env }) => {
      const { img, mnt } = cliImage(dir, env);
      for (const bad of ['3m', '0', 'lots']) {
        const r = runBin('famfs', ['mount', '-o', `dax_window=${bad}`, img, mnt], env);
        expect(r.status).not.toBe(0);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toContain(`dax_window=${bad}`);
        expect(isMounted(mnt)).toBe(false);
      }
    });
  });
});

describe('famfs serve --dax-window: the window through the real CLI, a VMM in this process', () => {
  it.each([[1], [2]])('SETUPMAPPING from the test kernel maps the file; the VMM that took the window socket reads its bytes (%i device(s); with 2 the file is on daxdev 1)', async (ndev) => {
    requireBuiltCli();
    const SYS3 = '6f0e0d0c-0b0a-4908-8706-0504030201ab';
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-window-serve-'));
    const [kfd, sfd] = socketpairSeqpacket();
    let child: ChildProcess | undefined;
    try {
      const img = path.join(dir, 'famfs.img');
      const sock = path.join(dir, 'window.sock');
      const env = { FAMFS_SYSTEM_UUID: SYS3, FAMFS_STATE_DIR: path.join(dir, 'state') };
      const secondaries = ndev === 2 ? [path.join(dir, 'second.img')] : [];
      expect(runBin('mkfs.famfs', ['--create-size', '1g', img, ...secondaries], env).status).toBe(0);
      expect(runBin('famfs', ['-D', img, 'creat', ...(ndev === 2 ? ['--daxdev', '1'] : []), '-s', '6m', '-r', '-S', '9', 'f'], env).status).toBe(0);
      if (ndev === 2) expect(runBin('famfs', ['-D', img, 'getmap', 'f'], env).stdout).toMatch(/\tdaxdev 1$/m);
      const want = new Uint8Array(6 * MiB);
      new RandomStream(9).fill(want);
      child = spawn(path.join(REPO, 'bin/famfs'), ['-D', img, 'serve', '--fd', '3', '--dax-window', '32m', '--window-socket', sock], {
        env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe', sfd],
      });
      fs.closeSync(sfd);
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      const buf = new Uint8Array(64 * 1024);
      let unique = 1n;
      // the child's replies come on the socket; read them off the event loop so its stderr keeps flowing
      const call = async (op: number, nodeid: bigint, body: Uint8Array): Promise<{ u: bigint; got: Uint8Array }> => {
        const u = unique++;
        fs.writeSync(kfd, request(op, u, nodeid, body));
        const n = await new Promise<number>((resolve, reject) => fs.read(kfd, buf, 0, buf.length, null, (e, k) => (e ? reject(e) : resolve(k))));
        return { u, got: buf.slice(0, n) };
      };
      // INIT offering MAP_ALIGNMENT (bit 26), as a virtio-fs kernel with a DAX window does
      const init = await call(Op.INIT, 0n, initIn(7, 45, 128 * 1024, 0x7fff_fffb, 0x7ff));
      const iv = new DataView(init.got.buffer, init.got.byteOffset);
      expect(iv.getInt32(4, true), err).toBe(0);
      expect(iv.getUint32(16 + 12, true) & (1 << 26)).toBe(1 << 26);
      expect(iv.getUint16(16 + 30, true)).toBe(21);
      const look = await call(Op.LOOKUP, 1n, cname('f'));
      const lv = new DataView(look.got.buffer, look.got.byteOffset);
      expect(lv.getInt32(4, true)).toBe(0);
      const nodeid = lv.getBigUint64(16, true);
      // map file bytes [2 MiB, 6 MiB) at window offset 8 MiB, read-only; no fh (all ones)
      const sm = await call(Op.SETUPMAPPING, nodeid, setupmappingIn(0xffff_ffff_ffff_ffffn, 2 * MiB, 4 * MiB, 1 << 1, 8 * MiB));
      expect(sm.got).toEqual(reply(sm.u));
      // a misaligned one is refused (EINVAL), nothing half-mapped
      const bad = await call(Op.SETUPMAPPING, nodeid, setupmappingIn(0xffff_ffff_ffff_ffffn, 4096, 2 * MiB, 1 << 1, 0));
      expect(new DataView(bad.got.buffer, bad.got.byteOffset).getInt32(4, true)).toBe(-22);
      const vmm = VmmWindow.connect(sock);
      try {
        const offs = [0, 4096, 2 * MiB - 16, 3 * MiB + 123, 4 * MiB - 16].map((o) => 8 * MiB + o);
        const dst = new Uint8Array(offs.length * 16);
        const status = vmm.probe(offs, 16, dst);
        expect([...status]).toEqual(offs.map(() => 1)); // readable, read-only
        offs.forEach((o, i) => expect(dst.subarray(i * 16, i * 16 + 16), `window offset ${o}`).toEqual(want.subarray(o - 8 * MiB + 2 * MiB, o - 8 * MiB + 2 * MiB + 16)));
        // outside the mapping: the base layer, which reads as nothing
        expect([...vmm.probe([0, 12 * MiB], 16, new Uint8Array(32))]).toEqual([0, 0]);
      } finally {
        vmm.close();
      }
    } finally {
      fs.closeSync(kfd); // the server sees its peer hang up and ends
      if (child !== undefined && child.exitCode === null) {
        const done = new Promise((r) => child!.once('exit', r));
        const t = setTimeout(() => child!.kill('SIGKILL'), 5000);
        await done;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
