/**
 * Metadata coherence without polling, between two emulated hosts on one
 * machine: one image, mounted twice — by the master and by a client (another
 * system UUID) whose fallback timer is off (`-o refresh=0`). The log header's
 * next_index in the shared image is the version number: the client compares
 * it at every LOOKUP, GETATTR, OPENDIR and READDIR and replays what is new
 * before answering, telling the kernel to drop the listings it cached. So a
 * file the master creates is on the client at the very next access — no
 * `famfs logplay`, no sleep.
 *
 * Needs root and /dev/fuse; without them it says why and skips, or fails
 * when FAMFS_TEST_NO_SKIP is set (CI).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, needsRoot, requireBuiltCli, runBin, tmpDirs } from './helpers.js';
import { cleanupMounts, devFuseReq } from './mount-helpers.js';

const MASTER = '5e5e0001-0000-4000-8000-0000000000c1';
const CLIENT = '5e5e0002-0000-4000-8000-0000000000c2';
const tmp = tmpDirs('famfs-coherence-');

function ok(r: RunResult, what: string): RunResult {
  expect(r.status, `${what}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

describe.runIf(needsRoot('the two-host coherence test (famfs mount)', [devFuseReq]))('a client sees the master\'s new files at its next access', () => {
  let dir: string;
  let runDir: string;
  let img: string;
  let mMaster: string;
  let mClient: string;
  const as = (uuid: string) => (...args: string[]): RunResult => runBin('famfs', args, { FAMFS_SYSTEM_UUID: uuid, FAMFS_RUN_DIR: runDir });
  const master = as(MASTER);
  const client = as(CLIENT);

  beforeAll(() => {
    requireBuiltCli();
    dir = tmp.make('c-');
    runDir = path.join(dir, 'run');
    img = path.join(dir, 'famfs.img');
    mMaster = path.join(dir, 'master');
    mClient = path.join(dir, 'client');
    fs.mkdirSync(mMaster);
    fs.mkdirSync(mClient);
    ok(runBin('mkfs.famfs', ['--create-size', '4g', img], { FAMFS_SYSTEM_UUID: MASTER }), 'mkfs');
    ok(master('-D', img, 'mkdir', 'd'), 'mkdir d');
    ok(master('mount', img, mMaster), 'mount master');
    // cache=always: listings and entries are cached a day; only invalidation makes the new names show
    ok(client('mount', '-o', 'refresh=0,cache=always', img, mClient), 'mount client');
  });

  afterAll(async () => {
    if (dir === undefined) return;
    const forced = await cleanupMounts(dir, runDir, { FAMFS_SYSTEM_UUID: MASTER });
    if (forced.length > 0) console.warn(`coherence cleanup had to force: ${forced.join('; ')}`);
  });

  it('a new file and directory: stat, open, readdir of a cached directory — each at once, 20 rounds', () => {
    for (let i = 0; i < 20; i++) {
      // the client lists (and caches) the directory first
      const before = fs.readdirSync(path.join(mClient, 'd'));
      ok(master('creat', '-s', '4k', '-r', '-S', String(100 + i), path.join(mMaster, 'd', `f${i}`)), `creat f${i}`);
      ok(master('mkdir', path.join(mMaster, 'd', `sub${i}`)), `mkdir sub${i}`);
      // at once, no sleep: stat (LOOKUP), a listing of the cached directory (OPENDIR/READDIR), a read
      expect(fs.statSync(path.join(mClient, 'd', `f${i}`)).size, `round ${i}`).toBe(4096);
      expect(fs.readdirSync(path.join(mClient, 'd')).sort(), `round ${i}`).toEqual([...before, `f${i}`, `sub${i}`].sort());
      expect(fs.statSync(path.join(mClient, 'd', `sub${i}`)).isDirectory()).toBe(true);
      ok(client('verify', '-S', String(100 + i), '-f', path.join(mClient, 'd', `f${i}`)), `verify f${i}`);
    }
    // the client never replayed on a timer: its log position moved by access alone
    const st = JSON.parse(ok(client('status', '--json', mClient), 'status').stdout) as { logEntries: number; role: string };
    expect(st.role).toBe('client');
    expect(st.logEntries).toBe(1 + 40);
  });
});
