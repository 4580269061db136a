import * as fs from 'node:fs';
import * as path from 'node:path';
import { FamfsError, fromSystemError } from './errors.js';
import type { Famfs, MetaKind } from './famfs.js';
import type { FileEntryBody, FmapRecord, SimpleExtent } from './format/log.js';
import { MAX_SIMPLE_EXTENTS, MAX_STRIPS } from './format/constants.js';
import type { FileNode } from './namespace.js';

/**
 * upstream famfs's "shadow" tree: what its FUSE daemon (famfs_fused) serves
 * a mount from. Under `<shadow>/root/`, every famfs directory is a real
 * directory (its mode and owner are the directory's) and every famfs file is
 * a small YAML file giving its path, size, flags, mode, owner and extents;
 * `.meta/.superblock` and `.meta/.log` are YAML files of the same shape.
 * `famfs logplay --shadow DIR` writes one from a famfs-ts file system, so
 * upstream's daemon could serve it. The YAML is written as upstream's
 * emitter writes it (block style, two-space indent, `---`/`...`), which
 * upstream's strict parser needs: the extent list last, `nextents` equal to
 * the count of simple extents (1 for an interleaved file).
 */

/** A plain YAML scalar needs no quotes when it is made of these (and starts with none of `-?:,[]{}#&*!|>'"%@\``). */
const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./ -]*$/;

