/**
 * docs/json-output.md is the contract of every `--json` output: this test
 * reads its tables, runs each command (on images; status and logplay of a
 * mount on real FUSE mounts) and checks both ways that the fields the output
 * has are the fields the table lists, with the types it lists.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MiB, REPO, needsRoot, requireBuiltCli, runBin, type RunResult, tmpDirs } from './helpers.js';
import { devFuseReq, withMountScratch } from './mount-helpers.js';

const SYS = '5a5a5a5a-1111-4222-8333-444455556666';
const tmp = tmpDirs('famfs-json-');

/** One documented table: field path → the types it may have. */
type Table = Map<string, Set<string>>;

/** The tables of docs/json-output.md, by section heading (`famfs ls --json` …), in order. */
function docTables(): Map<string, Table[]> {
  const text = fs.readFileSync(path.join(REPO, 'docs/json-output.md'), 'utf8');
  const out = new Map<string, Table[]>();
  let section = '';
  let table: Table | undefined;
  for (const line of text.split('\n')) {
    const h = /^## (.+)$/.exec(line);
    if (h !== null) {
      section = h[1]!;
      out.set(section, []);
      table = undefined;
      continue;
    }
    const row = /^\| `([^`]+)` \| ([^|]+) \|/.exec(line);
    if (row === null) {
      if (!line.startsWith('|')) table = undefined;
      continue;
    }
    if (table === undefined) {
      table = new Map();
      out.get(section)!.push(table);
    }
    table.set(row[1]!, new Set(row[2]!.trim().split(' or ')));
  }
  return out;
}

/** Every field path of a JSON value with the type seen there; `maps` are not descended into. */
function fields(v: unknown, maps: ReadonlySet<string>, at = '', into = new Map<string, Set<string>>()): Map<string, Set<string>> {
  const note = (p: string, t: string): void => {
    if (!into.has(p)) into.set(p, new Set());
    into.get(p)!.add(t);
  };
  if (Array.isArray(v)) {
    const p = `${at}[]`;
    note(p, 'array');
    for (const x of v) if (typeof x === 'object' && x !== null) fields(x, maps, p, into);
    return into;
  }
  if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      const p = at === '' ? k : `${at}.${k}`;
      if (x === null) note(p, 'null');
      else if (Array.isArray(x)) {
        note(p, 'array');
        for (const e of x) if (typeof e === 'object' && e !== null) fields(e, maps, `${p}[]`, into);
      } else if (typeof x === 'object') {
        note(p, maps.has(p) ? 'map' : 'object');
        if (!maps.has(p)) fields(x, maps, p, into);
      } else note(p, typeof x);
    }
  }
  return into;
}

/** Check outputs (parsed) against one documented table: same fields, allowed types, every field seen. */
function conforms(table: Table, outputs: unknown[], what: string): void {
  const maps = new Set([...table].filter(([, t]) => t.has('map')).map(([p]) => p));
  const seen = new Map<string, Set<string>>();
  for (const o of outputs) for (const [p, ts] of fields(o, maps)) for (const t of ts) (seen.get(p) ?? seen.set(p, new Set()).get(p)!).add(t);
  const undocumented = [...seen.keys()].filter((p) => !table.has(p));
  expect(undocumented, `${what}: fields the output has and docs/json-output.md lacks`).toEqual([]);
  const unseen = [...table.keys()].filter((p) => !seen.has(p));
  expect(unseen, `${what}: documented fields no output had`).toEqual([]);
  for (const [p, ts] of seen) {
    const allowed = table.get(p)!;
    for (const t of ts) expect(allowed.has(t), `${what}: ${p} is ${t}, documented as ${[...allowed].join(' or ')}`).toBe(true);
  }
}

function json(r: RunResult, what: string): unknown {
  expect(r.stdout.length, `${what}: ${r.stderr}`).toBeGreaterThan(0);
  try {
    return JSON.parse(r.stdout) as unknown;
  } catch (e) {
    throw new Error(`${what}: not one JSON document: ${(e as Error).message}\n${r.stdout.slice(0, 500)}`);
  }
}

const docs = docTables();
const table = (section: string, i = 0): Table => {
  const t = docs.get(section)?.[i];
  if (t === undefined) throw new Error(`docs/json-output.md has no table ${i} under "## ${section}"`);
  return t;
};

describe('--json outputs match docs/json-output.md', () => {
  let dir: string;
  let img: string;
  let multi: string;
  let env: Record<string, string>;
  const famfs = (...a: string[]): RunResult => runBin('famfs', a, env);

  beforeAll(() => {
    requireBuiltCli();
    dir = tmp.make();
    env = { FAMFS_SYSTEM_UUID: SYS, FAMFS_STATE_DIR: path.join(dir, 'state') };
    img = path.join(dir, 'one.img');
    // 3 GiB (sparse): two interleave buckets of at least 1 GiB
    expect(runBin('mkfs.famfs', ['--create-size', '3g', img], env).status).toBe(0);
    expect(famfs('-D', img, 'mkdir', 'd').status).toBe(0);
    expect(famfs('-D', img, 'creat', '-s', '3m', 'd/simple').status).toBe(0);
    expect(famfs('-D', img, 'creat', '-s', '8m', '-N', '2', '-B', '2', '-C', '2m', 'striped').status).toBe(0);
    expect(famfs('-D', img, 'creat', '-s', '1m', 'victim').status).toBe(0);
    // the last entry (victim) gets a bad CRC: fsck and logplay list a bad entry
    const fd = fs.openSync(img, 'r+');
    const at = 2 * MiB + 48 + 544 * 3 + 100;
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    fs.writeSync(fd, b, 0, 1, at);
    fs.closeSync(fd);
    multi = path.join(dir, 'm0.img');
    expect(runBin('mkfs.famfs', ['--create-size', '128m', multi, path.join(dir, 'm1.img')], env).status).toBe(0);
  });

  it('the doc has a table for each command', () => {
    expect([...docs.keys()]).toEqual([
      'famfs ls --json', 'famfs getmap --json', 'famfs fsck --json', 'famfs logplay --json', 'famfs status --json', 'famfs daxdev list --json',
    ]);
    expect(docs.get('famfs logplay --json')).toHaveLength(3);
  });

  it('ls', () => {
    conforms(table('famfs ls --json'), [json(famfs('-D', img, 'ls', '--json'), 'ls'), json(famfs('-D', img, 'ls', '--json', 'd'), 'ls d')], 'ls');
  });

  it('getmap: a simple and an interleaved map', () => {
    conforms(table('famfs getmap --json'), [json(famfs('-D', img, 'getmap', '--json', 'd/simple', 'striped'), 'getmap')], 'getmap');
  });

  it('fsck: a bad entry, and a file system on two devices (one not found on a host)', () => {
    const bad = famfs('fsck', '--json', img);
    expect(bad.status).not.toBe(0);
    const outs = [json(bad, 'fsck'), json(famfs('fsck', '--json', multi), 'fsck multi'), json(runBin('famfs', ['fsck', '--json', multi], { ...env, FAMFS_STATE_DIR: path.join(dir, 'nowhere') }), 'fsck elsewhere')];
    expect((outs[0] as { badEntries: unknown[] }).badEntries).toHaveLength(1);
    conforms(table('famfs fsck --json'), outs, 'fsck');
  });

  it('logplay on a device (with and without -v) and with a shadow path', () => {
    conforms(table('famfs logplay --json', 1), [json(famfs('-D', img, 'logplay', '--json'), 'logplay'), json(famfs('-D', img, 'logplay', '--json', '-v'), 'logplay -v')], 'logplay (device)');
    const shadow = path.join(dir, 'shadow');
    fs.mkdirSync(shadow);
    const outs = [
      json(famfs('logplay', '--json', '--shadow', shadow, '-d', img), 'logplay --shadow'),
      json(famfs('logplay', '--json', '--shadow', shadow, '-s', '-d', img), 'logplay --shadow -s'),
    ];
    conforms(table('famfs logplay --json', 2), outs, 'logplay (shadow)');
  });

  it('daxdev list: found and not found', () => {
    const r = runBin('famfs', ['daxdev', 'list', '--json', multi], { ...env, FAMFS_STATE_DIR: path.join(dir, 'nowhere') });
    expect(r.status).toBe(1);
    conforms(table('famfs daxdev list --json'), [json(famfs('daxdev', 'list', '--json', multi), 'daxdev'), json(r, 'daxdev elsewhere')], 'daxdev list');
  });
});

describe.runIf(needsRoot('--json of a mount (status, logplay)', [devFuseReq]))('--json of mounts match docs/json-output.md', () => {
  it('status (with and without a DAX window) and logplay of a mount (and -n)', async () => {
    requireBuiltCli();
    await withMountScratch(tmp.make('mnt-'), SYS, async ({ dir, env }) => {
      const img = path.join(dir, 'famfs.img');
      const mnt = path.join(dir, 'mnt');
      const win = path.join(dir, 'win');
      fs.mkdirSync(mnt);
      fs.mkdirSync(win);
      expect(runBin('mkfs.famfs', ['--create-size', '256m', img], env).status).toBe(0);
      const img2 = path.join(dir, 'two.img');
      expect(runBin('mkfs.famfs', ['--create-size', '256m', img2], env).status).toBe(0);
      expect(runBin('famfs', ['mount', img, mnt], env).status).toBe(0);
      expect(runBin('famfs', ['mount', '-o', 'dax_window=64m', img2, win], env).status).toBe(0);
      const st = [json(runBin('famfs', ['status', '--json', mnt], env), 'status'), json(runBin('famfs', ['status', '--json', win], env), 'status (window)')];
      conforms(table('famfs status --json'), st, 'status');
      const lp = [json(runBin('famfs', ['logplay', '--json', mnt], env), 'logplay'), json(runBin('famfs', ['logplay', '--json', '-n', mnt], env), 'logplay -n')];
      conforms(table('famfs logplay --json', 0), lp, 'logplay (mount)');
      expect(runBin('famfs', ['umount', win], env).status).toBe(0);
      expect(runBin('famfs', ['umount', mnt], env).status).toBe(0);
    });
  });
});
