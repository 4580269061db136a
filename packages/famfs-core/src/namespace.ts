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

/** Why a path cannot be a famfs path: the errno it earns and a message. */
export interface RelpathProblem {
  code: 'EINVAL' | 'ENAMETOOLONG';
  message: string;
}

/**
 * Check a path relative to the file-system root: not empty, not absolute, no
 * empty, '.' or '..' components, at most 79 bytes (the log's relpath field is
 * 80 bytes with its NUL). Returns the problem, or undefined if valid.
 *
 * One pass over the characters (no encoder, no split): replay runs this for
 * every entry of the log.
 */
export function relpathProblem(relpath: string): RelpathProblem | undefined {
  const n = relpath.length;
  const invalid = (message: string): RelpathProblem => ({ code: 'EINVAL', message });
  if (n === 0) return invalid('empty path');
  if (relpath.charCodeAt(0) === 0x2f) return invalid(`absolute path '${relpath}'`);
  let bytes = 0;
  let nul = false;
  let bad: string | undefined;
  let start = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? relpath.charCodeAt(i) : 0x2f;
    if (c === 0x2f) {
      if (bad === undefined) {
        const len = i - start;
        if (len === 0) bad = `path '${relpath}' has an empty component`;
        else if (len <= 2 && relpath.charCodeAt(start) === 0x2e && (len === 1 || relpath.charCodeAt(start + 1) === 0x2e)) {
          bad = `path '${relpath}' has a '${relpath.slice(start, i)}' component`;
        }
      }
      start = i + 1;
      if (i < n) bytes++;
      continue;
    }
    if (c === 0) nul = true;
    // UTF-8 length: a surrogate pair is 4 bytes (2 here per half)
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3;
  }
  if (nul) return invalid('path contains NUL');
  if (bytes > MAX_RELPATH_LEN) return { code: 'ENAMETOOLONG', message: `path '${relpath}' is ${bytes} bytes long (max ${MAX_RELPATH_LEN})` };
  return bad === undefined ? undefined : invalid(bad);
}

export function checkRelpath(relpath: string, op: string): void {
  const p = relpathProblem(relpath);
  if (p !== undefined) throw new FamfsError(p.code, op, `${op}: ${p.message}`, relpath);
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
  /**
   * Directories by path. Files are found through their parent's `children`:
   * a map of every path would hold half a million strings for a full 256 MiB
   * log and dominate replay time.
   */
  private readonly dirsByPath = new Map<string, DirNode>([['', this.root]]);
  /** nodes by the log index of the entry that made them (stable inode numbers); holes for other entries */
  private readonly byLogIndex: Array<FsNode | undefined> = [];
  files = 0;
  dirs = 0;

  lookup(relpath: string): FsNode | undefined {
    const d = this.dirsByPath.get(relpath);
    if (d !== undefined) return d;
    const slash = relpath.lastIndexOf('/');
    const parent = this.dirsByPath.get(slash < 0 ? '' : relpath.slice(0, slash));
    return parent?.children.get(slash < 0 ? relpath : relpath.slice(slash + 1));
  }

  /** The directory at `relpath`, if there is one. */
  dir(relpath: string): DirNode | undefined {
    return this.dirsByPath.get(relpath);
  }

  /**
   * Insert a node under its parent. Returns 'exists' when the path is taken
   * (upstream counts that, it is not an error) and 'no-parent' when the parent
   * is missing or is a file.
   */
  insert(node: FsNode): 'ok' | 'exists' | 'no-parent' {
    const relpath = node.relpath;
    const slash = relpath.lastIndexOf('/');
    const parent = this.dirsByPath.get(slash < 0 ? '' : relpath.slice(0, slash));
    const name = slash < 0 ? relpath : relpath.slice(slash + 1);
    if (parent === undefined) return this.lookup(relpath) !== undefined ? 'exists' : 'no-parent';
    if (parent.children.has(name)) return 'exists';
    parent.children.set(name, node);
    if (node.kind === 'dir') {
      this.dirsByPath.set(relpath, node);
      this.dirs++;
    } else {
      this.files++;
    }
    if (node.index >= 0) this.byLogIndex[node.index] = node;
    return 'ok';
  }

  /** The node made by log entry `index`, if that entry made one. */
  byIndex(index: number): FsNode | undefined {
    return index >= 0 ? this.byLogIndex[index] : undefined;
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
