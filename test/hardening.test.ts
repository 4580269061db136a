/**
 * The mount daemon runs as root: nothing around it may break it. A campaign
 * on real mounts (root, /dev/fuse):
 *
 * a. aliases — a second mount through a symlinked mount point, a symlink to
 *    the image, a bind mount of it, relative paths with `..`: each refused
 *    with EBUSY in one line; the first mount (itself made through a
 *    symlinked mount point) keeps its state and keeps working. Two mounts
 *    started at once: exactly one wins.
 * b. the run directory — writable by others, owned by another uid, a
 *    symlink, a file, under an unsafe parent: refused in one line with
 *    nothing written; a symlink, FIFO or hard link planted at a daemon file
 *    is refused and its target left alone; garbage state files are ignored
 *    with a warning.
 * c. SIGKILL of the daemon in the middle of mounted `famfs cp -r` and
 *    `famfs mkdir -p`: one line from the CLI, fsck clean, every file the CLI
 *    reported intact, and the next `famfs mount` serves again.
 * d. a control request in flight when the daemon dies, or a socket that
 *    hangs up or answers garbage: "the daemon is not answering", one line.
 * e. 2 and 4 offline writers (`famfs -D IMG creat`) and the mounted master
 *    (through the daemon and through FUSE mkdir) appending to one log at
 *    once: nothing lost, nothing twice, fsck clean.
 *
 * Every random choice is seeded (test/random.ts); the counts are printed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { FamfsError } from '@famfs/core';
import { DEFAULT_FAMFS_PROFILE, daemonFiles, mountFamfs } from '@famfs/fuse';
import { describe, expect, it } from 'vitest';
import {
  MiB, REPO, type RunResult, lines, needsRoot, onPathReq, readAt, requireBuiltCli, runBin, tmpDirs,
} from './helpers.js';
import {
  daemonOf, devFuseReq, famfsMountsUnder, isMounted, pendingConnections, pidGone, q, sh, shAsync, sleep, spawnFamfs, waitFor, withMountScratch,
} from './mount-helpers.js';
import { seeded } from './random.js';

const MASTER = '6a3b4c2d-0000-4000-8000-0000000000c1';
const FAMFS_BIN = path.join(REPO, 'bin/famfs');
const tmp = tmpDirs('famfs-harden-');

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface FsckJson {
  clean: boolean;
  superblock: { logOffset: number };
  log: { entriesUsed: number };
  collisions: number;
  badEntries: unknown[];
  files: number;
  directories: number;
  errors: string[];
}

function ok(r: RunResult, what: string): RunResult {
  expect(r.status, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

/**
 * A failure as a user must see it: a non-zero exit, exactly one line on
 * stderr, no stack frames, not reported as a bug. Returns the line.
 */
