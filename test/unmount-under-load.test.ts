/**
 * A real `famfs mount` taken down while fio reads it, on each channel the
 * daemon can serve requests on: the JS event loop (queues=0), native queues
 * on cloned /dev/fuse channels (uring=off), and native queues on
 * FUSE-over-io_uring (uring=on; the test turns the fuse module's
 * enable_uring on under test/uring-lock.ts and puts it back; skipped, with
 * the reason, on kernels without the parameter).
 *
 * Per channel:
 *  - `famfs umount` of a busy mount refuses with one line (EBUSY); the mount
 *    keeps serving and the readers never notice;
 *  - `umount -l` detaches the mount: a reader holding the file keeps reading
 *    the right bytes; the daemon ends by itself once the last file closes;
 *  - SIGTERM: the daemon detaches, serves open files for its grace period,
 *    then closes the connection — fio's reads fail instead of hanging, the
 *    daemon exits 0, no mount or run-directory file is left;
 *  - `umount -f` aborts the connection under load (the kernel answers
 *    ECONNABORTED): the daemon notices and exits; `famfs umount` removes the
 *    dead mount.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RandomStream } from '@famfs/core';
import { possibleCpus, setUringParameter, uringParameter } from '@famfs/native';
import { MiB, type Requirement, type RunResult, needsRoot, onPathReq, requireBuiltCli, runBin, tmpDirs } from './helpers.js';
import { holdEnableUring } from './uring-lock.js';
import { daemonOf, devFuseReq, isMounted, pidGone, q, sh, shAsync, sleep, waitFor, withMountScratch } from './mount-helpers.js';

const MASTER = '6a3b4c2d-0000-4000-8000-0000000000af';
const SIZE = 64 * MiB;
const SEED = 7;
const uringReq: Requirement = { what: 'the fuse module parameter enable_uring (FUSE-over-io_uring)', met: () => uringParameter() !== undefined };

const tmp = tmpDirs('famfs-unmount-load-');

interface Channel {
  name: 'js' | 'clone' | 'uring';
  options: string;
}
const CHANNELS: Channel[] = [
  { name: 'js', options: 'queues=0' },
  { name: 'clone', options: 'queues=2,uring=off' },
  { name: 'uring', options: 'queues=2,uring=on' },
];

const expectedSha = (() => {
  let sha: string | undefined;
  return (): string => {
    if (sha === undefined) {
      const buf = new Uint8Array(SIZE);
      new RandomStream(SEED).fill(buf);
      sha = createHash('sha256').update(buf).digest('hex');
    }
    return sha;
  };
})();

function ok(r: RunResult, what: string): RunResult {
  expect(r.status, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

/** fio: 4 jobs of 4 KiB O_DIRECT random reads of `file` for `seconds`. */
function fio(file: string, seconds: number): Promise<RunResult> {
  return shAsync(
    `fio --name=load --filename=${q(file)} --rw=randread --bs=4k --direct=1 --numjobs=4 --ioengine=psync ` +
      `--time_based --runtime=${seconds} --size=${SIZE} --norandommap --invalidate=0 --allow_file_create=0 --output-format=terse`,
    {},
    (seconds + 60) * 1000,
  );
}

/**
 * python3 holding `file` open: says "open" once it has the fd, then for
 * `seconds` reads the whole file through that fd again and again and prints
 * the sha256 of each pass (the mount may be detached meanwhile).
 */
function holder(file: string, seconds: number): { ready: Promise<void>; done: Promise<RunResult> } {
  const py = [
    'import hashlib, os, sys, time',
    `fd = os.open(${JSON.stringify(file)}, os.O_RDONLY)`,
    'print("open", flush=True)',
    `end = time.time() + ${seconds}`,
    'while True:',
    '    h = hashlib.sha256(); off = 0',
    '    while True:',
    '        b = os.pread(fd, 1 << 20, off)',
    '        if not b: break',
    '        h.update(b); off += len(b)',
    '    print(h.hexdigest(), off, flush=True)',
    '    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)',
    '    if time.time() > end: break',
  ].join('\n');
  const child = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let opened: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (opened = resolve));
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    if (out.startsWith('open\n')) opened();
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => void (err += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 60) * 1000);
  const done = new Promise<RunResult>((resolve) => {
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      opened();
      resolve({ status, signal, stdout: out, stderr: err });
    });
  });
  return { ready, done };
}

async function mounted(dir: string, env: Record<string, string>, ch: Channel): Promise<{ mnt: string; big: string; pid: number }> {
  requireBuiltCli();
  const img = path.join(dir, 'famfs.img');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  ok(runBin('mkfs.famfs', ['--create-size', '1g', img], env), 'mkfs.famfs');
  ok(runBin('famfs', ['-D', img, 'creat', '-s', String(SIZE), '-r', '-S', String(SEED), 'big'], env), 'famfs creat');
  ok(runBin('famfs', ['mount', '-o', ch.options, img, mnt], env), `famfs mount -o ${ch.options}`);
  const st = JSON.parse(ok(runBin('famfs', ['status', '--json', mnt], env), 'famfs status').stdout) as { channel: string; queues: Array<{ kind: string }> };
  expect(st.channel).toBe(ch.name);
  // queues=2: two cloned channels besides the session's own /dev/fuse fd ('main');
  // io_uring: one ring queue per possible CPU, whatever queues= says
  const kinds = st.queues.map((x) => x.kind);
  if (ch.name === 'js') expect(kinds).toEqual([]);
  else if (ch.name === 'clone') expect(kinds.sort()).toEqual(['clone', 'clone', 'main']);
  else expect(kinds.filter((k) => k === 'uring').length).toBe(possibleCpus());
  const { state } = daemonOf(env.FAMFS_RUN_DIR!, mnt);
  return { mnt, big: path.join(mnt, 'big'), pid: state.pid };
}