function yamlString(s: string): string {
  return PLAIN.test(s) && !s.endsWith(' ') ? s : `'${s.replace(/'/g, "''")}'`;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function extentLines(xs: readonly SimpleExtent[], indent: string): string[] {
  return xs.flatMap((x) => [`${indent}- devindex: ${x.devIndex}`, `${indent}  offset: ${hex(x.offset)}`, `${indent}  length: ${hex(x.len)}`]);
}

/** The shadow YAML of one file, byte for byte as upstream writes it. */
export function shadowYaml(f: Pick<FileNode, 'relpath' | 'size' | 'flags' | 'mode' | 'uid' | 'gid' | 'fmap'>): string {
  const L = ['---', 'file:', `  path: ${yamlString(f.relpath)}`, `  size: ${f.size}`, `  flags: ${f.flags}`, `  mode: 0${(f.mode & 0o7777).toString(8)}`, `  uid: ${f.uid}`, `  gid: ${f.gid}`];
  const m = f.fmap;
  if (m.type === 'simple') {
    L.push(`  nextents: ${m.extents.length}`, '  simple_ext_list:', ...extentLines(m.extents, '  '));
  } else {
    L.push(`  nextents: ${m.extents.length}`, '  striped_ext_list:');
    for (const ie of m.extents) {
      L.push(`  - nstrips: ${ie.nstrips}`, `    chunk_size: ${hex(ie.chunkSize)}`, '    simple_ext_list:', ...extentLines(ie.strips, '    '));
    }
  }
  L.push('...');
  return `${L.join('\n')}\n`;
}

/**
 * Parse a shadow YAML file (as upstream writes it, and as this module does)
 * back into the file it describes. Strict as upstream's parser is: unknown
 * keys, a missing field, an extent list that is not last, or a `nextents`
 * that does not match are errors (EINVAL), not guesses.
 */
export function parseShadowYaml(text: string): FileEntryBody {
  const fail = (why: string): never => {
    throw new FamfsError('EINVAL', 'shadow', `shadow YAML: ${why}`);
  };
  const num = (v: string, key: string): number => {
    const n = /^0[xX][0-9a-fA-F]+$/.test(v) ? parseInt(v.slice(2), 16) : /^0[0-7]+$/.test(v) ? parseInt(v, 8) : /^\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n)) fail(`${key}: '${v}' is not a number`);
    return n;
  };
  const unquote = (v: string): string => (v.startsWith("'") && v.endsWith("'") && v.length >= 2 ? v.slice(1, -1).replace(/''/g, "'") : v);
  const f: Partial<FileEntryBody> & { nextents?: number } = {};
  let list: 'simple' | 'striped' | undefined;
  const simple: SimpleExtent[] = [];
  const striped: Array<{ nstrips: number; chunkSize: number; strips: SimpleExtent[] }> = [];
  let ext: Partial<SimpleExtent> | undefined;
  const lines = text.split('\n').map((l) => l.replace(/\s+$/, '')).filter((l) => l !== '' && l !== '---' && l !== '...');
  if (lines.shift() !== 'file:') fail("the top-level key must be 'file:'");
  const closeExt = (): void => {
    if (ext === undefined) return;
    if (ext.offset === undefined || ext.len === undefined) fail('an extent needs offset and length');
    const x = { devIndex: ext.devIndex ?? 0, offset: ext.offset ?? 0, len: ext.len ?? 0 };
    const target = list === 'simple' ? simple : striped[striped.length - 1]?.strips;
    if (target === undefined) fail('an extent outside an extent list');
    else target.push(x);
    ext = undefined;
  };
  for (const raw of lines) {
    const m = /^(\s*)(- )?([a-z_]+):\s*(.*)$/.exec(raw);
    if (m === null) fail(`cannot read line '${raw}'`);
    const [, , item, key = '', value = ''] = m ?? [];
    if (list === undefined) {
      switch (key) {
        case 'path': f.relpath = unquote(value); break;
        case 'size': f.size = num(value, key); break;
        case 'flags': f.flags = num(value, key); break;
        case 'mode': f.mode = num(value.startsWith('0') ? value : `0${value}`, key); break;
        case 'uid': f.uid = num(value, key); break;
        case 'gid': f.gid = num(value, key); break;
        case 'nextents': f.nextents = num(value, key); break;
        case 'simple_ext_list': list = 'simple'; break;
        case 'striped_ext_list': list = 'striped'; break;
        default: fail(`unknown key '${key}'`);
      }
      continue;
    }
    if (list === 'striped' && key === 'nstrips' && item !== undefined) {
      closeExt();
      striped.push({ nstrips: num(value, key), chunkSize: -1, strips: [] });
      continue;
    }
    if (list === 'striped' && key === 'chunk_size') {
      const ie = striped[striped.length - 1];
      if (ie === undefined) fail('chunk_size outside a striped extent');
      else ie.chunkSize = num(value, key);
      continue;
    }
    if (list === 'striped' && key === 'simple_ext_list') continue;
    if (item !== undefined) closeExt();
    ext ??= {};
    if (key === 'devindex') ext.devIndex = num(value, key);
    else if (key === 'offset') ext.offset = num(value, key);
    else if (key === 'length') ext.len = num(value, key);
    else fail(`unknown extent key '${key}' (the extent list must come last)`);
  }
  closeExt();
  for (const k of ['relpath', 'size', 'flags', 'mode', 'uid', 'gid', 'nextents'] as const) if (f[k] === undefined) fail(`missing '${k === 'relpath' ? 'path' : k}'`);
  let fmap: FmapRecord;
  if (list === 'striped') {
    if (striped.length !== 1 || f.nextents !== 1) fail('a striped file has exactly one striped extent (nextents 1)');
    for (const ie of striped) {
      if (ie.chunkSize < 0 || ie.strips.length !== ie.nstrips || ie.nstrips > MAX_STRIPS) fail(`a striped extent of ${ie.strips.length} strips says nstrips ${ie.nstrips}`);
    }
    fmap = { type: 'interleave', extents: striped };
  } else {
    if (simple.length !== f.nextents || simple.length > MAX_SIMPLE_EXTENTS) fail(`nextents ${f.nextents} but ${simple.length} extents`);
    fmap = { type: 'simple', extents: simple };
  }
  return { relpath: f.relpath ?? '', size: f.size ?? 0, flags: f.flags ?? 0, mode: f.mode ?? 0, uid: f.uid ?? 0, gid: f.gid ?? 0, fmap };
}

export interface ShadowOptions {
  /** parse nothing, write nothing: count what would be written */
  dryRun?: boolean;
  /** read every YAML file back and check it describes its log entry (`--shadowtest`) */
  verify?: boolean;
}

