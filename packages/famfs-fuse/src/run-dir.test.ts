/**
 * The run directory rules and the path identities the mount daemon relies
 * on, without mounting anything: realPath against the kernel's own
 * resolution, fileIdentity of aliases, openRunDir's refusals, state files as
 * hostile input, and daemon files that are never followed. (Refusing a run
 * directory owned by another uid needs root to make one: test/hardening.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FamfsError } from '@famfs/core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fileIdentity, realPath, sameFile } from './mounts.js';
import {
  type DaemonState, checkDaemonFiles, daemonFiles, listDaemons, openDaemonLog, openRunDir, readState, writeState,
} from './run-dir.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-rundir-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = path.join(base, `t${n++}`);
  fs.mkdirSync(d, { mode: 0o700 });
  return d;
};

/** What `fn` throws, required to be a FamfsError. */
function famfsError(fn: () => unknown): FamfsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FamfsError) return e;
    throw new Error(`expected a FamfsError, got ${String(e)}`);
  }
  throw new Error('expected a FamfsError, nothing was thrown');
}

const savedRunDir = process.env.FAMFS_RUN_DIR;
afterEach(() => {
  if (savedRunDir === undefined) delete process.env.FAMFS_RUN_DIR;
  else process.env.FAMFS_RUN_DIR = savedRunDir;
});

describe('realPath', () => {
  it('resolves symlinks, `..` after a symlink, relative links and missing tails as the kernel does', () => {
    const d = fresh();
    fs.mkdirSync(path.join(d, 'a/b/c'), { recursive: true });
    fs.symlinkSync('a/b', path.join(d, 'lb')); // relative link
    fs.symlinkSync(path.join(d, 'a/b/c'), path.join(d, 'lc')); // absolute link
    fs.symlinkSync('lb', path.join(d, 'llb')); // a link to a link
    const cases = ['lb', 'lc', 'llb/c', 'lc/..', 'lc/../..', 'a/./b/../b/c', 'llb/c/../../b'];
    // realpath(3) resolves as the kernel does (fs.realpathSync would take `..` lexically first)
    for (const c of cases) expect(realPath(`${d}/${c}`), c).toBe(fs.realpathSync.native(`${d}/${c}`));
    // `..` is taken after the link: lc/.. is a/b, not d
    expect(realPath(`${d}/lc/..`)).toBe(path.join(d, 'a/b'));
    // a missing tail is appended as written
    expect(realPath(`${d}/lc/new/x`)).toBe(path.join(d, 'a/b/c/new/x'));
    // relative to the working directory
    expect(realPath('.')).toBe(process.cwd());
  });

  it('fails with ELOOP on a symlink loop, and on an empty path with ENOENT', () => {
    const d = fresh();
    fs.symlinkSync('y', path.join(d, 'x'));
    fs.symlinkSync('x', path.join(d, 'y'));
    expect(famfsError(() => realPath(`${d}/x/z`)).code).toBe('ELOOP');
    expect(famfsError(() => realPath('')).code).toBe('ENOENT');
  });
});

describe('fileIdentity', () => {
  it('is one for a file, a symlink to it, a hard link, and a relative spelling; differs for a copy', () => {
    const d = fresh();
    const img = path.join(d, 'img');
    fs.writeFileSync(img, 'x');
    fs.symlinkSync('img', path.join(d, 'sym'));
    fs.linkSync(img, path.join(d, 'hard'));
    fs.copyFileSync(img, path.join(d, 'copy'));
    expect(sameFile(img, path.join(d, 'sym'))).toBe(true);
    expect(sameFile(img, path.join(d, 'hard'))).toBe(true);
    expect(sameFile(img, path.relative(process.cwd(), img))).toBe(true);
    expect(sameFile(img, path.join(d, 'copy'))).toBe(false);
    expect(sameFile(img, path.join(d, 'missing'))).toBe(false);
    expect(fileIdentity(path.join(d, 'missing'))).toBeUndefined();
  });

  it('names a device node by its device number', () => {
    expect(fileIdentity('/dev/null')).toBe(`char ${fs.statSync('/dev/null', { bigint: true }).rdev}`);
  });
});

