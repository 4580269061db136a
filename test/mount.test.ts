/**
 * famfs mounted through FUSE, used with ordinary tools: ls, stat, find, cat,
 * cp, dd (also O_DIRECT), md5sum/sha256sum, Python mmap and df read what
 * `famfs -D IMG cp` wrote; writes inside a file reach the device; every
 * namespace change through the mount is refused and leaves the log alone;
 * a master and a client share one image; a daemon killed with SIGKILL leaves
 * a dead mount that `famfs mount` replaces; `famfs umount` and plain
 * `umount` end the daemon. All of it on an emulated device (a sparse image
 * file) and on a loop block device.
 *
 * Needs root, /dev/fuse, losetup and python3; without them it says why and
 * skips, or fails when FAMFS_TEST_NO_SKIP is set (CI).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GiB, MiB, REPO, type RunResult, lines, needsRoot, onPathReq, requireBuiltCli, runBin, sha256File, sparseImage, tmpDirs,
} from './helpers.js';
import {
  cleanupMounts, daemonOf, devFuseReq, isMounted, pidGone, q, readMounts, sh, waitFor,
} from './mount-helpers.js';

import { seeded } from './random.js';

/** every random byte of this file: seeded (test/random.ts) */
const R = seeded('mount.test');

const MASTER = '6a3b4c2d-0000-4000-8000-00000000000a';
const CLIENT = '6a3b4c2d-0000-4000-8000-00000000000b';
const FAMFS_BIN = path.join(REPO, 'bin/famfs');
const CHUNK = 2 * MiB;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

const tmp = tmpDirs('famfs-mount-');

interface FsckJson {
  clean: boolean;
  deviceSize: number;
  files: number;
  directories: number;
  log: { entriesUsed: number };
  capacity: { deviceCapacity: number; allocatedBytes: number; freeBytes: number };
  errors: string[];
}

/** `famfs -D DEV cat FILE` as bytes (runBin decodes text). */
function catOffline(dev: string, file: string, env: Record<string, string>): Buffer {
  const r = spawnSync(FAMFS_BIN, ['-D', dev, 'cat', file], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    maxBuffer: 256 * MiB,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`famfs cat ${file} exited ${r.status}: ${r.stderr.toString()}`);
  return r.stdout;
}

