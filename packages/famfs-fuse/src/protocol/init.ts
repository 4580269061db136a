/**
 * INIT: version and capability negotiation, and fuse_init_out.
 *
 * The rules (fuse.h "Version negotiation", virtiofsd, libfuse):
 *  - same major: use min(kernel minor, ours);
 *  - kernel major newer: answer with our major and minor only and expect a
 *    second INIT; kernel major older: we cannot talk to it;
 *  - enabled flags = offered ∩ wanted ∩ supported — never a bit the kernel
 *    did not offer;
 *  - bits 32–63 travel in flags2, which the kernel reads only when the reply
 *    sets INIT_EXT, and INIT_EXT may only be set when the kernel offered it.
 */

import {
  FUSE_DEFAULT_MAX_PAGES_PER_REQ,
  FUSE_KERNEL_VERSION,
  FUSE_MAX_MAX_PAGES,
  FUSE_MIN_KERNEL_MINOR,
  FUSE_OUR_MINOR,
  InitFlag,
  InitOutLayout,
  PAGE_SIZE,
  PROTOCOL_SUPPORTED_FLAGS,
  splitInitFlags,
  type FamfsProfile,
  type IomapProfile,
} from './constants.js';
import { EncodeError, Writer } from './cursor.js';
import type { InitIn } from './requests.js';

/** fuse_init_out as numbers; `flags` is 64-bit and split into flags/flags2 on encode. */
export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  /** timestamp granularity in ns (1 = nanosecond timestamps) */
  timeGran: number;
  maxPages: number;
  /** log2 of the SETUPMAPPING alignment */
  mapAlignment: number;
  maxStackDepth: number;
  /** seconds; 0 = none */
  requestTimeout: number;
}

/**
 * fuse_init_out, 64 bytes. flags2 carries bits 32–63 and is written only
 * when INIT_EXT is among the flags; high bits without INIT_EXT are a bug
 * (the kernel would ignore them), so that throws.
 */
export function encodeInitOut(o: InitOut): Uint8Array {
  const { flags, flags2 } = splitInitFlags(o.flags);
  if (flags2 !== 0 && (o.flags & InitFlag.INIT_EXT) === 0n) {
    throw new EncodeError('fuse_init_out.flags2', InitOutLayout.FLAGS2, 'flags above bit 31 need INIT_EXT');
  }
  const w = new Writer({ fixed: InitOutLayout.SIZE });
  w.struct('fuse_init_out', InitOutLayout.SIZE, (s) => {
    s.u32('major', o.major);
    s.u32('minor', o.minor);
    s.u32('max_readahead', o.maxReadahead);
    s.u32('flags', flags);
    s.u16('max_background', o.maxBackground);
    s.u16('congestion_threshold', o.congestionThreshold);
    s.u32('max_write', o.maxWrite);
    s.u32('time_gran', o.timeGran);
    s.u16('max_pages', o.maxPages);
    s.u16('map_alignment', o.mapAlignment);
    s.u32('flags2', flags2);
    s.u32('max_stack_depth', o.maxStackDepth);
    s.u16('request_timeout', o.requestTimeout);
    s.zeros('unused', InitOutLayout.SIZE - InitOutLayout.UNUSED);
  });
  return w.finish();
}

export interface InitConfig {
  /** flags the server would like (64-bit InitFlag bits) */
  wanted: bigint;
  /** flags the server can handle; default PROTOCOL_SUPPORTED_FLAGS */
  supported?: bigint;
  /** enable famfs with this profile if the kernel offers its DAX_FMAP bit */
  famfs?: FamfsProfile | null;
  /** enable fuse-iomap with this profile if the kernel (of one of its minors) offers its FUSE_IOMAP bit */
  iomap?: IomapProfile | null;
  /** default: max_pages × 4096 with MAX_PAGES, else 32 pages */
  maxWrite?: number;
  /** used when MAX_PAGES is negotiated; default and upper bound 256 */
  maxPages?: number;
  /** default: the kernel's */
  maxReadahead?: number;
  /** 0 = the kernel's default */
  maxBackground?: number;
  congestionThreshold?: number;
  /** default 1 ns */
  timeGran?: number;
  /** log2 alignment for SETUPMAPPING, used when MAP_ALIGNMENT is negotiated (at most 21: 2 MiB) */
  mapAlignment?: number;
  /** used when PASSTHROUGH is negotiated */
  maxStackDepth?: number;
  /** seconds, used when REQUEST_TIMEOUT is negotiated */
  requestTimeout?: number;
}

export type InitNegotiation =
  | {
      kind: 'ok';
      out: InitOut;
      /** the flags now in force (= out.flags) */
      flags: bigint;
      /** the minor both sides now speak */
      minor: number;
      /** the famfs profile in force, or null when DAX_FMAP was not negotiated */
      famfs: FamfsProfile | null;
      /** the fuse-iomap profile in force, or null when FUSE_IOMAP was not negotiated */
      iomap: IomapProfile | null;
    }
  /** the kernel's major is newer: send `out` (major/minor only) and wait for another INIT */
  | { kind: 'retry-major'; out: InitOut }
  /** we cannot talk to this kernel: answer the INIT with EPROTO */
  | { kind: 'unsupported'; reason: string };

const MAX_MAP_ALIGNMENT = 21;

function zeroOut(major: number, minor: number): InitOut {
  return {
    major,
    minor,
    maxReadahead: 0,
    flags: 0n,
    maxBackground: 0,
    congestionThreshold: 0,
    maxWrite: 0,
    timeGran: 0,
    maxPages: 0,
    mapAlignment: 0,
    maxStackDepth: 0,
    requestTimeout: 0,
  };
}

function checkRange(field: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new EncodeError(`InitConfig.${field}`, 0, `${v} is not an integer in [${min}, ${max}]`);
  }
  return v;
}