describe('openRunDir', () => {
  const use = (dir: string) => {
    process.env.FAMFS_RUN_DIR = dir;
  };

  it('creates a missing run directory (and parents) 0700 whatever the umask, and returns its real path', () => {
    const d = fresh();
    fs.symlinkSync('.', path.join(d, 'self'));
    use(path.join(d, 'self/p/run'));
    const old = process.umask(0);
    try {
      const r = openRunDir('test', { create: true });
      fs.closeSync(r.fd);
      expect(r.path).toBe(path.join(d, 'p/run'));
      expect(fs.statSync(r.path).mode & 0o7777).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });

  it('without create, a missing run directory is undefined', () => {
    use(path.join(fresh(), 'run'));
    expect(openRunDir('test', { create: false })).toBeUndefined();
  });

  it('accepts an existing 0755 directory (others may search it, not write it)', () => {
    const d = path.join(fresh(), 'run');
    fs.mkdirSync(d, { mode: 0o755 });
    fs.chmodSync(d, 0o755);
    use(d);
    fs.closeSync(openRunDir('test', { create: true }).fd);
  });

  it.each([
    ['group-writable', 0o770, 'EPERM', /group or others can write it \(mode 0770\)/],
    ['world-writable', 0o777, 'EPERM', /group or others can write it \(mode 0777\)/],
    ['sticky and world-writable', 0o1777, 'EPERM', /group or others can write it \(mode 1777\)/],
  ] as const)('refuses a %s run directory, writing nothing', (_what, mode, code, msg) => {
    const d = path.join(fresh(), 'run');
    fs.mkdirSync(d);
    fs.chmodSync(d, mode);
    use(d);
    const e = famfsError(() => openRunDir('famfs mount', { create: true }));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(msg);
    expect(e.message).not.toContain('\n');
    expect(fs.readdirSync(d)).toEqual([]);
  });

  it('refuses a symlink (even to a good directory) and a non-directory', () => {
    const d = fresh();
    fs.mkdirSync(path.join(d, 'good'), { mode: 0o700 });
    fs.symlinkSync('good', path.join(d, 'run'));
    use(path.join(d, 'run'));
    const e = famfsError(() => openRunDir('famfs mount', { create: true }));
    expect([e.code, e.message]).toEqual(['ELOOP', expect.stringMatching(/refusing run directory .*\/run: it is a symbolic link/)]);
    expect(fs.readdirSync(path.join(d, 'good'))).toEqual([]);
    fs.writeFileSync(path.join(d, 'file'), '');
    use(path.join(d, 'file'));
    expect(famfsError(() => openRunDir('famfs mount', { create: true })).code).toBe('ENOTDIR');
    execFileSync('mkfifo', [path.join(d, 'fifo')]);
    use(path.join(d, 'fifo'));
    expect(famfsError(() => openRunDir('famfs mount', { create: true })).code).toBe('ENOTDIR');
  });

  it('refuses a run directory whose parent others can write (not sticky); a sticky parent like /tmp is fine', () => {
    const d = fresh();
    const open = path.join(d, 'open');
    fs.mkdirSync(path.join(open, 'run'), { recursive: true, mode: 0o700 });
    fs.chmodSync(open, 0o777);
    use(path.join(open, 'run'));
    const e = famfsError(() => openRunDir('famfs mount', { create: true }));
    expect(e.code).toBe('EPERM');
    expect(e.message).toMatch(/its parent directory .*\/open is writable by group or others and not sticky \(mode 0777\)/);
    // nothing created below an unsafe parent either
    use(path.join(open, 'new/run'));
    famfsError(() => openRunDir('famfs mount', { create: true }));
    expect(fs.existsSync(path.join(open, 'new'))).toBe(false);
    fs.chmodSync(open, 0o1777);
    use(path.join(open, 'run'));
    fs.closeSync(openRunDir('famfs mount', { create: true }).fd);
  });
});

describe('daemon files', () => {
  const state = (over: Partial<DaemonState> = {}): DaemonState => ({
    pid: 4242, device: '/dev/loop9', mountpoint: '/mnt/x', systemUuid: 'a', fsUuid: 'b', socket: '/run/famfs/x.sock', log: '/run/famfs/x.log', ...over,
  });

  it('are named after the real path of the mount point', () => {
    const d = fresh();
    fs.mkdirSync(path.join(d, 'real'));
    fs.symlinkSync('real', path.join(d, 'link'));
    expect(daemonFiles(path.join(d, 'link'), '/r')).toEqual(daemonFiles(path.join(d, 'real'), '/r'));
    expect(daemonFiles(path.join(d, 'x/../real'), '/r')).toEqual(daemonFiles(path.join(d, 'real'), '/r'));
  });

  it('writeState replaces a symlink planted at the state path and never writes through it', () => {
    const d = fresh();
    const victim = path.join(d, 'victim');
    fs.writeFileSync(victim, 'precious');
    const file = path.join(d, 'm.json');
    fs.symlinkSync(victim, file);
    // and one at the temporary name: removed, not followed
    fs.symlinkSync(victim, `${file}.tmp-${process.pid}`);
    writeState(file, state());
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    expect(fs.lstatSync(file).isFile()).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(readState(file)).toEqual(state());
    expect(fs.readdirSync(d).sort()).toEqual(['m.json', 'victim']);
  });

  it('readState and listDaemons ignore garbage with one warning each, and never follow a symlink', () => {
    const d = fresh();
    const warnings: string[] = [];
    const warn = (m: string) => void warnings.push(m);
    const good = path.join(d, 'good.json');
    writeState(good, state());
    const garbage: Array<[string, string]> = [
      ['notjson.json', '{"pid": 1'],
      ['array.json', '[1,2,3]'],
      ['null.json', 'null'],
      ['pidstring.json', JSON.stringify({ ...state(), pid: '4242' })],
      ['pidfloat.json', JSON.stringify({ ...state(), pid: 1.5 })],
      ['nomount.json', JSON.stringify({ ...state(), mountpoint: undefined })],
      ['relative.json', JSON.stringify({ ...state(), socket: 'x.sock' })],
      ['nul.json', JSON.stringify({ ...state(), device: '/dev/a\0b' })],
      ['huge.json', ' '.repeat(100 * 1024)],
    ];
    for (const [name, text] of garbage) fs.writeFileSync(path.join(d, name), text);
    const victim = path.join(d, 'elsewhere');
    fs.writeFileSync(victim, JSON.stringify(state({ pid: 99 })));
    fs.symlinkSync(victim, path.join(d, 'link.json'));
    fs.mkdirSync(path.join(d, 'dir.json'));
    expect(listDaemons(d, warn)).toEqual([{ file: good, state: state() }]);
    expect(warnings).toHaveLength(garbage.length + 2);
    for (const w of warnings) expect(w).toMatch(/^ignoring daemon state .*\.json: \S/);
    expect(warnings.join('\n')).toMatch(/link\.json: it is a symbolic link/);
    expect(readState(path.join(d, 'missing.json'), warn)).toBeUndefined();
    expect(warnings).toHaveLength(garbage.length + 2); // a missing file is no warning
  });

  it('checkDaemonFiles refuses a symlink, FIFO, directory, hard link or non-socket at a daemon file path', () => {
    const d = fresh();
    const files = daemonFiles('/mnt/t', d);
    const victim = path.join(d, 'victim');
    fs.writeFileSync(victim, 'precious');
    checkDaemonFiles('famfs mount', files); // nothing there: fine
    const plant: Array<[string, () => void, string, RegExp]> = [
      ['log symlink', () => fs.symlinkSync(victim, files.log), 'ELOOP', /\.log: it is a symbolic link/],
      ['state symlink', () => fs.symlinkSync(victim, files.state), 'ELOOP', /\.json: it is a symbolic link/],
      ['socket symlink', () => fs.symlinkSync(victim, files.socket), 'ELOOP', /\.sock: it is a symbolic link/],
      ['log fifo', () => execFileSync('mkfifo', [files.log]), 'EEXIST', /\.log: it is not a regular file/],
      ['state directory', () => fs.mkdirSync(files.state), 'EEXIST', /\.json: it is not a regular file/],
      ['log hard link', () => fs.linkSync(victim, files.log), 'EEXIST', /\.log: it has 2 hard links/],
      ['socket file', () => fs.writeFileSync(files.socket, ''), 'EEXIST', /\.sock: it is not a socket/],
    ];
    for (const [what, doPlant, code, msg] of plant) {
      doPlant();
      const e = famfsError(() => checkDaemonFiles('famfs mount', files));
      expect([what, e.code], e.message).toEqual([what, code]);
      expect(e.message).toMatch(msg);
      fs.rmSync(files.log, { force: true, recursive: true });
      fs.rmSync(files.state, { force: true, recursive: true });
      fs.rmSync(files.socket, { force: true, recursive: true });
    }
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
  });

  it('openDaemonLog appends to our own log (tightening its mode) and refuses a planted symlink or FIFO without blocking', () => {
    const d = fresh();
    const log = path.join(d, 'm.log');
    fs.writeFileSync(log, 'old\n', { mode: 0o644 });
    fs.chmodSync(log, 0o644);
    let fd = openDaemonLog('famfs mount', log);
    fs.writeSync(fd, 'new\n');
    fs.closeSync(fd);
    expect(fs.readFileSync(log, 'utf8')).toBe('old\nnew\n');
    expect(fs.statSync(log).mode & 0o777).toBe(0o600);
    fs.rmSync(log);
    fd = openDaemonLog('famfs mount', log);
    fs.closeSync(fd);
    expect(fs.statSync(log).mode & 0o777).toBe(0o600);

    const victim = path.join(d, 'victim');
    fs.writeFileSync(victim, 'precious');
    fs.rmSync(log);
    fs.symlinkSync(victim, log);
    expect(famfsError(() => openDaemonLog('famfs mount', log)).code).toBe('ELOOP');
    fs.rmSync(log);
    execFileSync('mkfifo', [log]);
    expect(famfsError(() => openDaemonLog('famfs mount', log)).message).toMatch(/it is a FIFO/);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
  });
});