function oneLineFailure(r: RunResult, what: string): string {
  expect(r.status, `${what}: expected a failure\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).not.toBe(0);
  expect(r.signal, what).toBeNull();
  expect(lines(r.stderr), `${what}: stderr should be one line:\n${r.stderr}`).toHaveLength(1);
  expect(r.stderr, what).not.toMatch(/^\s+at /m);
  expect(r.stderr, what).not.toMatch(/this is a bug/);
  return lines(r.stderr)[0]!;
}

function mkfs(img: string, size = '2g'): string {
  ok(runBin('mkfs.famfs', ['--create-size', size, img], { FAMFS_SYSTEM_UUID: MASTER }), `mkfs.famfs ${img}`);
  return img;
}

function fsckJson(target: string, env: Record<string, string>): FsckJson {
  const r = ok(runBin('famfs', ['fsck', '--json', target], env), `famfs fsck --json ${target}`);
  return JSON.parse(r.stdout) as FsckJson;
}

/** fsck clean in every respect the campaign cares about. */
function expectFsckClean(f: FsckJson, what: string): void {
  expect({ what, clean: f.clean, collisions: f.collisions, badEntries: f.badEntries.length, errors: f.errors }).toEqual({
    what, clean: true, collisions: 0, badEntries: 0, errors: [],
  });
}

/** famfs mount (`mnt` may be an alias); the daemon's pid. */
function mount(img: string, mnt: string, env: Record<string, string>): number {
  ok(runBin('famfs', ['mount', img, mnt], env), `famfs mount ${img} ${mnt}`);
  const real = fs.realpathSync(mnt);
  expect(isMounted(real)).toBe(true);
  return daemonOf(env.FAMFS_RUN_DIR!, real).state.pid;
}

/** The log's next_index, read from the image: the u64 at offset 40 of the log header (docs/on-media-format.md). */
function logNextIndex(img: string, logOffset: number): number {
  return Number(new DataView(readAt(img, logOffset + 40, 8).buffer).getBigUint64(0, true));
}

async function killDaemon(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  expect(await waitFor(() => pidGone(pid), 5000), `daemon ${pid} survived SIGKILL`).toBe(true);
}

const gate = needsRoot('famfs mount hardening', [devFuseReq, onPathReq('mount'), onPathReq('mkfifo'), onPathReq('sha256sum')]);

describe.runIf(gate)('famfs mount in hostile surroundings', () => {
  // ------------------------------------------------------------------ a
  it('a second mount through any alias is refused with EBUSY in one line; the first mount, made through a symlinked mount point, keeps its state and works', async () => {
    requireBuiltCli();
    await withMountScratch(tmp.make('alias-'), MASTER, async ({ dir, runDir, env }) => {
      const img = mkfs(path.join(dir, 'img'));
      const img2 = mkfs(path.join(dir, 'img2')); // another file system
      const real = path.join(dir, 'real');
      const m2 = path.join(dir, 'm2');
      const sub = path.join(dir, 'sub');
      for (const d of [real, m2, sub]) fs.mkdirSync(d);
      fs.symlinkSync('real', path.join(dir, 'link'));
      fs.symlinkSync(real, path.join(dir, 'link2'));
      fs.symlinkSync('img', path.join(dir, 'imglink'));
      fs.symlinkSync('.', path.join(dir, 'here'));
      const bound = path.join(dir, 'img-bound');
      fs.writeFileSync(bound, '');
      ok(sh(`mount --bind ${q(img)} ${q(bound)}`), 'mount --bind of the image');
      try {
        // the bug this guards: the first mount made through a symlinked mount point
        const pid = mount(img, path.join(dir, 'link'), env);
        expect(famfsMountsUnder(dir)).toEqual([real]);
        const { file: stateFile, state } = daemonOf(runDir, real);
        expect(state.mountpoint).toBe(real);
        expect(stateFile).toBe(daemonFiles(real, runDir).state);
        const stateBytes = fs.readFileSync(stateFile);

        const sameFs = new RegExp(`^famfs: famfs mount: this host \\(${MASTER}\\) already has .* mounted at ${real}$`);
        const mountPoint = /^famfs: famfs mount: .* is already a famfs mount point$/;
        const attempts: Array<{ what: string; args: string[]; cwd?: string; msg: RegExp }> = [
          { what: 'the same image at another mount point', args: [img, m2], msg: sameFs },
          { what: 'a symlink to the image', args: [path.join(dir, 'imglink'), m2], msg: sameFs },
          { what: 'a relative image path with ..', cwd: sub, args: ['../sub/../img', '../m2'], msg: sameFs },
          { what: 'a bind mount of the image', args: [bound, m2], msg: sameFs },
          { what: 'the symlinked mount point again (another file system)', args: [img2, path.join(dir, 'link')], msg: mountPoint },
          { what: 'a second symlink to the mount point', args: [img2, path.join(dir, 'link2')], msg: mountPoint },
          { what: 'the mount point, relative with ..', cwd: sub, args: [img2, '../m2/../real'], msg: mountPoint },
          { what: 'the mount point through a symlinked parent', args: [img2, path.join(dir, 'here/here/real')], msg: mountPoint },
          { what: 'the mount point with a trailing slash and dots', args: [img2, `${real}/./`], msg: mountPoint },
        ];
        for (const a of attempts) {
          const r = a.cwd === undefined
            ? runBin('famfs', ['mount', ...a.args], env)
            : sh(`cd ${q(a.cwd)} && ${q(FAMFS_BIN)} mount ${a.args.map(q).join(' ')}`, env);
          expect(oneLineFailure(r, a.what), a.what).toMatch(a.msg);
          expect(r.status, a.what).toBe(1); // famfs mount: every failure exits 1, as upstream
          expect(fs.readFileSync(stateFile).equals(stateBytes), `${a.what}: the first mount's state changed`).toBe(true);
          expect(pidGone(pid), a.what).toBe(false);
          expect(famfsMountsUnder(dir), a.what).toEqual([real]);
        }

        // the refusals are EBUSY (the exit code is upstream's 1 for any mount failure)
        const saved = process.env.FAMFS_RUN_DIR;
        process.env.FAMFS_RUN_DIR = runDir;
        try {
          for (const [device, mountpoint] of [[path.join(dir, 'imglink'), m2], [img2, path.join(dir, 'link2')]] as const) {
            const e = await mountFamfs({ device, mountpoint, systemUuid: MASTER, cache: 'auto', profile: DEFAULT_FAMFS_PROFILE, logLevel: 'info', refreshInterval: 1 })
              .then(() => undefined, (x: unknown) => x);
            expect(e).toBeInstanceOf(FamfsError);
            expect((e as FamfsError).code).toBe('EBUSY');
          }
        } finally {
          if (saved === undefined) delete process.env.FAMFS_RUN_DIR;
          else process.env.FAMFS_RUN_DIR = saved;
        }

        // the first mount still works: famfs mkdir, famfs cp, famfs status
        const data = seeded('hardening alias cp').bytes(3 * MiB + 17);
        fs.writeFileSync(path.join(dir, 'local'), data);
        ok(runBin('famfs', ['mkdir', path.join(real, 'after')], env), 'famfs mkdir into the first mount');
        ok(runBin('famfs', ['cp', path.join(dir, 'local'), path.join(real, 'after/file')], env), 'famfs cp into the first mount');
        expect(sha256(fs.readFileSync(path.join(real, 'after/file')))).toBe(sha256(data));
        expect(ok(runBin('famfs', ['status', real], env), 'famfs status').stdout).toMatch(new RegExp(`^daemon pid: +${pid}$`, 'm'));
        expect(fs.readFileSync(stateFile).equals(stateBytes)).toBe(true);
        expectFsckClean(fsckJson(real, env), 'after the refused aliases');

        // famfs umount through an alias ends that daemon and removes its state
        ok(runBin('famfs', ['umount', path.join(dir, 'link2')], env), 'famfs umount through a symlink');
        expect(famfsMountsUnder(dir)).toEqual([]);
        expect(await waitFor(() => pidGone(pid), 5000)).toBe(true);
        expect(fs.existsSync(stateFile)).toBe(false);
        console.log(`aliases: ${attempts.length} second mounts refused, the first mount intact`);
      } finally {
        sh(`umount ${q(bound)}`);
      }
    });
  }, 60_000);

  it('two famfs mounts of one file system at once: exactly one wins, the other is refused with EBUSY in one line', async () => {
    requireBuiltCli();
    await withMountScratch(tmp.make('race-'), MASTER, async ({ dir, runDir, env }) => {
      const img = mkfs(path.join(dir, 'img'));
      const mps = [path.join(dir, 'a'), path.join(dir, 'b')];
      for (const m of mps) fs.mkdirSync(m);
      const ROUNDS = 3;
      for (let round = 0; round < ROUNDS; round++) {
        // both at once: without the run directory lock both could pass the checks and mount
        const rs = await Promise.all(mps.map((m) => spawnFamfs(['mount', img, m], env).done));
        const won = rs.filter((r) => r.status === 0);
        expect(won, `round ${round}: ${rs.map((r) => r.stderr).join(' | ')}`).toHaveLength(1);
        const lost = rs.find((r) => r.status !== 0)!;
        expect(oneLineFailure(lost, `round ${round}: the second mount`)).toMatch(/already has .* mounted at|is already mounted at/);
        const mounted = famfsMountsUnder(dir);
        expect(mounted).toHaveLength(1);
        const { file, state } = daemonOf(runDir, mounted[0]!);
        ok(runBin('famfs', ['umount', mounted[0]!], env), 'famfs umount');
        expect(await waitFor(() => pidGone(state.pid), 5000)).toBe(true);
        expect(fs.existsSync(file)).toBe(false);
      }
      console.log(`concurrent mounts: ${ROUNDS} races, one winner each`);
    });
  }, 60_000);

  // ------------------------------------------------------------------ b
  it('famfs mount refuses a run directory others can write, owned by another uid, a symlink, a file or under an unsafe parent: one line, nothing written, nothing mounted', async () => {
    requireBuiltCli();
    await withMountScratch(tmp.make('rundir-'), MASTER, async ({ dir, env }) => {
      const img = mkfs(path.join(dir, 'img'));
      const mnt = path.join(dir, 'mnt');
      fs.mkdirSync(mnt);
      /** each case: how to make its run directory, the refusal, and what is in it afterwards (must be nothing) */
      const cases: Array<{ what: string; make: (run: string) => void; msg: RegExp; inside: (run: string) => string[] }> = [];
      const add = (what: string, make: (run: string) => void, msg: RegExp, inside = (run: string) => fs.readdirSync(run)) =>
        void cases.push({ what, make, msg, inside });
      const mk = (run: string, mode: number) => {
        fs.mkdirSync(run, { recursive: true });
        fs.chmodSync(run, mode);
      };
      add('mode 0777', (r) => mk(r, 0o777), /group or others can write it \(mode 0777\)/);
      add('mode 0730 (group-writable)', (r) => mk(r, 0o730), /group or others can write it \(mode 0730\)/);
      add('mode 1777 (sticky, like /tmp)', (r) => mk(r, 0o1777), /group or others can write it \(mode 1777\)/);
      add('owned by uid 65534', (r) => {
        mk(r, 0o700);
        fs.chownSync(r, 65534, 65534);
      }, /it is owned by uid 65534/);
      add('a symlink to a good directory', (r) => {
        mk(`${r}-good`, 0o700);
        fs.symlinkSync(`${r}-good`, r);
      }, /it is a symbolic link/, (r) => fs.readdirSync(`${r}-good`));
      add('a regular file', (r) => {
        fs.mkdirSync(path.dirname(r));
        fs.writeFileSync(r, 'not a directory');
      }, /it is not a directory/, (r) => [fs.readFileSync(r, 'utf8')].filter((t) => t !== 'not a directory'));
      add('under a parent others can write (not sticky)', (r) => {
        mk(r, 0o700);
        fs.chmodSync(path.dirname(r), 0o777);
      }, /its parent directory .* is writable by group or others and not sticky \(mode 0777\)/);
      for (const [i, c] of cases.entries()) {
        const run = path.join(dir, `case${i}`, 'run');
        c.make(run);
        const r = runBin('famfs', ['mount', img, mnt], { ...env, FAMFS_RUN_DIR: run });
        const line = oneLineFailure(r, c.what);
        expect(line, c.what).toMatch(/^famfs: famfs mount: refusing run directory /);
        expect(line, c.what).toMatch(c.msg);
        expect(c.inside(run), `${c.what}: something was written`).toEqual([]);
        expect(isMounted(mnt), c.what).toBe(false);
      }
      console.log(`run directory: ${cases.length} unsafe run directories refused`);
    });
  }, 60_000);

  it('a symlink, FIFO or hard link planted at the daemon log, state or socket path is refused and never followed; garbage state files are ignored with a warning', async () => {
    requireBuiltCli();
    await withMountScratch(tmp.make('plant-'), MASTER, async ({ dir, runDir, env }) => {
      const img = mkfs(path.join(dir, 'img'));
      const mnt = path.join(dir, 'mnt');
      fs.mkdirSync(mnt);
      fs.mkdirSync(runDir, { mode: 0o700 });
      const files = daemonFiles(mnt, runDir);
      const victim = path.join(dir, 'victim');
      fs.writeFileSync(victim, 'precious\n', { mode: 0o644 });
      const before = fs.statSync(victim);
      const victimIntact = (what: string) => {
        const st = fs.statSync(victim);
        expect([what, fs.readFileSync(victim, 'utf8'), st.mode, st.mtimeMs, st.nlink]).toEqual([what, 'precious\n', before.mode, before.mtimeMs, 1]);
      };
      const plants: Array<{ what: string; at: string; plant: () => void; msg: RegExp }> = [
        { what: 'symlink at the log', at: files.log, plant: () => fs.symlinkSync(victim, files.log), msg: /\.log: it is a symbolic link/ },
        { what: 'symlink at the state', at: files.state, plant: () => fs.symlinkSync(victim, files.state), msg: /\.json: it is a symbolic link/ },
        { what: 'symlink at the socket', at: files.socket, plant: () => fs.symlinkSync(victim, files.socket), msg: /\.sock: it is a symbolic link/ },
        { what: 'dangling symlink at the log', at: files.log, plant: () => fs.symlinkSync(path.join(dir, 'would-be-created'), files.log), msg: /\.log: it is a symbolic link/ },
        { what: 'FIFO at the log', at: files.log, plant: () => ok(sh(`mkfifo ${q(files.log)}`), 'mkfifo'), msg: /\.log: it is not a regular file/ },
        { what: 'hard link at the log', at: files.log, plant: () => fs.linkSync(victim, files.log), msg: /\.log: it has 2 hard links/ },
        { what: 'directory at the state', at: files.state, plant: () => fs.mkdirSync(files.state), msg: /\.json: it is not a regular file/ },
        { what: 'file at the socket', at: files.socket, plant: () => fs.writeFileSync(files.socket, ''), msg: /\.sock: it is not a socket/ },
      ];
      for (const p of plants) {
        p.plant();
        const r = runBin('famfs', ['mount', img, mnt], env);
        const line = oneLineFailure(r, p.what);
        expect(line, p.what).toMatch(/^famfs: famfs mount: refusing \S+: /);
        expect(line, p.what).toMatch(p.msg);
        if (p.what.startsWith('hard link')) {
          fs.rmSync(p.at);
          victimIntact(p.what);
        } else {
          victimIntact(p.what);
          fs.rmSync(p.at, { recursive: true });
        }
        expect(isMounted(mnt), p.what).toBe(false);
        expect(fs.existsSync(path.join(dir, 'would-be-created')), p.what).toBe(false);
        expect(fs.readdirSync(runDir), p.what).toEqual([]);
      }

      // garbage where state files are read: warnings, and the mount still works
      const garbage: Array<[string, string]> = [
        ['junk.json', '{"pid": '],
        ['array.json', '[]'],
        ['wrongtypes.json', JSON.stringify({ pid: 'x', device: 1, mountpoint: null })],
        ['relative.json', JSON.stringify({ pid: 123, device: 'img', mountpoint: 'mnt', systemUuid: MASTER, fsUuid: 'f', socket: 's', log: 'l' })],
      ];
      for (const [n, t] of garbage) fs.writeFileSync(path.join(runDir, n), t);
      fs.symlinkSync(victim, path.join(runDir, 'link.json'));
      const r = ok(runBin('famfs', ['mount', img, mnt], env), 'famfs mount beside garbage state files');
      const warnings = lines(r.stderr);
      expect(warnings).toHaveLength(garbage.length + 1);
      for (const w of warnings) expect(w).toMatch(/^famfs: warning: ignoring daemon state \S+\.json: \S/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      victimIntact('garbage state files');
      // what the daemon made is its owner's only; the run directory too
      for (const f of [files.log, files.state, files.socket]) expect(fs.lstatSync(f).mode & 0o777, f).toBe(0o600);
      expect(fs.statSync(runDir).mode & 0o777).toBe(0o700);
      // famfs umount reads the run directory too: an unsafe one refuses it (plain umount would still work)
      fs.chmodSync(runDir, 0o777);
      expect(oneLineFailure(runBin('famfs', ['umount', mnt], env), 'famfs umount, run directory 0777'))
        .toMatch(/^famfs: famfs umount: refusing run directory .*: group or others can write it \(mode 0777\)/);
      expect(isMounted(mnt)).toBe(true);
      fs.chmodSync(runDir, 0o700);
      ok(runBin('famfs', ['umount', mnt], env), 'famfs umount');
      expect(fs.existsSync(files.state)).toBe(false);
      console.log(`planted files: ${plants.length} refused, ${garbage.length + 1} garbage state files ignored`);
    });
  }, 60_000);

  // ------------------------------------------------------------------ c
  it('SIGKILL of the daemon during mounted famfs cp -r and famfs mkdir -p: one line from the CLI, fsck clean, reported files intact, the next mount serves', async () => {
    requireBuiltCli();
    const R = seeded('hardening kill campaign');
    await withMountScratch(tmp.make('kill-'), MASTER, async ({ dir, env }) => {
      const img = mkfs(path.join(dir, 'img'), '4g');
      const mnt = path.join(dir, 'mnt');
      fs.mkdirSync(mnt);
      const logOffset = fsckJson(img, env).superblock.logOffset;
      const nextIndex = () => logNextIndex(img, logOffset);
      // the local tree each cp round copies: 12 files of 64 KiB to 3 MiB
      const src = path.join(dir, 'src');
      fs.mkdirSync(src);
      const shaOf = new Map<string, string>();
      for (let i = 0; i < 12; i++) {
        const name = `f${String(i).padStart(2, '0')}`;
        const data = R.bytes(R.range(64 * 1024, 3 * MiB));
        fs.writeFileSync(path.join(src, name), data);
        shaOf.set(name, sha256(data));
      }
      let pid = mount(img, mnt, env);
      const counts = { rounds: 0, before: 0, mid: 0, after: 0, filesChecked: 0, dirsChecked: 0 };
      const messages = new Set<string>();

      /** After a kill: the CLI's answer, fsck, the next mount. Returns how the kill landed. */
      const afterKill = async (r: RunResult, what: string, logged: number): Promise<'before' | 'mid' | 'after'> => {
        await killDaemon(pid);
        if (r.status !== 0) {
          // what users saw, with the scratch paths and sizes taken out
          messages.add(`exit ${r.status}: ${oneLineFailure(r, what).split(dir).join('…').replace(/\d+/g, 'N')}`);
        } else {
          expect(r.stderr, what).toBe('');
        }
        // the next famfs mount on the same mount point cleans the dead mount up and serves
        pid = mount(img, mnt, env);
        expect(famfsMountsUnder(dir), what).toEqual([mnt]);
        const f = fsckJson(mnt, env);
        expectFsckClean(f, what);
        expect(f.log.entriesUsed, what).toBe(nextIndex());
        counts.rounds++;
        const landed = r.status === 0 ? 'after' : logged === 0 ? 'before' : 'mid';
        counts[landed]++;
        return landed;
      };

      // calibration: one uncut round of each (durations for the time-based kills)
      const calCp = await spawnFamfs(['cp', '-r', src, path.join(mnt, 'cal')], env).done;
      ok(calCp, 'famfs cp -r (calibration)');
      const DEPTH = 36; // 'kNN' + 36 × '/d' = 75 bytes: under famfs's 79-byte relpath limit
      const chain = (n: number) => `k${String(n).padStart(2, '0')}${'/d'.repeat(DEPTH)}`;
      const calMkdir = await spawnFamfs(['mkdir', '-p', path.join(mnt, chain(99))], env).done;
      ok(calMkdir, 'famfs mkdir -p (calibration)');

      const CP_ROUNDS = 11;
      for (let round = 0; round < CP_ROUNDS; round++) {
        const dest = path.join(mnt, `c${round}`);
        const base = nextIndex();
        const run = spawnFamfs(['cp', '-v', '-r', src, dest], env);
        const reported = () => lines(run.stdout()).filter((l) => l.startsWith('famfs cp: 100%: ')).length;
        // even rounds: after the k-th file the CLI reports (and a seeded jitter); odd rounds: a seeded time
        if (round % 2 === 0) {
          const k = R.range(1, 11);
          const jitter = R.int(25);
          const until = Date.now() + 20_000;
          while (reported() < k && run.child.exitCode === null && Date.now() < until) await sleep(2);
          await sleep(jitter);
        } else {
          await sleep(R.int(Math.ceil(calCp.ms * 1.3)));
        }
        process.kill(pid, 'SIGKILL');
        const r = await run.done;
        const what = `cp round ${round}`;
        const landed = await afterKill(r, what, nextIndex() - base);
        // every file the CLI reported as copied is intact
        const done = lines(r.stdout).filter((l) => l.startsWith('famfs cp: 100%: ')).map((l) => l.slice('famfs cp: 100%: '.length));
        if (done.length > 0) {
          const sums = ok(sh(`sha256sum ${done.map(q).join(' ')}`), `${what}: sha256sum`);
          expect(lines(sums.stdout), what).toEqual(done.map((p) => `${shaOf.get(path.basename(p))}  ${p}`));
        }
        counts.filesChecked += done.length;
        if (landed === 'after') expect(done, what).toHaveLength(shaOf.size);
      }

      const MKDIR_ROUNDS = 10;
      for (let round = 0; round < MKDIR_ROUNDS; round++) {
        const target = path.join(mnt, chain(round));
        const base = nextIndex();
        const run = spawnFamfs(['mkdir', '-p', target], env);
        // even rounds: once the daemon has logged k directories; odd rounds: a seeded time
        if (round % 2 === 0) {
          const k = R.range(1, DEPTH);
          const until = Date.now() + 20_000;
          while (nextIndex() - base < k && run.child.exitCode === null && Date.now() < until) await new Promise(setImmediate);
        } else {
          await sleep(R.int(Math.ceil(calMkdir.ms * 1.3)));
        }
        process.kill(pid, 'SIGKILL');
        const r = await run.done;
        const what = `mkdir round ${round}`;
        const logged = nextIndex() - base;
        await afterKill(r, what, logged);
        // what was logged is a prefix of the chain: each directory's parent is there
        const top = path.join(mnt, `k${String(round).padStart(2, '0')}`);
        const found = logged === 0 ? [] : lines(ok(sh(`find ${q(top)} -type d`), `${what}: find`).stdout);
        expect(found, what).toHaveLength(logged);
        counts.dirsChecked += found.length;
        // and famfs mkdir -p finishes the job
        if (r.status !== 0) ok(runBin('famfs', ['mkdir', '-p', target], env), `${what}: famfs mkdir -p again`);
        expect(fs.statSync(target).isDirectory(), what).toBe(true);
      }
      console.log(
        `kill campaign (seed ${R.seed}): ${counts.rounds} rounds (${CP_ROUNDS} cp -r, ${MKDIR_ROUNDS} mkdir -p); kills landed ` +
          `${counts.before} before, ${counts.mid} mid-operation, ${counts.after} after; ` +
          `${counts.filesChecked} reported files checked by sha256, ${counts.dirsChecked} logged directories checked`,
      );
      console.log(`the CLI's one-line failures:\n  ${[...messages].sort().join('\n  ')}`);
      expect(counts.rounds).toBeGreaterThanOrEqual(20);
      expect(counts.mid).toBeGreaterThan(0);
      expectFsckClean(fsckJson(mnt, env), 'after the campaign');
    });
  }, 180_000);

  // ------------------------------------------------------------------ d
  it('a control request in flight when the daemon dies, or a socket that hangs up or answers garbage: the CLI says the daemon is gone, in one line', async () => {
    requireBuiltCli();
    const R = seeded('hardening control requests');
    await withMountScratch(tmp.make('control-'), MASTER, async ({ dir, env }) => {
      const img = mkfs(path.join(dir, 'img'));
      const mnt = path.join(dir, 'mnt');
      fs.mkdirSync(mnt);
      let pid = mount(img, mnt, env);
      const sock = daemonOf(env.FAMFS_RUN_DIR!, mnt).state.socket;
      const gone = /^famfs: the famfs daemon is not answering \(.*\): is the file system still mounted\?$/;
      const counts = { inFlight: 0, racing: 0, racingFailed: 0, fakes: 0 };

      // 1. deterministic: the daemon stopped, the request queued on its socket, then SIGKILL
      for (const cmd of [['status', mnt], ['logplay', mnt], ['loglevel', mnt, 'debug']]) {
        process.kill(pid, 'SIGSTOP');
        const run = spawnFamfs(cmd, env);
        const queued = await waitFor(() => pendingConnections(sock) > 0, 10_000);
        process.kill(pid, 'SIGKILL');
        const r = await run.done;
        expect(queued, `${cmd[0]}: the request never reached the socket`).toBe(true);
        expect(oneLineFailure(r, `${cmd[0]} in flight`)).toMatch(gone);
        counts.inFlight++;
        await killDaemon(pid);
        pid = mount(img, mnt, env);
      }

      // 2. racing: status/logplay against a SIGKILL at a seeded moment
      const cal = await spawnFamfs(['status', mnt], env).done;
      ok(cal, 'famfs status (calibration)');
      for (let i = 0; i < 4; i++) {
        const cmd = i % 2 === 0 ? 'status' : 'logplay';
        const run = spawnFamfs([cmd, mnt], env);
        await sleep(R.int(Math.ceil(cal.ms * 1.2)));
        process.kill(pid, 'SIGKILL');
        const r = await run.done;
        if (r.status !== 0) {
          expect(oneLineFailure(r, `${cmd} racing a SIGKILL`)).toMatch(gone);
          counts.racingFailed++;
        }
        counts.racing++;
        await killDaemon(pid);
        pid = mount(img, mnt, env);
      }

      // 3. a socket that accepts and hangs up, or answers garbage (the daemon's own socket set aside meanwhile)
      const aside = `${sock}.aside`;
      fs.renameSync(sock, aside);
      try {
        const fakes: Array<[string, (s: net.Socket) => void, RegExp]> = [
          ['hangs up at once', (s) => s.destroy(), /it closed the connection without an answer/],
          ['hangs up after reading the request', (s) => s.once('data', () => s.destroy()), /it closed the connection without an answer|ECONNRESET/],
          ['answers garbage', (s) => s.once('data', () => s.end(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))), /a cut-off or malformed answer/],
        ];
        for (const [what, behave, msg] of fakes) {
          const server = net.createServer(behave);
          await new Promise<void>((resolve) => server.listen(sock, resolve));
          try {
            const r = await spawnFamfs(['status', mnt], env).done;
            const line = oneLineFailure(r, what);
            expect(line, what).toMatch(gone);
            expect(line, what).toMatch(msg);
            counts.fakes++;
          } finally {
            await new Promise((resolve) => server.close(resolve));
            fs.rmSync(sock, { force: true });
          }
        }
      } finally {
        fs.renameSync(aside, sock);
      }
      ok(runBin('famfs', ['status', mnt], env), 'famfs status with the real socket back');
      console.log(
        `control requests: ${counts.inFlight} killed in flight, ${counts.racing} racing a SIGKILL (${counts.racingFailed} failed, ` +
          `${counts.racing - counts.racingFailed} answered first), ${counts.fakes} fake sockets`,
      );
    });
  }, 90_000);

  // ------------------------------------------------------------------ e
  for (const writers of [2, 4]) {
    it(`${writers} offline writers and the mounted master appending to one log at once: nothing lost, nothing twice, fsck clean`, async () => {
      requireBuiltCli();
      const R = seeded(`hardening concurrent writers ${writers}`);
      await withMountScratch(tmp.make(`writers${writers}-`), MASTER, async ({ dir, env }) => {
        const img = mkfs(path.join(dir, 'img'));
        const mnt = path.join(dir, 'mnt');
        fs.mkdirSync(mnt);
        mount(img, mnt, env);
        const base = fsckJson(mnt, env).log.entriesUsed;
        const perWriter = writers === 2 ? 6 : 4;
        const cli = q(FAMFS_BIN);
        /** one sh script per writer: each step a separate CLI process, reporting what succeeded */
        const scripts: string[] = [];
        const expectFiles = new Map<string, number>();
        const expectDirs = new Set<string>();
        const step = (cmd: string, report: string) => `if ${cmd} >/dev/null; then echo ${q(report)}; else echo ${q(`fail ${report}`)}; fi`;
        for (let w = 0; w < writers; w++) {
          const steps = [step(`${cli} -D ${q(img)} mkdir w${w}`, `dir w${w}`)];
          for (let i = 0; i < perWriter; i++) {
            const size = R.range(1, 5 * MiB);
            steps.push(step(`${cli} -D ${q(img)} creat -s ${size} w${w}/f${i}`, `file w${w}/f${i} ${size}`));
          }
          scripts.push(steps.join('\n'));
        }
        const m = (p: string) => q(path.join(mnt, p));
        const master = [step(`${cli} mkdir ${m('m')}`, 'dir m')];
        for (let i = 0; i < perWriter; i++) {
          const size = R.range(1, 5 * MiB);
          master.push(step(`${cli} creat -s ${size} ${m(`m/f${i}`)}`, `file m/f${i} ${size}`));
          if (i % 2 === 1) master.push(step(`mkdir ${m(`m/d${i}`)}`, `dir m/d${i}`)); // FUSE MKDIR, logged by the daemon
        }
        scripts.push(master.join('\n'));
        // all at once: the writers' and the master's appends interleave on the one log
        const outs = await Promise.all(scripts.map((s) => shAsync(s, env)));
        for (const [i, r] of outs.entries()) {
          expect(r.status, `writer ${i}: ${r.stderr}`).toBe(0);
          for (const l of lines(r.stdout)) {
            expect(l, `writer ${i}`).not.toMatch(/^fail /);
            const f = /^file (\S+) (\d+)$/.exec(l);
            if (f) expectFiles.set(f[1]!, Number(f[2]));
            else if (l.startsWith('dir ')) expectDirs.add(l.slice(4));
          }
        }
        expect(expectFiles.size).toBe((writers + 1) * perWriter);

        const f = fsckJson(mnt, env);
        expectFsckClean(f, `${writers} writers`);
        expect(f.files).toBe(expectFiles.size);
        expect(f.directories).toBe(expectDirs.size);
        expect(f.log.entriesUsed - base).toBe(expectFiles.size + expectDirs.size);

        // every entry once: the replayed nodes' log indexes are exactly 0 .. entries-1
        const lp = ok(runBin('famfs', ['-D', img, 'logplay', '-v'], env), 'famfs -D logplay -v');
        const seen = new Map<string, number>();
        const indexes: number[] = [];
        for (const l of lines(lp.stdout)) {
          const file = /^famfs logplay: (\d+): file=(\S+) size=(\d+)$/.exec(l);
          const mk = /^famfs logplay: (\d+): mkdir \d+ \d+:\d+ (\S+)$/.exec(l);
          if (file) {
            indexes.push(Number(file[1]));
            seen.set(file[2]!, Number(file[3]));
          } else if (mk) {
            indexes.push(Number(mk[1]));
            seen.set(mk[2]!, -1);
          }
        }
        expect(indexes.sort((a, b) => a - b)).toEqual([...Array(f.log.entriesUsed).keys()]);
        expect(seen).toEqual(new Map([...expectFiles, ...[...expectDirs].map((d) => [d, -1] as const)].sort()));
        // and the mounted master's view agrees (after replaying what the offline writers appended)
        ok(runBin('famfs', ['logplay', mnt], env), 'famfs logplay MNT');
        const listing = ok(sh(`cd ${q(mnt)} && find . -path ./.meta -prune -o -mindepth 1 -printf '%P %y %s\\n'`), 'find').stdout;
        const viaMount = new Map(lines(listing).map((l) => {
          const [p, y, s] = l.split(' ');
          return [p!, y === 'd' ? -1 : Number(s)] as const;
        }));
        expect(viaMount).toEqual(seen);
        console.log(`${writers} offline writers + the mounted master: ${expectFiles.size} files and ${expectDirs.size} directories, each logged exactly once`);
      });
    }, 90_000);
  }
});