/**
 * Decide the INIT reply. The famfs DAX_FMAP bit is believed only when a
 * profile is configured and the kernel's minor lies in that profile's range:
 * the same bit means REQUEST_TIMEOUT (bit 42) or fuse-iomap (bit 43) on other
 * kernels. Within the range the bit is famfs's and never negotiated as the
 * upstream flag of the same number. The fuse-iomap bit follows the same rule
 * with its own profile; a configuration in which both extensions would claim
 * one bit for the same kernel minor is a bug of the caller (EncodeError).
 */
export function negotiateInit(kin: InitIn, cfg: InitConfig): InitNegotiation {
  if (kin.major > FUSE_KERNEL_VERSION) {
    return { kind: 'retry-major', out: zeroOut(FUSE_KERNEL_VERSION, FUSE_OUR_MINOR) };
  }
  if (kin.major < FUSE_KERNEL_VERSION) {
    return { kind: 'unsupported', reason: `kernel protocol ${kin.major}.${kin.minor} is older than major ${FUSE_KERNEL_VERSION}` };
  }
  if (kin.minor < FUSE_MIN_KERNEL_MINOR) {
    return { kind: 'unsupported', reason: `kernel protocol 7.${kin.minor} is older than 7.${FUSE_MIN_KERNEL_MINOR}` };
  }
  const minor = Math.min(kin.minor, FUSE_OUR_MINOR);
  const offered = kin.flags;
  const supported = cfg.supported ?? PROTOCOL_SUPPORTED_FLAGS;

  const profile = cfg.famfs ?? null;
  const famfsBitIsFamfs = profile !== null && kin.minor >= profile.minKernelMinor && kin.minor <= profile.maxKernelMinor;
  const ip = cfg.iomap ?? null;
  const iomapBitIsIomap = ip !== null && kin.minor >= ip.minKernelMinor && kin.minor <= ip.maxKernelMinor;
  if (famfsBitIsFamfs && iomapBitIsIomap && profile.daxFmapFlag === ip.iomapFlag) {
    throw new EncodeError('InitConfig', 0, `profiles ${profile.name} and ${ip.name} both claim INIT bit ${ip.iomapFlag.toString(2).length - 1} for kernel minor ${kin.minor}`);
  }
  // Within the profile's range the bit is famfs's, never the upstream flag that shares it.
  const famfsMask = (famfsBitIsFamfs ? profile.daxFmapFlag : 0n) | (iomapBitIsIomap ? ip.iomapFlag : 0n);
  // INIT_EXT is a format marker, not a capability: set it whenever the
  // kernel offered it, so flags2 is read; without it no high bit can stand.
  const ext = (offered & InitFlag.INIT_EXT) !== 0n;
  let generic = offered & cfg.wanted & supported & ~famfsMask & ~InitFlag.INIT_EXT;
  if (!ext) generic &= 0xffff_ffffn;
  const famfs = ext && famfsBitIsFamfs && (offered & profile.daxFmapFlag) !== 0n ? profile : null;
  const iomap = ext && iomapBitIsIomap && (offered & ip.iomapFlag) !== 0n ? ip : null;
  const flags = generic | (ext ? InitFlag.INIT_EXT : 0n) | (famfs ? famfs.daxFmapFlag : 0n) | (iomap ? iomap.iomapFlag : 0n);
  // `has` asks about upstream flags only: under 'libfuse-famfs' bit 42 is famfs, not REQUEST_TIMEOUT.
  const has = (f: bigint): boolean => (generic & f) !== 0n;

  let maxPages = 0;
  let maxWrite: number;
  if (has(InitFlag.MAX_PAGES)) {
    maxPages = checkRange('maxPages', cfg.maxPages ?? FUSE_MAX_MAX_PAGES, 1, FUSE_MAX_MAX_PAGES);
    maxWrite = Math.min(cfg.maxWrite ?? maxPages * PAGE_SIZE, maxPages * PAGE_SIZE);
  } else {
    maxWrite = Math.min(cfg.maxWrite ?? FUSE_DEFAULT_MAX_PAGES_PER_REQ * PAGE_SIZE, FUSE_DEFAULT_MAX_PAGES_PER_REQ * PAGE_SIZE);
  }
  // The kernel raises anything below one page to 4096 anyway; say so honestly.
  maxWrite = checkRange('maxWrite', Math.max(maxWrite, PAGE_SIZE), PAGE_SIZE, 0xffff_ffff);

  const out: InitOut = {
    major: FUSE_KERNEL_VERSION,
    minor,
    maxReadahead: Math.min(cfg.maxReadahead ?? kin.maxReadahead, kin.maxReadahead),
    flags,
    maxBackground: checkRange('maxBackground', cfg.maxBackground ?? 0, 0, 0xffff),
    congestionThreshold: checkRange('congestionThreshold', cfg.congestionThreshold ?? 0, 0, 0xffff),
    maxWrite,
    timeGran: checkRange('timeGran', cfg.timeGran ?? 1, 1, 1_000_000_000),
    maxPages,
    mapAlignment:
      has(InitFlag.MAP_ALIGNMENT) ? checkRange('mapAlignment', cfg.mapAlignment ?? 12, 0, MAX_MAP_ALIGNMENT) : 0,
    maxStackDepth: has(InitFlag.PASSTHROUGH) ? checkRange('maxStackDepth', cfg.maxStackDepth ?? 1, 1, 0xffff_ffff) : 0,
    requestTimeout:
      has(InitFlag.REQUEST_TIMEOUT) ? checkRange('requestTimeout', cfg.requestTimeout ?? 0, 0, 0xffff) : 0,
  };
  return { kind: 'ok', out, flags, minor, famfs, iomap };
}
