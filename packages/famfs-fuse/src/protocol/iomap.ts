/**
 * fuse-iomap messages (not upstream; the RFC series of 2025, seed 002):
 * fuse_iomap_io and the IOMAP_BEGIN reply. The request bodies are decoded
 * in requests.ts with every other request. Offsets, lengths and addresses
 * are bigints here: the kernel legitimately sends counts near 2^63 (FIEMAP
 * asks about everything up to s_maxbytes), and a reply must be able to
 * carry the all-ones "no address".
 */

import { IomapBeginOutLayout, IomapIoLayout } from './constants.js';
import { Writer } from './cursor.js';

/** struct fuse_iomap_io as values. */
export interface IomapIo {
  /** file offset of the mapping */
  offset: bigint;
  length: bigint;
  /** device byte offset, or IOMAP_NULL_ADDR */
  addr: bigint;
  /** IomapType */
  type: number;
  /** IomapMapFlag bits */
  flags: number;
  /** device cookie (a backing id), or IOMAP_DEV_NULL */
  dev: number;
}

export interface IomapBeginOut {
  read: IomapIo;
  write: IomapIo;
}

function writeIomapIo(w: Writer, name: string, m: IomapIo): void {
  w.struct(name, IomapIoLayout.SIZE, (s) => {
    s.u64('offset', m.offset);
    s.u64('length', m.length);
    s.u64('addr', m.addr);
    s.u16('type', m.type);
    s.u16('flags', m.flags);
    s.u32('dev', m.dev);
  });
}

/** The IOMAP_BEGIN reply: fuse_iomap_begin_out, 64 bytes (read mapping @0, write mapping @32). */
export function encodeIomapBeginOut(o: IomapBeginOut): Uint8Array {
  const w = new Writer({ fixed: IomapBeginOutLayout.SIZE });
  w.struct('fuse_iomap_begin_out', IomapBeginOutLayout.SIZE, (s) => {
    writeIomapIo(s, 'read', o.read);
    writeIomapIo(s, 'write', o.write);
  });
  return w.finish();
}
