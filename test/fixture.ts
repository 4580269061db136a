/**
 * The upstream fixture (test/fixtures/upstream-basic, an image made by the
 * upstream famfs tools; its README says how): where it is, lazy readers that
 * fail with one clear line when a file is missing (never at import time), and
 * a parser for upstream's per-file YAML dumps in it. Shared by the package
 * unit tests and the cross-package tests; no vitest in here.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const FIXTURE_DIR = fileURLToPath(new URL('./fixtures/upstream-basic', import.meta.url));

/** The fixture files every fixture test relies on. */
export const FIXTURE_FILES = ['README.md', 'devsize', 'files-yaml.tar.gz', 'fsck-v.out', 'head.bin.gz', 'mkfs.out'] as const;
export type FixtureFile = (typeof FIXTURE_FILES)[number];

/** The fixture files that are missing (none in a complete checkout). */
export function missingFixtureFiles(): string[] {
  return FIXTURE_FILES.filter((f) => !fs.existsSync(path.join(FIXTURE_DIR, f)));
}

/** A fixture file's path; throws one line naming it when it is missing. */
export function fixturePath(name: FixtureFile): string {
  const p = path.join(FIXTURE_DIR, name);
  if (!fs.existsSync(p)) throw new Error(`upstream fixture file missing: ${path.relative(process.cwd(), p) || p} (restore test/fixtures/upstream-basic from git)`);
  return p;
}

export function fixtureText(name: FixtureFile): string {
  return fs.readFileSync(fixturePath(name), 'utf8');
}

/** The first 10 MiB of the upstream fixture device (superblock region + log). */
export function fixtureHead(): Uint8Array {
  return new Uint8Array(gunzipSync(fs.readFileSync(fixturePath('head.bin.gz'))));
}

/** The fixture device's size in bytes. */
export function fixtureDevsize(): number {
  return Number(fixtureText('devsize').trim());
}

/** The fixture's master host: its superblock's ts_system_uuid. */
export const FIXTURE_SYSTEM_UUID = '6b6515ee-fdad-4435-a362-b44c974c2d16';

export interface YamlExt {
  devindex: number;
  offset: number;
  length: number;
}

export interface YamlFile {
  path: string;
  size: number;
  flags: number;
  mode: number;
  uid: number;
  gid: number;
  nextents: number;
  /** the simple extents (empty for an interleaved file) */
  simple: YamlExt[];
  striped?: { nstrips: number; chunkSize: number; strips: YamlExt[] };
}

/**
 * Upstream's per-file YAML (famfs_emit_file_yaml), parsed by hand: a block of
 * `key: value` lines; `- ` starts a list item. Offsets, lengths and chunk
 * sizes are 0x hex, the mode 0%o, everything else decimal. Anything else is
 * an error, so a change in upstream's format cannot pass unnoticed.
 */
export function parseFileYaml(text: string): YamlFile {
  const f: Partial<YamlFile> = { simple: [] };
  let ext: YamlExt | undefined;
  let inStriped = false;
  const num = (key: string, v: string): number => {
    if (key === 'mode') return parseInt(v, 8);
    if (v.startsWith('0x')) return parseInt(v.slice(2), 16);
    if (!/^\d+$/.test(v)) throw new Error(`bad number for ${key}: ${v}`);
    return Number(v);
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '---' || line === '...' || line === '' || line === 'file:') continue;
    const item = line.startsWith('- ');
    const m = /^(?:- )?([a-z_]+):\s*(.*)$/.exec(line);
    if (!m) throw new Error(`unparsed YAML line: ${raw}`);
    const [, key, value] = m as unknown as [string, string, string];
    switch (key) {
      case 'path':
        f.path = value;
        break;
      case 'simple_ext_list':
        break;
      case 'striped_ext_list':
        inStriped = true;
        break;
      case 'nstrips':
        f.striped = { nstrips: num(key, value), chunkSize: 0, strips: [] };
        break;
      case 'chunk_size':
        f.striped!.chunkSize = num(key, value);
        break;
      case 'devindex':
        if (!item) throw new Error('devindex must start a list item');
        ext = { devindex: num(key, value), offset: -1, length: -1 };
        (inStriped ? f.striped!.strips : f.simple!).push(ext);
        break;
      case 'offset':
      case 'length':
        ext![key] = num(key, value);
        break;
      case 'size':
      case 'flags':
      case 'mode':
      case 'uid':
      case 'gid':
      case 'nextents':
        f[key] = num(key, value);
        break;
      default:
        throw new Error(`unknown YAML key ${key}`);
    }
  }
  return f as YamlFile;
}

/**
 * Untar the fixture's files-yaml.tar.gz into `dir` and parse every file, by
 * path. Each file's own `path:` must equal where the tarball put it.
 */
export function loadFixtureYaml(dir: string): Map<string, YamlFile> {
  const r = spawnSync('tar', ['xzf', fixturePath('files-yaml.tar.gz'), '-C', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  const out = new Map<string, YamlFile>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const y = parseFileYaml(fs.readFileSync(p, 'utf8'));
        if (y.path !== path.relative(dir, p)) throw new Error(`${p}: its YAML says path ${y.path}`);
        out.set(y.path, y);
      }
    }
  };
  walk(dir);
  return out;
}
