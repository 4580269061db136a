import { Errno, FamfsError, type FmapRecord, type SimpleExtent } from '@famfs/core';
import { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { withBackend } from '../backend.js';
import type { CliIo } from '../io.js';
import type { CommandSpec } from './spec.js';

export interface GetmapContext {
  files: string[];
  quiet: boolean;
  continueOnError: boolean;
  json: boolean;
}

/**
 * Exit codes, as upstream's code (not its usage text) returns them: 0 a
 * mapped famfs file, 1 not in famfs, 2 famfs but no map, EBADF (9) for a
 * missing file, EISDIR (21) for a directory; EINVAL without a file.
 */
export const getmapSpec: CommandSpec<GetmapContext> = {
  command: () =>
    new Command('getmap')
      .description("Print a famfs file's size and extent map")
      .argument('[files...]')
      .option('-q, --quiet', 'print only the "good file" line')
      .option('-c, --continue', 'go on after a file that fails')
      .option('--json', 'print the maps as JSON'),
  context: (args, o) => {
    const files = (Array.isArray(args[0]) ? (args[0] as unknown as string[]) : args) ?? [];
    if (files.length === 0) throw new FamfsError('EINVAL', 'getmap', 'famfs_getmap: Must specify filename');
    return { files, quiet: o.quiet === true, continueOnError: o.continue === true, json: o.json === true };
  },
  run: (io: CliIo, g: GlobalOptions, c: GetmapContext) =>
    withBackend(io, g, 'getmap', c.files, false, async (b) => {
      let rc = 0;
      const json: unknown[] = [];
      for (const f of c.files) {
        const rel = b.rel(f);
        const n = await b.lookup(rel);
        if (n === undefined) {
          if (!c.quiet) io.err(`famfs_getmap: file not found (${f})\n`);
          rc = Errno.EBADF;
        } else if (n.kind !== 'file') {
          rc = Errno.EISDIR;
        } else {
          rc = 0;
          const m = await b.getmap(rel);
          if (c.json) json.push({ path: m.relpath, size: m.size, fmap: m.fmap });
          else {
            if (!c.quiet) io.out(formatMap(b.display(m.relpath), m.size, m.fmap));
            io.out(`famfs_getmap: good file ${f}\n`);
          }
        }
        if (rc !== 0 && !c.continueOnError) break;
      }
      if (c.json) io.out(`${JSON.stringify(json, null, 2)}\n`);
      return rc;
    }),
};

function formatMap(path: string, size: number, fmap: FmapRecord): string {
  const L = [`File:     ${path}`, `\tsize:    ${size}`];
  // upstream's lines; a map on other devices than the primary says which (famfs-ts)
  const onOthers = (fmap.type === 'simple' ? fmap.extents : fmap.extents.flatMap((ie) => ie.strips)).some((x) => x.devIndex !== 0);
  const ext = (x: SimpleExtent): string => `\t\t${x.offset.toString(16)}\t${x.len}${onOthers ? `\tdaxdev ${x.devIndex}` : ''}`;
  if (fmap.type === 'simple') {
    L.push(`\textents: ${fmap.extents.length}`);
    for (const x of fmap.extents) L.push(ext(x));
  } else {
    L.push(`\textents: ${fmap.extents.length}`);
    for (const ie of fmap.extents) {
      L.push(`Interleave_Param chunk_size: ${ie.chunkSize}`);
      L.push(`Interleaved extent has ${ie.nstrips} strips:`);
      for (const s of ie.strips) L.push(ext(s));
    }
  }
  return `${L.join('\n')}\n`;
}
