/**
 * mount.famfs without mounting: which -o options reach `famfs mount`, which
 * are ignored and which are refused, and the exit status and one-line
 * message of every incorrect invocation (mount(8): 1). The real mounts
 * through mount(8) and fstab are in test/mount-fstab.test.ts.
 */
import { FamfsError } from '@famfs/core';
import { describe, expect, it } from 'vitest';
import { bufferIo } from './io.js';
import { HELPER_EXIT_USAGE, helperOptions, runMountFamfs } from './mount-helper.js';
import { versionText } from './version.js';
import { parseMountOptions } from './commands/mount.js';

describe('mount.famfs -o', () => {
  it("keeps famfs's own options, drops what belongs to mount(8), fstab and systemd", () => {
    expect(helperOptions(['rw,nofail,_netdev,x-systemd.requires=foo,X-mount.mkdir,comment=x,cache=none', 'noauto,timeout=5,defaults'], false)).toEqual({
      famfs: ['cache=none', 'timeout=5'],
      ignored: ['nofail', '_netdev', 'x-systemd.requires=foo', 'X-mount.mkdir', 'comment=x', 'noauto', 'defaults'],
    });
  });

  it('accepts the generic options every famfs mount has', () => {
    expect(helperOptions(['rw,nosuid,nodev,noatime,exec,async'], false)).toEqual({ famfs: [], ignored: [] });
  });

  it.each(['ro', 'noexec', 'sync', 'suid', 'relatime', 'remount'])('refuses %s (usage error, not silently dropped)', (opt) => {
    let caught: unknown;
    try {
      helperOptions([`rw,${opt}`], false);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FamfsError);
    expect((caught as FamfsError).kind).toBe('usage');
    expect((caught as FamfsError).message).toMatch(new RegExp(`^mount\\.famfs: mount option '${opt}' is not supported: `));
  });

  it('an unknown option is an error; with -s (sloppy) it is ignored', () => {
    expect(() => helperOptions(['cache=none,bogus'], false)).toThrow(/unknown or invalid mount option 'bogus'/);
    expect(() => helperOptions(['cache=sometimes'], false)).toThrow(/'cache=sometimes'/);
    expect(helperOptions(['cache=none,bogus'], true)).toEqual({ famfs: ['cache=none'], ignored: ['bogus'] });
  });
});

describe('famfs mount -o famfs_daxdevs=N (experimental)', () => {
  it('takes 1..64 and refuses the rest', () => {
    expect(parseMountOptions(['famfs_daxdevs=2']).famfsDaxdevs).toBe(2);
    expect(parseMountOptions(['famfs_daxdevs=64']).famfsDaxdevs).toBe(64);
    expect(parseMountOptions([]).famfsDaxdevs).toBeUndefined();
    for (const bad of ['famfs_daxdevs=0', 'famfs_daxdevs=65', 'famfs_daxdevs=02', 'famfs_daxdevs', 'famfs_daxdevs=x']) {
      expect(() => parseMountOptions([bad]), bad).toThrow(/unknown or invalid mount option/);
    }
  });
});

describe('mount.famfs invocation', () => {
  async function run(args: string[]) {
    const io = bufferIo({});
    const status = await runMountFamfs(args, io);
    return { status, stdout: io.stdout, stderr: io.stderr };
  }

  it.each([
    [['/dev/dax0.0'], /^mount\.famfs: missing required argument 'dir'\n$/],
    [['/dev/dax0.0', '/mnt', '-q'], /^mount\.famfs: unknown option '-q'\n$/],
    [['/dev/dax0.0', '/mnt', '-o'], /^mount\.famfs: option '-o, --options <opts>' argument missing\n$/],
    [['/dev/dax0.0', '/mnt', '-o', 'ro'], /^mount\.famfs: mount option 'ro' is not supported: [^\n]+\n$/],
    [['/dev/dax0.0', '/mnt', '-o', 'noexec,nofail'], /^mount\.famfs: mount option 'noexec' is not supported: [^\n]+\n$/],
    [['/dev/dax0.0', '/mnt', '-o', 'cache=bogus'], /^mount\.famfs: unknown or invalid mount option 'cache=bogus' [^\n]+\n$/],
    [['/dev/dax0.0', '/mnt', '-t', 'ext4'], /^mount\.famfs: file system type 'ext4' is not famfs\n$/],
  ])('%j: one line, exit 1, nothing mounted', async (args, message) => {
    const r = await run(args);
    expect(r.status).toBe(HELPER_EXIT_USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('-f (fake) with -v checks the options, says what it would run, and mounts nothing', async () => {
    const r = await run(['/no/such/image', '/no/such/dir', '-fv', '-o', 'rw,_netdev,cache=none,x-systemd.automount', '-t', 'famfs']);
    expect(r).toEqual({ status: 0, stdout: 'mount.famfs: famfs mount -v -o cache=none /no/such/image /no/such/dir; ignored: _netdev,x-systemd.automount\n', stderr: '' });
  });

  it('-sfn as mount(8) passes them, options after the arguments', async () => {
    const r = await run(['/no/such/image', '/no/such/dir', '-sfnv', '-o', 'bogus,refresh=0']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('mount.famfs: famfs mount -v -o refresh=0 /no/such/image /no/such/dir; ignored: bogus\n');
  });

  it('nofail: a device that does not exist is no error (and nothing is started)', async () => {
    expect(await run(['/no/such/device', '/no/such/dir', '-o', 'rw,nofail'])).toEqual({ status: 0, stdout: '', stderr: '' });
    expect((await run(['/no/such/device', '/no/such/dir', '-v', '-o', 'nofail'])).stdout).toMatch(/\/no\/such\/device does not exist: not mounted \(nofail\)\n$/);
  });

  it('--version and -V; --help lists the options and the exit status', async () => {
    expect(await run(['--version'])).toEqual({ status: 0, stdout: `${versionText('mount.famfs')}\n`, stderr: '' });
    expect((await run(['-V'])).stdout).toMatch(/^mount\.famfs \d+\.\d+\.\d+ \(famfs-ts; /);
    const h = await run(['--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/Usage: mount\.famfs \[options\] <spec> <dir>/);
    expect(h.stdout).toMatch(/Exit status: 0 mounted, 1 incorrect invocation \(a bad option\), 32 mount failure/);
  });
});
