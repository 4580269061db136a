/**
 * famfs replies: GET_FMAP (a file's map to device memory) and GET_DAXDEV (a
 * device index → the daxdev path). Not upstream; layouts from the famfs
 * kernel series (spec "famfs: GET_FMAP and GET_DAXDEV"). The whole shape of
 * these messages lives here so that the upstream tree's move to
 * simple-extent-only fmaps and to pushed daxdevs touches one file.
 */

import {
  DAXDEV_NAME_MAX,
  DaxdevOutLayout,
  FAMFS_FMAP_MAX,
  FAMFS_FMAP_VERSION,
  FUSE_FAMFS_MAX_EXTENTS,
  FUSE_FAMFS_MAX_STRIPS,
  FamfsExtType,
  type FamfsFileType,
  FamfsFmapHeaderLayout,
  FamfsIextLayout,
  FamfsSimpleExtLayout,
} from './constants.js';
import { EncodeError, Writer, utf8Bytes } from './cursor.js';

/** One contiguous piece on one device (also one strip of an interleaved extent). */
export interface FmapSimpleExt {
  /** daxdev index (0 = the primary device) */
  devIndex: number;
  /** byte offset on the device */
  offset: number;
  len: number;
}

/** A striped region: chunks of `chunkSize` rotate across `strips`. */
export interface FmapInterleavedExt {
  chunkSize: number;
  /** bytes of the file this interleaved extent covers (the strips may hold more) */
  nbytes: number;
  strips: readonly FmapSimpleExt[];
}

export type FuseFmap =
  | { type: 'simple'; extents: readonly FmapSimpleExt[] }
  | { type: 'interleave'; extents: readonly FmapInterleavedExt[] };

export type FamfsFileTypeValue = (typeof FamfsFileType)[keyof typeof FamfsFileType];

export interface GetFmapReply {
  fileType: FamfsFileTypeValue;
  fileSize: number;
  fmap: FuseFmap;
}

export interface GetFmapOptions {
  /** the room the kernel has for the reply (GetFmapIn.size) */
  maxSize: number;
  /**
   * Put the whole reply's size in the header's reserved0 slot (the newest
   * famfs tree calls it fmap_size), and when the map does not fit `maxSize`
   * answer with the header alone so the kernel can retry with a bigger
   * buffer. Off: reserved0 is 0 and a map that does not fit is an ERANGE.
   */
  fmapSizeProbe?: boolean;
}

/** Bytes a GET_FMAP reply for `fmap` takes. */
export function getFmapReplySize(fmap: FuseFmap): number {
  let n = FamfsFmapHeaderLayout.SIZE;
  if (fmap.type === 'simple') return n + fmap.extents.length * FamfsSimpleExtLayout.SIZE;
  for (const ie of fmap.extents) n += FamfsIextLayout.SIZE + ie.strips.length * FamfsSimpleExtLayout.SIZE;
  return n;
}

function writeSimpleExt(w: Writer, name: string, x: FmapSimpleExt): void {
  w.struct(name, FamfsSimpleExtLayout.SIZE, (s) => {
    s.u32('se_devindex', x.devIndex);
    s.zeros('reserved', 4);
    s.u64('se_offset', x.offset);
    s.u64('se_len', x.len);
  });
}

/**
 * The GET_FMAP reply body: fuse_famfs_fmap_header, then either `nextents`
 * simple extents or, per interleaved extent, its fuse_famfs_iext and its
 * strips. The kernel series rejects an empty map, more than 32 extents or
 * 32 strips, and a reply larger than its buffer — so do we (E2BIG / ERANGE).
 */
