/**
 * famfs through mount(8) and fstab: `mount -t famfs IMAGE DIR -o …`,
 * `mount -a` with a temporary fstab (`mount -T FILE -a`), `mount -N` into
 * another mount namespace, bad options and failed mounts — all through the
 * mount.famfs helper, found by mount(8) where it looks for helpers (/sbin),
 * then `findmnt` and a plain `umount DIR`, which ends the daemon.
 *
 * Each case runs in a private mount namespace (`unshare -m --propagation
 * private`) where a temporary directory holding mount.famfs (and links to
 * everything else in /sbin) is bind-mounted over /sbin, and a tmpfs over
 * /run (mount(8) records fstab-only options such as _netdev in
 * /run/mount/utab): the machine's /sbin, /run and mount table are never
 * touched. The daemons' state goes to a temporary FAMFS_RUN_DIR, which the
 * helper passes on; the cleanup kills any daemon recorded there.
 *
 * Needs root, /dev/fuse, unshare, nsenter and findmnt.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, type RunResult, lines, needsRoot, onPathReq, requireBuiltCli, runBin, tmpDirs } from './helpers.js';
import { daemonStates, devFuseReq, pidGone, q, sh, waitFor, withMountScratch, type MountScratch } from './mount-helpers.js';

const UUID = '5e1f0c3a-0000-4000-8000-0000000f57ab';
const tmp = tmpDirs('famfs-fstab-');

/** Where mount(8) looks for helpers (/sbin, or what it links to on merged-/usr systems). */
const REAL_SBIN = fs.realpathSync('/sbin');

/** A directory to bind over /sbin: links to everything there, plus mount.famfs running this checkout's build. */
function helperSbin(dir: string): string {
  const sbin = path.join(dir, 'sbin');
  fs.mkdirSync(sbin);
  for (const name of fs.readdirSync(REAL_SBIN)) {
    if (name !== 'mount.famfs') fs.symlinkSync(path.join(REAL_SBIN, name), path.join(sbin, name));
  }
  fs.writeFileSync(path.join(sbin, 'mount.famfs'), `#!/bin/sh\nexec ${q(path.join(REPO, 'bin/mount.famfs'))} "$@"\n`, { mode: 0o755 });
  return sbin;
}

/**
 * Run `script` (sh) in a new private mount namespace with the helper's /sbin
 * and a private /run. The namespace ends with its last process: the script,
 * or a daemon the script left running (the cleanup kills those).
 */
function inNamespace(s: MountScratch, sbin: string, script: string): RunResult {
  const prelude = `mount --bind ${q(sbin)} ${q(REAL_SBIN)} && mount -t tmpfs -o mode=755 famfs-test-run /run || exit 99`;
  const r = sh(`exec unshare -m --propagation private sh -c ${q(`${prelude}\n${script}`)}`, s.env, 120_000);
  if (r.status === 99) throw new Error(`could not set up the mount namespace: ${r.stderr}`);
  return r;
}

/** A fresh famfs image with one file, hello.txt, and an empty mount point. */
function imageWithFile(s: MountScratch, name: string): { img: string; mnt: string; text: string } {
  const img = path.join(s.dir, `${name}.img`);
  const mnt = path.join(s.dir, `${name}-mnt`);
  fs.mkdirSync(mnt);
  const text = `hello from ${name}\n`;
  const src = path.join(s.dir, `${name}-hello.txt`);
  fs.writeFileSync(src, text);
  for (const [args, what] of [
    [['--create-size', '1g', img], 'mkfs.famfs'],
  ] as const) {
    const r = runBin('mkfs.famfs', [...args], s.env);
    if (r.status !== 0) throw new Error(`${what}: ${r.stderr}`);
  }
  const cp = runBin('famfs', ['-D', img, 'cp', src, 'hello.txt'], s.env);
  if (cp.status !== 0) throw new Error(`famfs cp: ${cp.stderr}`);
  return { img, mnt, text };
}

const read = (f: string): string => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '<missing>');

/** After the namespace script unmounted: the daemon that served `mnt` ends and its state file goes. */
async function expectDaemonEnded(s: MountScratch, state: { pid: number; mountpoint: string }): Promise<void> {
  expect(await waitFor(() => pidGone(state.pid), 10_000), `daemon ${state.pid} still running after umount`).toBe(true);
  expect(await waitFor(() => ![...daemonStates(s.runDir).values()].some((d) => d.mountpoint === state.mountpoint), 5_000)).toBe(true);
}