function ok(r: RunResult, what: string): RunResult {
  expect(r.status, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

type DeviceKind = 'emulated' | 'loop';

function deviceSuite(kind: DeviceKind): void {
  describe(kind === 'emulated' ? 'on an emulated device (8 GiB sparse image file)' : 'on a loop block device (6 GiB)', () => {
    let dir: string;
    let runDir: string;
    let dev: string;
    let devSize: number;
    let loop: string | undefined;
    let mnt: string;
    /** the files written before mounting: path relative to the root -> contents */
    const files = new Map<string, Buffer>();
    const envA = (): Record<string, string> => ({ FAMFS_SYSTEM_UUID: MASTER, FAMFS_RUN_DIR: runDir });
    const envB = (): Record<string, string> => ({ FAMFS_SYSTEM_UUID: CLIENT, FAMFS_RUN_DIR: runDir });
    const famfs = (args: string[], env = envA()): RunResult => runBin('famfs', args, env);
    const fsckJson = (target: string): FsckJson => {
      const r = ok(famfs(['fsck', '--json', target]), `famfs fsck --json ${target}`);
      return JSON.parse(r.stdout) as FsckJson;
    };
    const mount = (mp = mnt, env = envA()): void => {
      ok(famfs(['mount', dev, mp], env), `famfs mount ${dev} ${mp}`);
      expect(isMounted(mp)).toBe(true);
    };
    /** sha256 of each file read through the mount with sha256sum, compared with the local contents. */
    const expectShaThrough = (root: string, names: string[]): void => {
      const r = ok(sh(`cd ${q(root)} && sha256sum ${names.map(q).join(' ')}`), 'sha256sum');
      expect(lines(r.stdout)).toEqual(names.map((n) => `${sha256(files.get(n)!)}  ${n}`));
    };

    beforeAll(() => {
      requireBuiltCli();
      dir = tmp.make(`${kind}-`);
      runDir = path.join(dir, 'run');
      mnt = path.join(dir, 'mnt');
      fs.mkdirSync(mnt);
      if (kind === 'emulated') {
        dev = path.join(dir, 'famfs.img');
        devSize = 8 * GiB;
        ok(runBin('mkfs.famfs', ['--create-size', '8g', dev], { FAMFS_SYSTEM_UUID: MASTER }), 'mkfs.famfs');
      } else {
        devSize = 6 * GiB;
        const backing = sparseImage(path.join(dir, 'loop-backing.img'), devSize);
        const r = spawnSync('losetup', ['-f', '--show', backing], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`losetup -f --show failed: ${r.stderr.trim()}`);
        loop = r.stdout.trim();
        dev = loop;
        ok(runBin('mkfs.famfs', [dev], { FAMFS_SYSTEM_UUID: MASTER }), 'mkfs.famfs');
      }

      // the local originals, copied in offline
      files.set('big', R.bytes(50 * MiB));
      files.set('ilv', R.bytes(20 * MiB + 12345));
      files.set('hello.txt', Buffer.from('hello famfs\n'));
      files.set('odd.bin', R.bytes(123457));
      files.set('dir/sub/note.txt', Buffer.from('a note in a subdirectory\n'));
      const local = path.join(dir, 'local');
      fs.mkdirSync(path.join(local, 'dir/sub'), { recursive: true });
      for (const [name, data] of files) {
        fs.writeFileSync(path.join(local, name), data);
        fs.chmodSync(path.join(local, name), 0o644);
      }
      const off = (args: string[]) => ok(famfs(['-D', dev, ...args]), `famfs -D ${dev} ${args.join(' ')}`);
      off(['mkdir', '-p', 'dir/sub']);
      off(['cp', path.join(local, 'big'), 'big']);
      off(['cp', '-N', '4', '-B', '4', '-C', '2m', path.join(local, 'ilv'), 'ilv']);
      off(['cp', path.join(local, 'hello.txt'), 'hello.txt']);
      off(['cp', path.join(local, 'odd.bin'), 'odd.bin']);
      off(['cp', path.join(local, 'dir/sub/note.txt'), 'dir/sub/note.txt']);
      // the interleaved file really is interleaved: 4 strips, 2 MiB chunks
      const map = off(['getmap', 'ilv']).stdout;
      expect(map).toContain('Interleaved extent has 4 strips');
      expect(map).toContain(`chunk_size: ${CHUNK}`);

      mount();
    });

    afterAll(async () => {
      try {
        if (dir !== undefined) {
          const forced = await cleanupMounts(dir, runDir, { FAMFS_SYSTEM_UUID: MASTER });
          if (forced.length > 0) console.warn(`mount.test cleanup had to force: ${forced.join('; ')}`);
        }
      } finally {
        if (loop !== undefined) {
          const r = spawnSync('losetup', ['-d', loop], { encoding: 'utf8' });
          if (r.status !== 0) console.warn(`losetup -d ${loop} failed: ${r.stderr.trim()}`);
        }
      }
    });

    it('/proc/mounts shows DEV MNT fuse.famfs, and the daemon recorded its state', () => {
      const m = readMounts().filter((x) => x.target === mnt);
      expect(m).toEqual([{ source: dev, target: mnt, type: 'fuse.famfs' }]);
      const { state } = daemonOf(runDir, mnt);
      expect(state.device).toBe(dev);
      expect(state.systemUuid).toBe(MASTER);
      expect(pidGone(state.pid)).toBe(false);
    });

    it('famfs status reports the mount (text and --json); famfs loglevel changes the daemon log level; flush -i on a mounted file', () => {
      const st = ok(famfs(['status', mnt]), 'famfs status');
      expect(st.stdout).toMatch(new RegExp(`^mount point: +${mnt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      expect(st.stdout).toMatch(/^role: +master$/m);
      expect(st.stdout).toMatch(/^mode: +READ\/WRITE/m);
      const j = JSON.parse(ok(famfs(['status', '--json', path.join(mnt, 'big')]), 'famfs status --json').stdout) as Record<string, unknown>;
      expect(j).toMatchObject({ device: dev, mountpoint: mnt, role: 'master', systemUuid: MASTER, daxFmap: false, logLevel: 'info' });
      ok(famfs(['loglevel', mnt, 'debug']), 'famfs loglevel debug');
      expect(JSON.parse(famfs(['status', '--json', mnt]).stdout)).toMatchObject({ logLevel: 'debug' });
      ok(famfs(['loglevel', mnt, 'info']), 'famfs loglevel info');
      const bad = famfs(['loglevel', mnt, 'loud']);
      expect(bad.status).not.toBe(0);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      ok(famfs(['flush', '-i', path.join(mnt, 'big')]), 'famfs flush -i');
      const notMounted = famfs(['status', dir]);
      expect(notMounted.status).not.toBe(0);
      expect(notMounted.stderr).toMatch(/not in a mounted famfs/);
    });

    it('ls -l, stat and find show the files with their sizes, modes and owners', () => {
      const ls = ok(sh(`LC_ALL=C ls -l ${q(mnt)}`), 'ls -l');
      const rows = lines(ls.stdout).slice(1).map((l) => l.split(/\s+/));
      const byName = new Map(rows.map((f) => [f[8]!, f]));
      expect([...byName.keys()].sort()).toEqual(['big', 'dir', 'hello.txt', 'ilv', 'odd.bin']);
      for (const name of ['big', 'ilv', 'hello.txt', 'odd.bin']) {
        const f = byName.get(name)!;
        expect(f[0]).toBe('-rw-r--r--');
        expect(f.slice(2, 5)).toEqual(['root', 'root', String(files.get(name)!.length)]);
      }
      expect(byName.get('dir')![0]).toBe('drwxr-xr-x');

      const names = [...files.keys()];
      const st = ok(sh(`cd ${q(mnt)} && stat -c '%s %a %u %g' ${names.map(q).join(' ')}`), 'stat');
      expect(lines(st.stdout)).toEqual(names.map((n) => `${files.get(n)!.length} 644 0 0`));
      const sd = ok(sh(`stat -c '%F %a' ${q(mnt)}/dir ${q(mnt)}/dir/sub`), 'stat dirs');
      expect(lines(sd.stdout)).toEqual(['directory 755', 'directory 755']);

      const find = ok(sh(`find ${q(mnt)}`), 'find');
      expect(lines(find.stdout).sort()).toEqual(
        ['', '/.meta', '/.meta/.log', '/.meta/.superblock', '/big', '/dir', '/dir/sub', '/dir/sub/note.txt', '/hello.txt', '/ilv', '/odd.bin']
          .map((p) => mnt + p).sort(),
      );
    });

    it('cat, cp out of the mount, md5sum and sha256sum match the originals', () => {
      expect(ok(sh(`cat ${q(mnt)}/hello.txt`), 'cat').stdout).toBe('hello famfs\n');
      expect(ok(sh(`cat ${q(mnt)}/dir/sub/note.txt`), 'cat').stdout).toBe('a note in a subdirectory\n');

      const out = path.join(dir, 'out');
      fs.mkdirSync(out);
      ok(sh(`cp ${q(mnt)}/big ${q(mnt)}/ilv ${q(mnt)}/odd.bin ${q(out)}/`), 'cp out');
      for (const n of ['big', 'ilv', 'odd.bin']) expect(sha256File(path.join(out, n)), n).toBe(sha256(files.get(n)!));
      fs.rmSync(out, { recursive: true });

      const names = [...files.keys()];
      const m = ok(sh(`cd ${q(mnt)} && md5sum ${names.map(q).join(' ')}`), 'md5sum');
      expect(lines(m.stdout)).toEqual(names.map((n) => `${md5(files.get(n)!)}  ${n}`));
      expectShaThrough(mnt, names);
    });

    it('dd reads whole files and ranges, buffered and with iflag=direct', () => {
      const ddSha = (args: string) => ok(sh(`dd ${args} status=none | sha256sum`), `dd ${args}`).stdout.split(' ')[0];
      const ilv = files.get('ilv')!;
      const big = files.get('big')!;
      expect(ddSha(`if=${q(mnt)}/ilv bs=1M iflag=direct`)).toBe(sha256(ilv));
      expect(ddSha(`if=${q(mnt)}/big bs=1M`)).toBe(sha256(big));
      expect(ddSha(`if=${q(mnt)}/odd.bin bs=4k iflag=direct`)).toBe(sha256(files.get('odd.bin')!));
      // 3 pages across the first interleave chunk boundary (strip 0 -> strip 1)
      expect(ddSha(`if=${q(mnt)}/ilv bs=4096 skip=511 count=3`)).toBe(sha256(ilv.subarray(511 * 4096, 514 * 4096)));
      expect(ddSha(`if=${q(mnt)}/ilv bs=4096 skip=511 count=3 iflag=direct`)).toBe(sha256(ilv.subarray(511 * 4096, 514 * 4096)));
      // a full stripe row further on (chunk 3 -> chunk 4: strip 3 -> strip 0), and past EOF
      expect(ddSha(`if=${q(mnt)}/ilv bs=1M skip=7 count=2 iflag=direct`)).toBe(sha256(ilv.subarray(7 * MiB, 9 * MiB)));
      expect(ddSha(`if=${q(mnt)}/ilv bs=1M skip=20 count=4 iflag=direct`)).toBe(sha256(ilv.subarray(20 * MiB)));
      expect(ddSha(`if=${q(mnt)}/big bs=64k skip=7 count=5 iflag=direct`)).toBe(sha256(big.subarray(7 * 65536, 12 * 65536)));
      // unaligned byte ranges
      expect(ddSha(`if=${q(mnt)}/big bs=100000 iflag=skip_bytes skip=1234567 count=1`)).toBe(sha256(big.subarray(1234567, 1334567)));
    });

    it('Python mmap of mounted files reads the same bytes', () => {
      const script = [
        'import hashlib, mmap, sys',
        'for p in sys.argv[1:]:',
        '    with open(p, "rb") as f:',
        '        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)',
        '        print(len(m), hashlib.sha256(m).hexdigest(), hashlib.sha256(m[2097100:2097300]).hexdigest())',
        '        m.close()',
      ].join('\n');
      const names = ['big', 'ilv', 'odd.bin', 'hello.txt'];
      const r = ok(sh(`python3 -c ${q(script)} ${names.map((n) => q(path.join(mnt, n))).join(' ')}`), 'python mmap');
      expect(lines(r.stdout)).toEqual(
        names.map((n) => {
          const b = files.get(n)!;
          return `${b.length} ${sha256(b)} ${sha256(b.subarray(2097100, 2097300))}`;
        }),
      );
    });

    it('writes inside a file (across interleave chunk boundaries) reach the device: checked offline after unmount', async () => {
      const ilv = Buffer.from(files.get('ilv')!);
      const big = Buffer.from(files.get('big')!);
      const patches: Array<{ file: string; buf: Buffer; offset: number; data: Buffer }> = [
        { file: 'ilv', buf: ilv, offset: CHUNK - 50_000, data: R.bytes(100_000) }, // chunk 0 -> 1
        { file: 'ilv', buf: ilv, offset: 4 * CHUNK - 4096, data: R.bytes(8192) }, // chunk 3 -> 4 (strip 3 -> strip 0)
        { file: 'ilv', buf: ilv, offset: ilv.length - 777, data: R.bytes(777) }, // up to EOF exactly
        { file: 'big', buf: big, offset: MiB - 10, data: R.bytes(20) },
      ];
      for (const [i, p] of patches.entries()) {
        const src = path.join(dir, `patch${i}`);
        fs.writeFileSync(src, p.data);
        ok(sh(`dd if=${q(src)} of=${q(path.join(mnt, p.file))} bs=${p.data.length} count=1 seek=${p.offset} oflag=seek_bytes conv=notrunc status=none`), `dd patch ${i}`);
        p.data.copy(p.buf, p.offset);
      }
      files.set('ilv', ilv);
      files.set('big', big);
      // read back through the mount, then from the device with the file system unmounted
      expectShaThrough(mnt, ['ilv', 'big']);
      ok(famfs(['umount', mnt]), 'famfs umount');
      expect(isMounted(mnt)).toBe(false);
      expect(sha256(catOffline(dev, 'ilv', envA()))).toBe(sha256(ilv));
      expect(sha256(catOffline(dev, 'big', envA()))).toBe(sha256(big));
      const f = fsckJson(dev);
      expect(f.clean).toBe(true);
      mount();
      expectShaThrough(mnt, ['ilv', 'big']);
    });

    it('df -B1 shows the device size and the space fsck counts as allocated; fsck of the device while mounted is refused', () => {
      const f = fsckJson(mnt); // a mount point is checked through its device
      expect(f.clean).toBe(true);
      expect(f.capacity.deviceCapacity).toBe(devSize);
      const df = ok(sh(`df -B1 ${q(mnt)}`), 'df');
      const row = lines(df.stdout)[1]!.split(/\s+/);
      expect(row[0]).toBe(dev);
      expect(Number(row[1])).toBe(devSize);
      expect(Number(row[2])).toBe(f.capacity.allocatedBytes);
      expect(Number(row[3])).toBe(f.capacity.freeBytes);
      expect(row[5]).toBe(mnt);
      // the files alone take at least their sizes
      let sum = 0;
      for (const b of files.values()) sum += b.length;
      expect(f.capacity.allocatedBytes).toBeGreaterThan(sum);

      const busy = famfs(['fsck', dev]);
      expect(busy.status).toBe(16);
      expect(busy.stderr).toMatch(/when mounted/);
    });

    it('rm, mv, truncate, touch of a new file, ln, ln -s, mkfifo, chmod and appends fail and leave the log alone', () => {
      const before = fsckJson(mnt);
      const listing = ok(sh(`find ${q(mnt)} | sort`), 'find').stdout;
      const m = q(mnt);
      const refused = [
        `rm ${m}/hello.txt`,
        `rm -rf ${m}/dir/sub`,
        `rmdir ${m}/dir/sub`,
        `mv ${m}/hello.txt ${m}/moved.txt`,
        `mv ${m}/dir ${m}/dir2`,
        `truncate -s 0 ${m}/odd.bin`,
        `truncate -s 100M ${m}/odd.bin`,
        `touch ${m}/newfile`,
        `ln ${m}/hello.txt ${m}/hardlink`,
        `ln -s hello.txt ${m}/symlink`,
        `mkfifo ${m}/fifo`,
        `chmod 600 ${m}/hello.txt`,
        `echo more >> ${m}/hello.txt`, // append: past EOF
        `echo new > ${m}/hello.txt`, // O_TRUNC
        `dd if=/dev/zero of=${m}/hello.txt bs=1 count=1 seek=${files.get('hello.txt')!.length} conv=notrunc status=none`,
        `dd if=/dev/zero of=${m}/odd.bin bs=4096 count=1 seek=1000 conv=notrunc status=none`,
        `cp ${m}/hello.txt ${m}/dir/copy.txt`,
      ];
      for (const cmd of refused) {
        const r = sh(cmd);
        expect(r.status, `${cmd} should fail`).not.toBe(0);
      }
      const after = fsckJson(mnt);
      expect(after.log.entriesUsed).toBe(before.log.entriesUsed);
      expect(after.clean).toBe(true);
      expect(after.files).toBe(before.files);
      expect(after.directories).toBe(before.directories);
      expect(ok(sh(`find ${q(mnt)} | sort`), 'find').stdout).toBe(listing);
      expectShaThrough(mnt, ['hello.txt', 'odd.bin']);
      // touching an existing file is harmless (famfs stores no times)
      ok(sh(`touch ${m}/hello.txt`), 'touch existing');
    });

    it('master and client on one image: the client is read-only and sees what the master creates', async () => {
      const m2 = path.join(dir, 'client');
      const m3 = path.join(dir, 'again');
      fs.mkdirSync(m2);
      fs.mkdirSync(m3);
      mount(m2, envB());
      try {
        expect(daemonOf(runDir, m2).state.systemUuid).toBe(CLIENT);
        const names = [...files.keys()];
        const st = ok(sh(`cd ${q(m2)} && stat -c '%a' ${names.map(q).join(' ')}`), 'stat on client');
        for (const mode of lines(st.stdout)) expect(parseInt(mode, 8) & 0o222).toBe(0);
        expectShaThrough(m2, names);

        const w = sh(`dd if=/dev/zero of=${q(m2)}/hello.txt bs=1 count=1 conv=notrunc status=none`);
        expect(w.status).not.toBe(0);
        expect(sh(`mkdir ${q(m2)}/fromclient`).status).not.toBe(0);
        const c = famfs(['creat', '-s', '2m', path.join(m2, 'fromclient')], envB());
        expect(c.status, c.stderr).toBe(1);
        expect(c.stderr).toMatch(/client/);
        expect(ok(sh(`cat ${q(mnt)}/hello.txt`), 'cat').stdout).toBe('hello famfs\n');

        ok(famfs(['creat', '-s', '2m', '-r', '-S', '9', path.join(mnt, 'new')]), 'creat on the master');
        ok(famfs(['logplay', m2], envB()), 'logplay on the client');
        expect(lines(ok(sh(`ls ${q(m2)}`), 'ls').stdout)).toContain('new');
        expect(ok(sh(`stat -c '%s %a' ${q(m2)}/new`), 'stat').stdout.trim()).toBe(`${2 * MiB} 444`);
        ok(famfs(['verify', '-S', '9', '-f', path.join(m2, 'new')], envB()), 'verify on the client');

        // host A has the image mounted already: a second mount is refused
        const again = famfs(['mount', dev, m3]);
        expect(again.status).not.toBe(0);
        expect(again.stderr).toMatch(/already has .* mounted/);
        expect(isMounted(m3)).toBe(false);
        const nofuse = famfs(['mount', '-F', dev, m3]);
        expect(nofuse.status).not.toBe(0);
        expect(nofuse.stderr).toMatch(/--nofuse needs the standalone famfs kernel module/);
        expect(isMounted(m3)).toBe(false);
      } finally {
        const pid = daemonOf(runDir, m2).state.pid;
        ok(famfs(['umount', m2], envB()), 'famfs umount client');
        expect(await waitFor(() => pidGone(pid), 5000)).toBe(true);
      }
      expect(fsckJson(mnt).clean).toBe(true);
    });

    it('a daemon killed with SIGKILL leaves ENOTCONN; famfs mount on the same mount point serves again', async () => {
      const { state } = daemonOf(runDir, mnt);
      process.kill(state.pid, 'SIGKILL');
      expect(await waitFor(() => pidGone(state.pid), 5000)).toBe(true);
      // the kernel may answer from its attribute cache (1 s with cache=auto) until it expires
      let st = sh(`stat ${q(mnt)}`);
      expect(await waitFor(() => (st = sh(`stat ${q(mnt)}`)).status !== 0, 3000), 'stat kept working after the daemon died').toBe(true);
      expect(st.stderr).toContain('Transport endpoint is not connected');

      mount();
      const again = daemonOf(runDir, mnt).state;
      expect(again.pid).not.toBe(state.pid);
      expect(readMounts().filter((x) => x.target === mnt)).toHaveLength(1);
      expectShaThrough(mnt, [...files.keys()]);
      ok(famfs(['verify', '-S', '9', '-f', path.join(mnt, 'new')]), 'verify');
    });

    it('famfs umount and plain umount both end the daemon and remove its state (famfs umount also of a dead mount)', async () => {
      for (const how of ['famfs umount', 'umount'] as const) {
        if (!isMounted(mnt)) mount();
        const { file, state } = daemonOf(runDir, mnt);
        const t0 = Date.now();
        if (how === 'famfs umount') ok(famfs(['umount', mnt]), how);
        else ok(sh(`umount ${q(mnt)}`), how);
        expect(isMounted(mnt)).toBe(false);
        expect(await waitFor(() => pidGone(state.pid), 5000), `${how}: daemon ${state.pid} still running`).toBe(true);
        expect(await waitFor(() => !fs.existsSync(file), 5000), `${how}: ${file} still there`).toBe(true);
        console.log(`${kind}: ${how}: daemon gone after ${Date.now() - t0} ms`);
      }
      // a dead mount (daemon killed): famfs umount detaches it and forgets the daemon
      mount();
      const { file, state } = daemonOf(runDir, mnt);
      process.kill(state.pid, 'SIGKILL');
      expect(await waitFor(() => pidGone(state.pid), 5000)).toBe(true);
      ok(famfs(['umount', mnt]), 'famfs umount of a dead mount');
      expect(isMounted(mnt)).toBe(false);
      expect(fs.existsSync(file)).toBe(false);
      expect(fsckJson(dev).clean).toBe(true);
    });
  });
}

describe.runIf(needsRoot('famfs mount through FUSE', [devFuseReq, onPathReq('losetup'), onPathReq('python3')]))('famfs mounted', () => {
  deviceSuite('emulated');
  deviceSuite('loop');
});