export function encodeGetFmapReply(reply: GetFmapReply, opts: GetFmapOptions): Uint8Array {
  const { fmap } = reply;
  const n = fmap.extents.length;
  if (n === 0) throw new EncodeError('fuse_famfs_fmap_header.nextents', FamfsFmapHeaderLayout.NEXTENTS, 'a fmap needs at least one extent');
  if (n > FUSE_FAMFS_MAX_EXTENTS) {
    throw new EncodeError('fuse_famfs_fmap_header.nextents', FamfsFmapHeaderLayout.NEXTENTS, `${n} extents exceed ${FUSE_FAMFS_MAX_EXTENTS}`, 'E2BIG');
  }
  if (fmap.type === 'interleave') {
    fmap.extents.forEach((ie, i) => {
      if (ie.strips.length === 0 || ie.strips.length > FUSE_FAMFS_MAX_STRIPS) {
        throw new EncodeError(
          `fuse_famfs_iext[${i}].ie_nstrips`,
          FamfsIextLayout.NSTRIPS,
          `${ie.strips.length} strips not in 1..${FUSE_FAMFS_MAX_STRIPS}`,
          ie.strips.length === 0 ? 'EINVAL' : 'E2BIG',
        );
      }
    });
  }
  const total = getFmapReplySize(fmap);
  if (total > FAMFS_FMAP_MAX) {
    throw new EncodeError('fmap', 0, `reply of ${total} bytes exceeds FAMFS_FMAP_MAX ${FAMFS_FMAP_MAX}`, 'E2BIG');
  }
  if (opts.maxSize < FamfsFmapHeaderLayout.SIZE) {
    throw new EncodeError('fmap', 0, `the kernel's ${opts.maxSize} bytes cannot hold even the header`, 'ERANGE');
  }
  const fits = total <= opts.maxSize;
  if (!fits && !opts.fmapSizeProbe) {
    throw new EncodeError('fmap', 0, `reply of ${total} bytes exceeds the kernel's ${opts.maxSize}`, 'ERANGE');
  }

  const w = new Writer({ fixed: fits ? total : FamfsFmapHeaderLayout.SIZE });
  w.struct('fuse_famfs_fmap_header', FamfsFmapHeaderLayout.SIZE, (s) => {
    s.u8('file_type', reply.fileType);
    s.zeros('reserved', 1);
    s.u16('fmap_version', FAMFS_FMAP_VERSION);
    s.u32('ext_type', fmap.type === 'simple' ? FamfsExtType.SIMPLE : FamfsExtType.INTERLEAVE);
    s.u32('nextents', n);
    s.u32('reserved0', opts.fmapSizeProbe ? total : 0);
    s.u64('file_size', reply.fileSize);
    s.zeros('reserved1', 8);
  });
  if (!fits) return w.finish();

  if (fmap.type === 'simple') {
    fmap.extents.forEach((x, i) => writeSimpleExt(w, `fuse_famfs_simple_ext[${i}]`, x));
  } else {
    fmap.extents.forEach((ie, i) => {
      w.struct(`fuse_famfs_iext[${i}]`, FamfsIextLayout.SIZE, (s) => {
        s.u32('ie_nstrips', ie.strips.length);
        s.u32('ie_chunk_size', ie.chunkSize);
        s.u64('ie_nbytes', ie.nbytes);
        s.zeros('reserved', 8);
      });
      ie.strips.forEach((x, j) => writeSimpleExt(w, `fuse_famfs_iext[${i}].strip[${j}]`, x));
    });
  }
  return w.finish();
}

export interface DaxdevOut {
  index: number;
  /** the device path on this host, e.g. /dev/dax0.0 */
  name: string;
}

/** The GET_DAXDEV reply: fuse_daxdev_out, 280 bytes, name NUL-terminated within 256. */
export function encodeDaxdevOut(d: DaxdevOut): Uint8Array {
  const name = utf8Bytes(d.name);
  const w = new Writer({ fixed: DaxdevOutLayout.SIZE });
  if (name.length === 0) throw w.fail('fuse_daxdev_out.name', 'empty device name');
  if (name.length >= DAXDEV_NAME_MAX) {
    throw w.fail('fuse_daxdev_out.name', `${name.length} bytes leave no room for the NUL in ${DAXDEV_NAME_MAX}`, 'ENAMETOOLONG');
  }
  w.struct('fuse_daxdev_out', DaxdevOutLayout.SIZE, (s) => {
    s.u16('index', d.index);
    s.zeros('reserved', 2);
    s.zeros('reserved2', 4);
    s.zeros('reserved3', 8);
    s.zeros('reserved4', 8);
    s.cstring('name', name);
    s.zeros('name', DAXDEV_NAME_MAX - name.length - 1);
  });
  return w.finish();
}
