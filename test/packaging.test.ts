/**
 * famfs-ts installed, not run from the checkout:
 *
 * - the four workspace packages packed with `pnpm pack` and installed with
 *   npm into an empty prefix (the native addon compiled by its install step
 *   there), then famfs, mkfs.famfs and mount.famfs run from that prefix, in a
 *   directory outside the checkout, with a PATH that does not contain it;
 * - `make install PREFIX=… SBINDIR=…` and `make uninstall`: wrappers, the
 *   mount(8) helper, man pages (`man famfs-cp`), bash completion, and an
 *   empty prefix afterwards; DESTDIR staging;
 * - the addon's install step without a compiler (one line), with a prebuilt
 *   addon (FAMFS_NATIVE_ADDON), and FAMFS_NATIVE_ADDON at run time.
 *
 * Needs pnpm and npm (the npm registry, or npm's cache, for commander and
 * protobufjs) and a C++ toolchain for the addon.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, type RunResult, lines, needs, onPathReq, requireBuiltCli, runBin, tmpDirs } from './helpers.js';

const UUID = '7b1c0a55-0000-4000-8000-00000000beef';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'packages/famfs-cli/package.json'), 'utf8')) as { version: string }).version;
const ADDON = path.join(REPO, 'native/build/Release/famfs_native.node');

const tmp = tmpDirs('famfs-pkg-');

/** Run `file args` in `cwd` with exactly `env` (PATH defaults to the system's, without the checkout). */
function run(file: string, args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): RunResult {
  const r = spawnSync(file, args, {
    cwd: opts.cwd,
    encoding: 'utf8',
    env: { PATH: SYSTEM_PATH, HOME: process.env.HOME ?? '/root', ...opts.env },
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: RunResult, what: string): RunResult {
  expect(r.status, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

/** Every entry below `dir` (relative), sorted. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

/**
 * The caller's environment for npm, pnpm and make (proxy, CA certificates,
 * npm's cache), without famfs's variables and without what pnpm sets for
 * the scripts it runs (npm_config_*, npm_package_*, …).
 */
function toolEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^(FAMFS_|npm_|PNPM_)/i.test(e[0])));
}

const versionLine = (prog: string): string => `${prog} ${VERSION} (famfs-ts; on-media format 2.2, superblock version 48)\n`;

/** The famfs commands the issue asks an installed CLI to run: mkfs, fsck, creat and ls on an image. */
function useCli(famfs: string, mkfs: string, cwd: string, searchPath = SYSTEM_PATH): void {
  const env = { FAMFS_SYSTEM_UUID: UUID, PATH: searchPath };
  const mk = ok(run(mkfs, ['--create-size', '4g', 'dev.img'], { cwd, env }), 'mkfs.famfs --create-size 4g');
  expect(mk.stdout).toMatch(/^devsize: 4294967296$/m);
  const fsck = ok(run(famfs, ['fsck', 'dev.img'], { cwd, env }), 'famfs fsck');
  expect(fsck.stdout).toMatch(/Famfs Superblock/i);
  ok(run(famfs, ['-D', 'dev.img', 'mkdir', 'data'], { cwd, env }), 'famfs mkdir');
  ok(run(famfs, ['-D', 'dev.img', 'creat', '-s', '3m', '-r', '-S', '5', 'data/f'], { cwd, env }), 'famfs creat');
  const ls = ok(run(famfs, ['-D', 'dev.img', 'ls', '-R'], { cwd, env }), 'famfs ls -R');
  expect(ls.stdout).toMatch(/\bf\b/);
  ok(run(famfs, ['-D', 'dev.img', 'verify', '-S', '5', '-f', 'data/f'], { cwd, env }), 'famfs verify');
  expect(lines(ok(run(famfs, ['fsck', '--json', 'dev.img'], { cwd, env }), 'fsck --json').stdout).join('')).toMatch(/"clean":\s*true/);
}

describe.runIf(needs('pack and install with npm', [onPathReq('pnpm'), onPathReq('npm'), onPathReq('g++'), onPathReq('make'), onPathReq('python3')]))(
  'packed tarballs installed with npm into an empty prefix',
  () => {
    let work: string;
    let prefix: string;
    let tarballs: string[];
    let npmLog: string;
    const bin = (name: string) => path.join(prefix, 'node_modules/.bin', name);

    beforeAll(() => {
      requireBuiltCli();
      work = tmp.make('npm');
      const pkg = path.join(work, 'pkg');
      const pack = ok(run('bash', [path.join(REPO, 'scripts/pack.sh'), pkg], { cwd: work, env: toolEnv() }), 'scripts/pack.sh');
      tarballs = lines(pack.stdout);
      // an empty prefix, then what pack.sh made: the tarballs and the package.json that installs them
      prefix = path.join(work, 'prefix');
      fs.mkdirSync(prefix);
      for (const f of fs.readdirSync(pkg)) fs.copyFileSync(path.join(pkg, f), path.join(prefix, f));
      // the addon is compiled here, by @famfs/native's install step (node-gyp)
      npmLog = ok(
        run('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'http'], { cwd: work, env: toolEnv(), timeoutMs: 600_000 }),
        'npm install of the tarballs',
      ).stderr;
    }, 660_000);

    it('npm never asked a registry for an @famfs package', () => {
      expect(npmLog).toMatch(/GET 200 https:\/\/\S+\/commander\b/); // the log does show registry requests
      expect(npmLog).toMatch(/cache @famfs\/cli@file:/); // …and the @famfs packages came from the files
      expect(npmLog).not.toMatch(/https?:\/\/\S*@famfs/i);
    });

    it('pnpm pack made one tarball per package, with real versions for the workspace dependencies', () => {
      expect(tarballs.map((t) => path.basename(t)).sort()).toEqual([`famfs-cli-${VERSION}.tgz`, `famfs-core-${VERSION}.tgz`, `famfs-fuse-${VERSION}.tgz`, `famfs-native-${VERSION}.tgz`]);
      const cli = JSON.parse(fs.readFileSync(path.join(prefix, 'node_modules/@famfs/cli/package.json'), 'utf8'));
      expect(cli.dependencies['@famfs/core']).toBe(VERSION);
      expect(cli.bin).toEqual({ famfs: 'bundle/famfs.cjs', 'mkfs.famfs': 'bundle/mkfs-famfs.cjs', 'mount.famfs': 'dist/bin/mount-famfs.js' });
      expect(cli.engines.node).toBe('>=20');
    });

    it('installed copies, not links into the checkout; the addon was built in the prefix', () => {
      for (const p of ['cli', 'core', 'fuse', 'native']) {
        const dir = path.join(prefix, 'node_modules/@famfs', p);
        expect(fs.lstatSync(dir).isSymbolicLink(), dir).toBe(false);
        expect(fs.realpathSync(dir).startsWith(REPO)).toBe(false);
      }
      const addon = path.join(prefix, 'node_modules/@famfs/native/build/Release/famfs_native.node');
      expect(fs.statSync(addon).isFile()).toBe(true);
      expect(fs.realpathSync(bin('famfs'))).toBe(path.join(fs.realpathSync(prefix), 'node_modules/@famfs/cli/bundle/famfs.cjs'));
      // the installed CLI runs from its bundle (and its code cache), not the unbundled modules
      const loader = path.join(prefix, 'node_modules/@famfs/cli/bundle/loader.cjs');
      expect(ok(run(process.execPath, ['-p', `require(${JSON.stringify(loader)}).bundleIsCurrent()`], { cwd: work }), 'bundleIsCurrent').stdout.trim()).toBe('true');
      expect(fs.existsSync(path.join(prefix, 'node_modules/@famfs/cli/dist/bundle/cli.cjs.cache'))).toBe(true);
      // what the packages need at run time beyond JavaScript
      for (const f of ['fuse/famfs-control.proto', 'cli/man/famfs-cp.1', 'cli/man/mount.famfs.8', 'cli/completion/famfs', 'native/binding.gyp', 'native/src/famfs_native.cc']) {
        expect(fs.existsSync(path.join(prefix, 'node_modules/@famfs', f)), f).toBe(true);
      }
    });

    it('famfs, mkfs.famfs and mount.famfs --version from the prefix', () => {
      expect(ok(run(bin('famfs'), ['--version'], { cwd: work }), 'famfs --version').stdout).toBe(versionLine('famfs'));
      expect(ok(run(bin('mkfs.famfs'), ['--version'], { cwd: work }), 'mkfs.famfs --version').stdout).toBe(versionLine('mkfs.famfs'));
      expect(ok(run(bin('mount.famfs'), ['-V'], { cwd: work }), 'mount.famfs -V').stdout).toBe(versionLine('mount.famfs'));
    });

    it('mkfs.famfs --create-size 4g, famfs fsck, famfs -D … mkdir/creat/ls/verify from the prefix', () => {
      const cwd = path.join(work, 'use');
      fs.mkdirSync(cwd);
      useCli(bin('famfs'), bin('mkfs.famfs'), cwd);
    });
  },
);

describe.runIf(needs('make install', [onPathReq('pnpm'), onPathReq('npm'), onPathReq('make'), onPathReq('man')]))('make install and make uninstall', () => {
  /** `make -o build TARGET VAR=…`: the build is the one `make test` made (-o: do not remake it). */
  const make = (target: string, vars: Record<string, string>): RunResult =>
    run('make', ['-s', '-C', REPO, '-o', 'build', target, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)], {
      cwd: REPO,
      env: toolEnv(),
      timeoutMs: 300_000,
    });

  it('PREFIX and SBINDIR: famfs and mkfs.famfs on PATH, mount.famfs, `man famfs-cp`, completion; uninstall leaves the prefix empty', { timeout: 600_000 }, () => {
    requireBuiltCli();
    const prefix = tmp.make('prefix');
    const vars = { PREFIX: prefix, SBINDIR: path.join(prefix, 'sbin') };
    ok(make('install', vars), 'make install');
    for (const f of ['bin/famfs', 'bin/mkfs.famfs', 'sbin/mount.famfs', 'share/man/man1/famfs.1', 'share/man/man1/famfs-cp.1', 'share/man/man8/mkfs.famfs.8', 'share/man/man8/mount.famfs.8', 'share/bash-completion/completions/famfs', 'share/bash-completion/completions/mkfs.famfs', 'lib/famfs-ts/node_modules/@famfs/native/build/Release/famfs_native.node']) {
      expect(fs.existsSync(path.join(prefix, f)), f).toBe(true);
    }

    // on PATH from anywhere: a directory outside the checkout, PATH without it
    const cwd = tmp.make('use');
    const env = { PATH: `${path.join(prefix, 'bin')}:${SYSTEM_PATH}` };
    expect(ok(run('famfs', ['--version'], { cwd, env }), 'famfs --version').stdout).toBe(versionLine('famfs'));
    expect(ok(run('mkfs.famfs', ['-V'], { cwd, env }), 'mkfs.famfs -V').stdout).toBe(versionLine('mkfs.famfs'));
    expect(ok(run(path.join(prefix, 'sbin/mount.famfs'), ['--version'], { cwd, env }), 'mount.famfs --version').stdout).toBe(versionLine('mount.famfs'));
    useCli('famfs', 'mkfs.famfs', cwd, env.PATH);

    // man finds the pages by name
    const manEnv = { MANPATH: path.join(prefix, 'share/man'), MANWIDTH: '80' };
    expect(ok(run('man', ['-w', 'famfs-cp'], { cwd, env: manEnv }), 'man -w famfs-cp').stdout.trim()).toBe(path.join(prefix, 'share/man/man1/famfs-cp.1'));
    const page = ok(run('man', ['famfs-cp'], { cwd, env: manEnv }), 'man famfs-cp').stdout;
    expect(page).toMatch(/^NAME\n\s+famfs-cp\s+-\s+Copy files/m);
    expect(page).toMatch(/--recursive/);
    expect(ok(run('man', ['8', 'mount.famfs'], { cwd, env: manEnv }), 'man 8 mount.famfs').stdout).toMatch(/defaults,nofail/);

    // the installed completion, as bash-completion loads it (by command name)
    const comp = (cmd: string, words: string) =>
      ok(run('bash', ['--norc', '-c', `source "$1"; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); $(complete -p ${cmd} | sed 's/.*-F \\([^ ]*\\) .*/\\1/'); printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', path.join(prefix, 'share/bash-completion/completions', cmd)], { cwd }), `completion of ${cmd}`).stdout;
    expect(lines(comp('famfs', "famfs ''"))).toEqual(expect.arrayContaining(['creat', 'cp', 'fsck', 'mount']));
    expect(lines(comp('mkfs.famfs', 'mkfs.famfs --cr'))).toEqual(['--create-size']);

    // a second install over the first is refused (uninstall first), without touching it
    const again = make('install', vars);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/exists: `make uninstall` first/);

    ok(make('uninstall', vars), 'make uninstall');
    expect(tree(prefix)).toEqual([]);
  });

  it('DESTDIR stages the files; the wrappers name the final paths; uninstall with the same DESTDIR', { timeout: 600_000 }, () => {
    const dest = tmp.make('destdir');
    const vars = { DESTDIR: dest, PREFIX: '/opt/famfs-ts-test', SBINDIR: '/opt/famfs-ts-test/sbin' };
    ok(make('install', vars), 'make install DESTDIR=…');
    const wrapper = fs.readFileSync(path.join(dest, 'opt/famfs-ts-test/bin/famfs'), 'utf8');
    expect(wrapper).toContain(' /opt/famfs-ts-test/lib/famfs-ts/node_modules/@famfs/cli/bundle/famfs.cjs "$@"');
    expect(wrapper).not.toContain(dest);
    expect(fs.existsSync('/opt/famfs-ts-test')).toBe(false);
    ok(make('uninstall', vars), 'make uninstall DESTDIR=…');
    expect(tree(dest)).toEqual([]);
  });
});

describe("the addon's install step (native/scripts/install.cjs)", () => {
  /** A copy of the native package's scripts, as an installed package has them (outside the workspace). */
  function pkgCopy(): string {
    const dir = tmp.make('native');
    fs.cpSync(path.join(REPO, 'native/scripts'), path.join(dir, 'scripts'), { recursive: true });
    return dir;
  }

  it('without a C++ compiler: one line saying what to install, exit 1, nothing built', () => {
    const dir = pkgCopy();
    const onlyNode = tmp.make('path');
    fs.symlinkSync(process.execPath, path.join(onlyNode, 'node'));
    const r = run(process.execPath, [path.join(dir, 'scripts/install.cjs')], { cwd: dir, env: { PATH: onlyNode } });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^@famfs\/native: cannot build the native addon: no C\+\+ compiler \(g\+\+\) on PATH \(Debian\/Ubuntu: apt-get install g\+\+ make python3 liburing-dev; or set FAMFS_NATIVE_ADDON [^\n]*\)\n$/);
    const named = run(process.execPath, [path.join(dir, 'scripts/install.cjs')], { cwd: dir, env: { PATH: onlyNode, CXX: '/nonexistent/clang++' } });
    expect(named.stderr).toMatch(/^@famfs\/native: cannot build the native addon: no C\+\+ compiler \(\/nonexistent\/clang\+\+\) on PATH/);
    expect(fs.existsSync(path.join(dir, 'build'))).toBe(false);
  });

  it('FAMFS_NATIVE_ADDON: the prebuilt addon is taken, no compiler needed', () => {
    const dir = pkgCopy();
    const r = run(process.execPath, [path.join(dir, 'scripts/install.cjs')], { cwd: dir, env: { PATH: '/nonexistent', FAMFS_NATIVE_ADDON: ADDON } });
    ok(r, 'install.cjs with FAMFS_NATIVE_ADDON');
    expect(fs.readFileSync(path.join(dir, 'build/Release/famfs_native.node')).equals(fs.readFileSync(ADDON))).toBe(true);
    const missing = run(process.execPath, [path.join(dir, 'scripts/install.cjs')], { cwd: dir, env: { FAMFS_NATIVE_ADDON: '/nonexistent/famfs_native.node' } });
    expect(missing.status).toBe(1);
    expect(lines(missing.stderr)).toEqual([expect.stringMatching(/^@famfs\/native: FAMFS_NATIVE_ADDON=\/nonexistent\/famfs_native\.node: no such file \(/)]);
  });
});

describe('FAMFS_NATIVE_ADDON at run time', () => {
  it('loads the named addon; a missing or broken one is one line and exit 79 (ELIBACC), no stack', () => {
    requireBuiltCli();
    const dir = tmp.make('addon');
    const img = path.join(dir, 'dev.img');
    ok(runBin('mkfs.famfs', ['--create-size', '1g', img], { FAMFS_SYSTEM_UUID: UUID }), 'mkfs.famfs');
    const copy = path.join(dir, 'copy.node');
    fs.copyFileSync(ADDON, copy);
    ok(runBin('famfs', ['fsck', img], { FAMFS_SYSTEM_UUID: UUID, FAMFS_NATIVE_ADDON: copy }), 'fsck with a copy of the addon');

    const missing = runBin('famfs', ['fsck', img], { FAMFS_SYSTEM_UUID: UUID, FAMFS_NATIVE_ADDON: path.join(dir, 'none.node') });
    expect(missing.status).toBe(79);
    expect(lines(missing.stderr)).toEqual([`famfs: famfs native addon not found: FAMFS_NATIVE_ADDON=${path.join(dir, 'none.node')} does not exist`]);

    const broken = path.join(dir, 'broken.node');
    fs.writeFileSync(broken, 'not an ELF file\n');
    const bad = runBin('famfs', ['-D', img, 'ls'], { FAMFS_SYSTEM_UUID: UUID, FAMFS_NATIVE_ADDON: broken });
    expect(bad.status).toBe(79);
    expect(lines(bad.stderr)).toEqual([expect.stringMatching(new RegExp(`^famfs: famfs native addon failed to load \\(${broken.replace(/[.]/g, '\\.')}, from FAMFS_NATIVE_ADDON\\): `))]);
  });
});
