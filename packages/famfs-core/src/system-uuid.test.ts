/**
 * The host identity: an explicit UUID, FAMFS_SYSTEM_UUID, a UUID file named
 * by FAMFS_SYSTEM_UUID_FILE (or the `file` option), else upstream's
 * /opt/famfs/system_uuid. Every test here names its own file in a temp dir:
 * the real /opt/famfs is never read or written.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FamfsError } from './errors.js';
import { resolveSystemUuid } from './system-uuid.js';
import { thrown } from '../../../test/thrown.js';

const U1 = '6b6515ee-fdad-4435-a362-b44c974c2d16';
const U2 = '0e0e0e0e-1111-2222-3333-444444444444';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-sysuuid-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(tmp, `case${n++}`);

function expectError(fn: () => unknown, code: string, match: RegExp): void {
  const e = thrown(fn, FamfsError);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(match);
}

describe('resolveSystemUuid', () => {
  it('FAMFS_SYSTEM_UUID overrides the file (which is then not even created)', () => {
    const file = path.join(fresh(), 'system_uuid');
    expect(resolveSystemUuid({ env: { FAMFS_SYSTEM_UUID: U1, FAMFS_SYSTEM_UUID_FILE: file } })).toBe(U1);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('an explicit uuid beats FAMFS_SYSTEM_UUID; upper case is normalised', () => {
    expect(resolveSystemUuid({ uuid: U2, env: { FAMFS_SYSTEM_UUID: U1 } })).toBe(U2);
    expect(resolveSystemUuid({ env: { FAMFS_SYSTEM_UUID: U1.toUpperCase() } })).toBe(U1);
  });

  it('a malformed FAMFS_SYSTEM_UUID is an error, not a fallback', () => {
    expectError(() => resolveSystemUuid({ env: { FAMFS_SYSTEM_UUID: 'not-a-uuid', FAMFS_SYSTEM_UUID_FILE: path.join(fresh(), 'x') } }), 'EINVAL', /not-a-uuid/);
  });

  it('FAMFS_SYSTEM_UUID_FILE names the file to read', () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    const file = path.join(dir, 'system_uuid');
    fs.writeFileSync(file, `${U2}\0`);
    expect(resolveSystemUuid({ env: { FAMFS_SYSTEM_UUID_FILE: file } })).toBe(U2);
  });

  it('the file option beats FAMFS_SYSTEM_UUID_FILE', () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a'), U1);
    fs.writeFileSync(path.join(dir, 'b'), U2);
    expect(resolveSystemUuid({ file: path.join(dir, 'b'), env: { FAMFS_SYSTEM_UUID_FILE: path.join(dir, 'a') } })).toBe(U2);
  });

  it('reads files as upstream fscanf("%36s") would: NUL, newline, leading blanks, upper case', () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    for (const text of [U1, `${U1}\0`, `${U1}\n`, `  ${U1}\n`, U1.toUpperCase()]) {
      const file = path.join(dir, 'f');
      fs.writeFileSync(file, text);
      expect(resolveSystemUuid({ file, env: {} }), JSON.stringify(text)).toBe(U1);
    }
  });

  it('a missing file is created with a random UUID in upstream format: 36 chars + NUL, mode 0444', () => {
    const old = process.umask(0o022);
    try {
      const file = path.join(fresh(), 'nested', 'system_uuid');
      const u = resolveSystemUuid({ env: { FAMFS_SYSTEM_UUID_FILE: file } });
      expect(u).toMatch(UUID_RE);
      const raw = fs.readFileSync(file);
      expect(raw.length).toBe(37);
      expect(raw.subarray(0, 36).toString('latin1')).toBe(u);
      expect(raw[36]).toBe(0);
      expect(fs.statSync(file).mode & 0o7777).toBe(0o444);
      // and it is this host's identity from now on
      expect(resolveSystemUuid({ env: { FAMFS_SYSTEM_UUID_FILE: file } })).toBe(u);
      // another missing file gets another UUID
      expect(resolveSystemUuid({ file: path.join(fresh(), 'system_uuid'), env: {} })).not.toBe(u);
    } finally {
      process.umask(old);
    }
  });

  it('bad content is an error (and the file is left alone)', () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    for (const text of ['', 'hello', U1.slice(0, 35), `${U1}x`, `${U1.slice(0, 8)}_${U1.slice(9)}`]) {
      const file = path.join(dir, 'bad');
      fs.writeFileSync(file, text);
      expectError(() => resolveSystemUuid({ file, env: {} }), 'EINVAL', /does not hold a UUID/);
      expect(fs.readFileSync(file, 'utf8')).toBe(text);
    }
  });

  it('an unreadable path (a directory) is an error', () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    expectError(() => resolveSystemUuid({ file: dir, env: {} }), 'EIO', /cannot read/);
  });
});