function unmountUnderLoad(ch: Channel): void {
  it(`famfs umount of a busy mount refuses in one line; the readers go on`, async () => {
    await withMountScratch(tmp.make(`${ch.name}-busy`), MASTER, async ({ dir, env }) => {
      const { mnt, big, pid } = await mounted(dir, env, ch);
      const load = fio(big, 8);
      await sleep(1500);
      const r = runBin('famfs', ['umount', mnt], env);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/busy/i);
      expect(isMounted(mnt)).toBe(true);
      expect(pidGone(pid)).toBe(false);
      const f = await load;
      expect(f.status, f.stderr).toBe(0);
      expect(ok(sh(`sha256sum < ${q(big)}`), 'sha256sum').stdout.split(' ')[0]).toBe(expectedSha());
      ok(runBin('famfs', ['umount', mnt], env), 'famfs umount once idle');
      expect(await waitFor(() => pidGone(pid), 5000)).toBe(true);
    });
  });

  it('umount -l: a reader holding the file reads the right bytes to the end; the daemon then ends', async () => {
    await withMountScratch(tmp.make(`${ch.name}-lazy`), MASTER, async ({ dir, env, runDir }) => {
      const { mnt, big, pid } = await mounted(dir, env, ch);
      const h = holder(big, 4);
      await h.ready;
      const load = fio(big, 3);
      await sleep(1000);
      ok(sh(`umount -l ${q(mnt)}`), 'umount -l');
      expect(isMounted(mnt)).toBe(false);
      const r = await h.done;
      expect(r.status, r.stderr).toBe(0);
      const passes = r.stdout.trim().split('\n').slice(1);
      expect(passes.length).toBeGreaterThan(1);
      for (const p of passes) expect(p).toBe(`${expectedSha()} ${SIZE}`);
      // fio opened its file before the detach: it reads on, undisturbed
      const f = await load;
      expect(f.status, f.stderr).toBe(0);
      expect(await waitFor(() => pidGone(pid), 10_000), 'the daemon ends once the detached mount is idle').toBe(true);
      expect(fs.readdirSync(runDir).filter((n) => !n.endsWith('.log'))).toEqual([]); // the log stays, for the admin
    });
  }, 60_000);

  it('SIGTERM: the daemon detaches, closes the connection after its grace, exits 0; fio fails fast', async () => {
    await withMountScratch(tmp.make(`${ch.name}-term`), MASTER, async ({ dir, env, runDir }) => {
      const { mnt, big, pid } = await mounted(dir, env, ch);
      const load = fio(big, 30);
      await sleep(1500);
      const t0 = Date.now();
      process.kill(pid, 'SIGTERM');
      expect(await waitFor(() => pidGone(pid), 10_000), 'the daemon exits').toBe(true);
      const f = await load;
      expect(Date.now() - t0, 'fio did not wait out its 30 s').toBeLessThan(15_000);
      expect(f.status).not.toBe(0);
      expect(isMounted(mnt)).toBe(false);
      expect(fs.readdirSync(runDir).filter((n) => !n.endsWith('.log'))).toEqual([]); // the log stays, for the admin
    });
  }, 60_000);

  it('umount -f aborts the connection under load: the daemon exits, famfs umount clears the dead mount', async () => {
    await withMountScratch(tmp.make(`${ch.name}-abort`), MASTER, async ({ dir, env }) => {
      const { mnt, big, pid } = await mounted(dir, env, ch);
      const load = fio(big, 30);
      await sleep(1500);
      const t0 = Date.now();
      sh(`umount -f ${q(mnt)}`); // aborts the connection; the unmount itself is EBUSY while fio holds the file
      expect(await waitFor(() => pidGone(pid), 10_000), 'the daemon notices the abort and exits').toBe(true);
      const f = await load;
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(f.status).not.toBe(0);
      if (isMounted(mnt)) ok(runBin('famfs', ['umount', mnt], env), 'famfs umount of the dead mount');
      expect(isMounted(mnt)).toBe(false);
    });
  }, 60_000);
}

for (const ch of CHANNELS) {
  const reqs = [devFuseReq, onPathReq('fio'), onPathReq('python3'), ...(ch.name === 'uring' ? [uringReq] : [])];
  describe.runIf(needsRoot(`unmount under load (${ch.name})`, reqs))(`a famfs mount taken down under load: ${ch.name} channel (-o ${ch.options})`, () => {
    // enable_uring is machine-wide: held (and put back) under the tests' lock
    let releaseUring: (() => void) | undefined;
    beforeAll(async () => {
      if (ch.name === 'uring') releaseUring = await holdEnableUring();
    }, 11 * 60_000);
    afterAll(() => releaseUring?.());
    if (ch.name === 'uring') {
      it('uring=on with enable_uring off: the daemon turns it on before mounting, and the kernel offers io_uring', async () => {
        setUringParameter(false); // the lock is ours; its release puts back what the machine had
        await withMountScratch(tmp.make('uring-on'), MASTER, async ({ dir, env }) => {
          await mounted(dir, env, ch); // asserts the uring channel
          expect(uringParameter()).toBe(true);
        });
      });
    }
    unmountUnderLoad(ch);
  });
}
