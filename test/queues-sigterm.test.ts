/**
 * A famfs mount served through the native request queues (the real Session,
 * FamfsFuseFs and QueueTransport, run by bench/queues-server.mjs from the
 * built packages) is sent SIGTERM while fio reads it: the server detaches the
 * mount, stops the queues (joining their threads) and closes /dev/fuse, so
 * the kernel aborts the connection — fio's reads fail instead of hanging —
 * and the process exits 0 within seconds. For io_uring (enable_uring turned
 * on and restored) and for cloned /dev/fuse channels.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { setUringParameter, umount2, uringParameter } from '@famfs/native';
import { REPO, type Requirement, needsRoot, onPathReq, requireBuiltCli, runBin, tmpDirs } from './helpers.js';
import { devFuseReq, isMounted, shAsync, sleep } from './mount-helpers.js';

const MASTER = '6a3b4c2d-0000-4000-8000-0000000000ae';
const SERVER = path.join(REPO, 'bench/queues-server.mjs');
const BUILT = path.join(REPO, 'packages/famfs-fuse/dist/native-queues.js');
const uringReq: Requirement = { what: 'the fuse module parameter enable_uring', met: () => uringParameter() !== undefined };

const tmp = tmpDirs('famfs-queues-sigterm-');
const started: ChildProcess[] = [];
afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

async function sigtermUnderLoad(channel: 'uring' | 'clone'): Promise<void> {
  requireBuiltCli();
  if (!fs.existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`make build\` first`);
  const dir = tmp.make(channel);
  const img = path.join(dir, 'famfs.img');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  const env = { FAMFS_SYSTEM_UUID: MASTER };
  expect(runBin('mkfs.famfs', ['--create-size', '4g', img], env).status).toBe(0);
  expect(runBin('famfs', ['-D', img, 'creat', '-s', '64m', '-r', '-S', '7', 'big'], env).status).toBe(0);
  const server = spawn(process.execPath, [SERVER, channel, img, mnt], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  started.push(server);
  let out = '';
  server.stdout.setEncoding('utf8');
  server.stdout.on('data', (d: string) => (out += d));
  server.stderr.resume();
  try {
    for (let i = 0; i < 1000 && !/^ready /m.test(out); i++) await sleep(10);
    expect(out).toBe(`ready ${channel}\n`);
    const big = path.join(mnt, 'big');
    const load = shAsync(`fio --name=load --filename='${big}' --rw=randread --bs=4k --direct=1 --numjobs=4 --ioengine=psync --time_based --runtime=30 --size=64m --norandommap --invalidate=0 --allow_file_create=0`, {}, 60_000);
    await sleep(1500);
    const t0 = Date.now();
    server.kill('SIGTERM');
    expect(await exited(server)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    const f = await load;
    expect(Date.now() - t0).toBeLessThan(10_000); // fio did not wait out its 30 s
    expect(f.status).not.toBe(0); // its reads failed once the server was gone (ENOTCONN / ECONNABORTED)
    expect(isMounted(mnt)).toBe(false);
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    if (isMounted(mnt)) umount2(mnt, 2);
  }
}

describe.runIf(needsRoot('native request queues: SIGTERM under load', [devFuseReq, onPathReq('fio')]))('a queue-served mount killed with SIGTERM under load', () => {
  it('cloned /dev/fuse channels: the server ends promptly, fio fails fast, no mount is left', async () => {
    await sigtermUnderLoad('clone');
  });
});

describe.runIf(needsRoot('native request queues over io_uring: SIGTERM under load', [devFuseReq, onPathReq('fio'), uringReq]))('a queue-served io_uring mount killed with SIGTERM under load', () => {
  it('FUSE-over-io_uring: the server ends promptly, fio fails fast, no mount is left', async () => {
    const before = setUringParameter(true);
    const restore = (): void => void setUringParameter(before);
    process.once('exit', restore);
    try {
      await sigtermUnderLoad('uring');
    } finally {
      restore();
      process.off('exit', restore);
    }
  });
});