describe.runIf(needsRoot('mount(8) and fstab through mount.famfs', [devFuseReq, onPathReq('unshare'), onPathReq('nsenter'), onPathReq('findmnt'), onPathReq('mount')]))(
  'mount(8), fstab and umount through mount.famfs',
  () => {
    beforeAll(() => requireBuiltCli());

    it('mount -t famfs IMAGE DIR -o …: findmnt shows source, target and type; the file reads; umount DIR ends the daemon', async () => {
      await withMountScratch(tmp.make('t'), UUID, async (s) => {
        const sbin = helperSbin(s.dir);
        const { img, mnt, text } = imageWithFile(s, 'a');
        const out = (f: string) => path.join(s.dir, f);
        const r = inNamespace(s, sbin, [
          `mount -t famfs ${q(img)} ${q(mnt)} -o cache=none,nofail,_netdev,noatime,x-systemd.device-timeout=5 > ${q(out('mount.out'))} 2>&1; echo $? > ${q(out('mount.rc'))}`,
          `findmnt -n -o SOURCE,TARGET,FSTYPE --mountpoint ${q(mnt)} > ${q(out('findmnt'))}`,
          `cat ${q(path.join(mnt, 'hello.txt'))} > ${q(out('read'))}`,
          `cat ${q(s.runDir)}/*.json > ${q(out('state'))}`,
          `umount ${q(mnt)}; echo $? > ${q(out('umount.rc'))}`,
          `findmnt -n --mountpoint ${q(mnt)} > ${q(out('after'))}; true`,
        ].join('\n'));
        expect(r.status, r.stderr).toBe(0);
        expect(read(out('mount.rc')).trim(), read(out('mount.out'))).toBe('0');
        expect(read(out('mount.out'))).toBe('');
        expect(read(out('findmnt')).trim().split(/\s+/)).toEqual([img, mnt, 'fuse.famfs']);
        expect(read(out('read'))).toBe(text);
        const state = JSON.parse(read(out('state'))) as { pid: number; mountpoint: string; device: string; systemUuid: string };
        // the helper passed the environment on: this run directory, this host
        expect(state).toMatchObject({ mountpoint: mnt, device: img, systemUuid: UUID });
        expect(read(out('umount.rc')).trim()).toBe('0');
        expect(read(out('after'))).toBe('');
        await expectDaemonEnded(s, state);
      });
    });

    it('mount -a with a temporary fstab (nofail, _netdev, x-systemd.*): mounts, says "already mounted" the second time, skips noauto and a missing nofail device; umount ends the daemon', async () => {
      await withMountScratch(tmp.make('t'), UUID, async (s) => {
        const sbin = helperSbin(s.dir);
        const { img, mnt, text } = imageWithFile(s, 'b');
        const other = imageWithFile(s, 'c');
        const missingMnt = path.join(s.dir, 'missing-mnt');
        fs.mkdirSync(missingMnt);
        const fstab = path.join(s.dir, 'fstab');
        fs.writeFileSync(
          fstab,
          [
            '# a test fstab: an image file, as /dev/dax0.0 would be',
            `${img}\t${mnt}\tfamfs\tdefaults,nofail,x-systemd.requires=foo,_netdev,cache=none\t0 0`,
            `${other.img}\t${other.mnt}\tfamfs\tdefaults,noauto\t0 0`,
            `${path.join(s.dir, 'no-such-device')}\t${missingMnt}\tfamfs\tdefaults,nofail\t0 0`,
            '',
          ].join('\n'),
        );
        const out = (f: string) => path.join(s.dir, f);
        const r = inNamespace(s, sbin, [
          `mount -T ${q(fstab)} -a > ${q(out('a1.out'))} 2>&1; echo $? > ${q(out('a1.rc'))}`,
          `findmnt -n -o SOURCE,TARGET,FSTYPE -t fuse.famfs > ${q(out('findmnt'))}`,
          `findmnt -n -o SOURCE,TARGET,FSTYPE -T ${q(path.join(mnt, 'hello.txt'))} > ${q(out('findmnt-T'))}`,
          `cat ${q(path.join(mnt, 'hello.txt'))} > ${q(out('read'))}`,
          `mount -T ${q(fstab)} -a -v > ${q(out('a2.out'))} 2>&1; echo $? > ${q(out('a2.rc'))}`,
          `cat ${q(s.runDir)}/*.json > ${q(out('state'))}`,
          `umount ${q(mnt)}; echo $? > ${q(out('umount.rc'))}`,
          // by mount point alone, as `mount /mnt/famfs` with the line in /etc/fstab
          `mount -T ${q(fstab)} ${q(other.mnt)} > ${q(out('m3.out'))} 2>&1; echo $? > ${q(out('m3.rc'))}`,
          `cat ${q(path.join(other.mnt, 'hello.txt'))} > ${q(out('read3'))}`,
          `umount ${q(other.mnt)}; echo $? > ${q(out('umount3.rc'))}`,
          `findmnt -n -t fuse.famfs -o TARGET > ${q(out('after'))}; true`,
        ].join('\n'));
        expect(r.status, r.stderr).toBe(0);
        expect(read(out('a1.rc')).trim(), read(out('a1.out'))).toBe('0');
        expect(read(out('a1.out'))).toBe('');
        // the namespace's famfs mounts: only this one (noauto skipped, the missing nofail device no error)
        const mine = lines(read(out('findmnt'))).map((l) => l.trim().split(/\s+/)).filter((f) => f[1]?.startsWith(s.dir));
        expect(mine).toEqual([[img, mnt, 'fuse.famfs']]);
        expect(read(out('findmnt-T')).trim().split(/\s+/)).toEqual([img, mnt, 'fuse.famfs']);
        expect(read(out('read'))).toBe(text);
        expect(read(out('a2.rc')).trim(), read(out('a2.out'))).toBe('0');
        expect(read(out('a2.out'))).toMatch(new RegExp(`${mnt.replace(/[.]/g, '\\.')}\\s*: already mounted`));
        const state = JSON.parse(read(out('state'))) as { pid: number; mountpoint: string };
        expect(read(out('umount.rc')).trim()).toBe('0');
        expect(read(out('m3.rc')).trim(), read(out('m3.out'))).toBe('0');
        expect(read(out('read3'))).toBe(other.text);
        expect(read(out('umount3.rc')).trim()).toBe('0');
        expect(lines(read(out('after'))).filter((t) => t.startsWith(s.dir))).toEqual([]);
        await expectDaemonEnded(s, state);
        expect(daemonStates(s.runDir).size).toBe(0);
      });
    });

    it('bad options: one line from mount.famfs, exit 1; a failed mount: one line, exit 32; nothing mounted, no daemon', async () => {
      await withMountScratch(tmp.make('t'), UUID, async (s) => {
        const sbin = helperSbin(s.dir);
        const { img, mnt } = imageWithFile(s, 'd');
        const cases: Array<[string, string]> = [
          ['noexec', `mount -t famfs -o noexec ${q(img)} ${q(mnt)}`],
          ['ro', `mount -t famfs -o ro ${q(img)} ${q(mnt)}`],
          ['bogus', `mount -t famfs -o cache=none,bogus ${q(img)} ${q(mnt)}`],
          ['nodir', `mount -t famfs ${q(img)} ${q(path.join(s.dir, 'no-such-dir'))}`],
          ['nodev', `mount -t famfs ${q(path.join(s.dir, 'no-such.img'))} ${q(mnt)}`],
          ['notfamfs', `mount -t famfs ${q(path.join(s.dir, 'fstab-like.txt'))} ${q(mnt)}`],
        ];
        fs.writeFileSync(path.join(s.dir, 'fstab-like.txt'), 'x'.repeat(4096));
        const out = (f: string) => path.join(s.dir, f);
        const r = inNamespace(s, sbin, [
          ...cases.map(([name, cmd]) => `${cmd} > ${q(out(`${name}.out`))} 2> ${q(out(`${name}.err`))}; echo $? > ${q(out(`${name}.rc`))}`),
          `findmnt -n -t fuse.famfs -o TARGET > ${q(out('after'))}; true`,
        ].join('\n'));
        expect(r.status, r.stderr).toBe(0);
        const result = (name: string) => ({ rc: read(out(`${name}.rc`)).trim(), out: read(out(`${name}.out`)), err: lines(read(out(`${name}.err`))) });
        expect(result('noexec')).toEqual({ rc: '1', out: '', err: [expect.stringMatching(/^mount\.famfs: mount option 'noexec' is not supported: /)] });
        expect(result('ro')).toEqual({ rc: '1', out: '', err: [expect.stringMatching(/^mount\.famfs: mount option 'ro' is not supported: famfs has no read-only mounts/)] });
        expect(result('bogus')).toEqual({ rc: '1', out: '', err: [expect.stringMatching(/^mount\.famfs: unknown or invalid mount option 'bogus' \(known: /)] });
        expect(result('nodir')).toEqual({ rc: '32', out: '', err: [expect.stringMatching(/^mount\.famfs: mount pt \(.*no-such-dir\) not found$/)] });
        expect(result('nodev')).toEqual({ rc: '32', out: '', err: [expect.stringMatching(/^mount\.famfs: open: .*no-such\.img: no such file or directory$/)] });
        expect(result('notfamfs').rc).toBe('32');
        expect(result('notfamfs').err).toHaveLength(1);
        expect(lines(read(out('after'))).filter((t) => t.startsWith(s.dir))).toEqual([]);
        expect(daemonStates(s.runDir).size).toBe(0);
      });
    });

    it('mount -s (sloppy) ignores an unknown option; mount -f mounts nothing', async () => {
      await withMountScratch(tmp.make('t'), UUID, async (s) => {
        const sbin = helperSbin(s.dir);
        const { img, mnt, text } = imageWithFile(s, 'e');
        const out = (f: string) => path.join(s.dir, f);
        const r = inNamespace(s, sbin, [
          `mount -f -t famfs ${q(img)} ${q(mnt)}; echo $? > ${q(out('fake.rc'))}`,
          `findmnt -n --mountpoint ${q(mnt)} > ${q(out('fake.findmnt'))}; true`,
          `ls ${q(s.runDir)} > ${q(out('fake.run'))} 2>&1; true`,
          `mount -s -t famfs -o cache=none,bogus_option ${q(img)} ${q(mnt)} 2> ${q(out('sloppy.err'))}; echo $? > ${q(out('sloppy.rc'))}`,
          `cat ${q(path.join(mnt, 'hello.txt'))} > ${q(out('read'))}`,
          `cat ${q(s.runDir)}/*.json > ${q(out('state'))}`,
          `umount ${q(mnt)}`,
        ].join('\n'));
        expect(r.status, r.stderr).toBe(0);
        expect(read(out('fake.rc')).trim()).toBe('0');
        expect(read(out('fake.findmnt'))).toBe('');
        expect(read(out('fake.run'))).not.toMatch(/\.json/);
        expect(read(out('sloppy.rc')).trim(), read(out('sloppy.err'))).toBe('0');
        expect(read(out('sloppy.err'))).toBe('');
        expect(read(out('read'))).toBe(text);
        await expectDaemonEnded(s, JSON.parse(read(out('state'))) as { pid: number; mountpoint: string });
      });
    });

    it('mount -N PID: the mount lands in that process\'s mount namespace, not in the caller\'s', async () => {
      await withMountScratch(tmp.make('t'), UUID, async (s) => {
        const sbin = helperSbin(s.dir);
        const { img, mnt, text } = imageWithFile(s, 'f');
        const out = (f: string) => path.join(s.dir, f);
        // Another mount namespace, held by a process (`unshare` execs sleep in it). Not a
        // namespace file bound on a mount: on this kernel that bind sometimes fails with EINVAL.
        const r = inNamespace(s, sbin, [
          "unshare -m --propagation private sleep 120 & holder=$!; trap 'kill $holder 2>/dev/null' EXIT",
          'n=0; while [ "$(readlink /proc/$holder/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done',
          `mount -N $holder -t famfs ${q(img)} ${q(mnt)} 2> ${q(out('n.err'))}; echo $? > ${q(out('n.rc'))}`,
          `findmnt -n --mountpoint ${q(mnt)} > ${q(out('here'))}; true`,
          `nsenter -t $holder -m findmnt -n -o SOURCE,TARGET,FSTYPE --mountpoint ${q(mnt)} > ${q(out('there'))}`,
          `nsenter -t $holder -m cat ${q(path.join(mnt, 'hello.txt'))} > ${q(out('read'))}`,
          `cat ${q(s.runDir)}/*.json > ${q(out('state'))}`,
          `nsenter -t $holder -m umount ${q(mnt)}; echo $? > ${q(out('umount.rc'))}`,
        ].join('\n'));
        expect(r.status, r.stderr).toBe(0);
        expect(read(out('n.rc')).trim(), read(out('n.err'))).toBe('0');
        expect(read(out('here'))).toBe('');
        expect(read(out('there')).trim().split(/\s+/)).toEqual([img, mnt, 'fuse.famfs']);
        expect(read(out('read'))).toBe(text);
        expect(read(out('umount.rc')).trim()).toBe('0');
        await expectDaemonEnded(s, JSON.parse(read(out('state'))) as { pid: number; mountpoint: string });
      });
    });
  },
);