export interface ShadowStats {
  files: number;
  dirs: number;
  /** already in the tree: left as they are (upstream never rewrites a shadow file) */
  existed: number;
  /** files read back and checked (with `verify`) */
  checked: number;
  /** one line per problem (a file where a directory belongs, a YAML that does not read back …) */
  errors: string[];
}

/**
 * The shadow root of a shadow path, as upstream resolves it: the path itself
 * when it ends in `/root`, else `<path>/root` (made if missing). The path
 * must be a writable directory.
 */
export function shadowRoot(shadowPath: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(shadowPath);
  } catch (e) {
    throw fromSystemError(e, 'shadow', shadowPath);
  }
  if (!st.isDirectory()) throw new FamfsError('ENOTDIR', 'shadow', `shadow: ${shadowPath}: not a directory`, shadowPath);
  try {
    fs.accessSync(shadowPath, fs.constants.W_OK);
  } catch (e) {
    throw fromSystemError(e, 'shadow', shadowPath);
  }
  if (path.basename(path.resolve(shadowPath)) === 'root') return path.resolve(shadowPath);
  const root = path.join(shadowPath, 'root');
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  return root;
}

/**
 * Write the shadow tree of `famfs` under `root` (a shadow root): real
 * directories with their modes and (when both are non-zero, as upstream
 * does) owners; a YAML file per file; the two meta files. Existing files are
 * counted and left alone.
 */
export function writeShadowTree(famfs: Famfs, root: string, opts: ShadowOptions = {}): ShadowStats {
  const st: ShadowStats = { files: 0, dirs: 0, existed: 0, checked: 0, errors: [] };
  /** meta files are written but not counted: upstream's mount writes them, not its logplay */
  const put = (rel: string, f: FileNode, meta = false): void => {
    const p = path.join(root, rel);
    if (fs.existsSync(p)) {
      if (!fs.statSync(p).isFile()) st.errors.push(`${rel}: something other than a file is in the way`);
      else if (!meta) st.existed++;
      return;
    }
    if (!meta) st.files++;
    if (opts.dryRun) return;
    const yaml = shadowYaml(f);
    fs.writeFileSync(p, yaml, { mode: 0o644, flag: 'wx' });
    if (opts.verify) {
      st.checked++;
      try {
        const back = parseShadowYaml(fs.readFileSync(p, 'utf8'));
        if (shadowYaml({ ...back }) !== yaml) st.errors.push(`${rel}: the YAML does not read back as its log entry`);
      } catch (e) {
        st.errors.push(`${rel}: ${(e as Error).message}`);
      }
    }
  };
  const dir = (rel: string, mode: number, uid: number, gid: number): boolean => {
    const p = path.join(root, rel);
    if (fs.existsSync(p)) {
      if (fs.statSync(p).isDirectory()) return true;
      st.errors.push(`${rel}: a file is where the log has a directory`);
      return false;
    }
    st.dirs++;
    if (opts.dryRun) return true;
    fs.mkdirSync(p, { mode });
    fs.chmodSync(p, mode); // not the umask's version of it
    if (uid !== 0 && gid !== 0) fs.chownSync(p, uid, gid);
    return true;
  };
  if (!opts.dryRun) fs.mkdirSync(path.join(root, '.meta'), { recursive: true, mode: 0o755 });
  for (const kind of ['superblock', 'log'] as MetaKind[]) put(famfs.metaFile(kind).relpath, famfs.metaFile(kind), true);
  const bad = new Set<string>();
  for (const n of famfs.namespace.walk()) {
    const parent = n.relpath.includes('/') ? n.relpath.slice(0, n.relpath.lastIndexOf('/')) : '';
    if ([...bad].some((b) => parent === b || parent.startsWith(`${b}/`))) continue;
    if (n.kind === 'dir') {
      if (!dir(n.relpath, n.mode, n.uid, n.gid)) bad.add(n.relpath);
    } else put(n.relpath, n);
  }
  return st;
}
