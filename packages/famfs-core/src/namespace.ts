import { FamfsError } from './errors.js';
import {
  MAX_RELPATH_LEN,
} from './format/constants.js';
import type { FmapRecord } from './format/log.js';

/**
 * The tree a log replay builds: directories and files with their attributes
 * and fmaps. Paths are relative to the file-system root ('' is the root).
 */

export interface DirNode {
  kind: 'dir';
  relpath: string;
  mode: number;
  uid: number;
  gid: number;
  /** log index of the MKDIR entry; -1 for the root */
  index: number;
  children: Map<string, FsNode>;
}

export interface FileNode {
  kind: 'file';
  relpath: string;
  size: number;
  flags: number;
  mode: number;
  uid: number;
  gid: number;
  /** log index of the FILE entry */
  index: number;
  fmap: FmapRecord;
}

export type FsNode = DirNode | FileNode;

const utf8 = new TextEncoder();

/**
 * Check a path relative to the file-system root: not empty, not absolute, no
 * empty, '.' or '..' components, at most 79 bytes (the log's relpath field is
 * 80 bytes with its NUL). Returns an error message, or undefined if valid.
 */
export function relpathProblem(relpath: string): string | undefined {
  if (relpath.length === 0) return 'empty path';
  if (relpath.startsWith('/')) return `absolute path '${relpath}'`;
  if (relpath.includes('\0')) return 'path contains NUL';
  const n = utf8.encode(relpath).length;
  if (n > MAX_RELPATH_LEN) return `path '${relpath}' is ${n} bytes long (max ${MAX_RELPATH_LEN})`;
  for (const c of relpath.split('/')) {
    if (c === '') return `path '${relpath}' has an empty component`;
    if (c === '.' || c === '..') return `path '${relpath}' has a '${c}' component`;
  }
  return undefined;
}

export function checkRelpath(relpath: string, op: string): void {
  const p = relpathProblem(relpath);
  if (p !== undefined) {
    throw new FamfsError(p.includes('bytes long') ? 'ENAMETOOLONG' : 'EINVAL', op, `${op}: ${p}`, relpath);
  }
}

export function parentOf(relpath: string): string {
  const i = relpath.lastIndexOf('/');
  return i < 0 ? '' : relpath.slice(0, i);
}

export function baseName(relpath: string): string {
  return relpath.slice(relpath.lastIndexOf('/') + 1);
}

export class Namespace {
  readonly root: DirNode = { kind: 'dir', relpath: '', mode: 0o755, uid: 0, gid: 0, index: -1, children: new Map() };
  private readonly byPath = new Map<string, FsNode>([['', this.root]]);
  /** nodes by the log index of the entry that made them (stable inode numbers) */
  private readonly byLogIndex = new Map<number, FsNode>();
  files = 0;
  dirs = 0;

  lookup(relpath: string): FsNode | undefined {
    return this.byPath.get(relpath);
  }

  /**
   * Insert a node under its parent. Returns 'exists' when the path is taken
   * (upstream counts that, it is not an error) and 'no-parent' when the parent
   * is missing or is a file.
   */
  insert(node: FsNode): 'ok' | 'exists' | 'no-parent' {
    if (this.byPath.has(node.relpath)) return 'exists';
    const parent = this.byPath.get(parentOf(node.relpath));
    if (parent === undefined || parent.kind !== 'dir') return 'no-parent';
    parent.children.set(baseName(node.relpath), node);
    this.byPath.set(node.relpath, node);
    this.byLogIndex.set(node.index, node);
    if (node.kind === 'file') this.files++;
    else this.dirs++;
    return 'ok';
  }

  /** The node made by log entry `index`, if that entry made one. */
  byIndex(index: number): FsNode | undefined {
    return this.byLogIndex.get(index);
  }

  /** Every node, depth first, children in name order (the root excluded). */
  *walk(dir: DirNode = this.root): Generator<FsNode> {
    const names = [...dir.children.keys()].sort();
    for (const name of names) {
      const n = dir.children.get(name)!;
      yield n;
      if (n.kind === 'dir') yield* this.walk(n);
    }
  }
}
