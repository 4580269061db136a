/**
 * The on-media decoders under seeded mutation: superblock, log header and
 * log entry bytes, each mutated FAMFS_FUZZ_MEDIA times (default 10,000)
 * — bit flips, byte splats, u64 fields set to edge values, cuts — half of the
 * time with the CRC recomputed so the mutation reaches the checks behind it.
 * Every outcome must be a typed one: a decode, a not-ok status, or a
 * FormatError. Never another exception. A decode that succeeds must also be
 * one the encoder reproduces (decode(encode(x)) = x).
 */
import { describe, expect, it } from 'vitest';
import { FormatError } from './codec.js';
import { LogEntryLayout as LE, LogHeaderLayout as LH, SuperblockLayout as SB } from './constants.js';
import { crc32 } from './crc32.js';
import {
  type LogEntryRecord, checkLogHeader, decodeLogEntry, decodeLogHeader, encodeLogEntry, encodeLogHeader, logCountersProblem, newLogHeader,
} from './log.js';
import { checkSuperblock, decodeSuperblock, encodeSuperblock } from './superblock.js';
import { type Rng, seeded } from '../../../../test/random.js';

const COUNT = Number(process.env.FAMFS_FUZZ_MEDIA ?? 10_000);
const LOG_LEN = 8 * 1024 * 1024;
const DEV_SIZE = 64 * 1024 ** 3;

const EDGE_U64 = [0n, 1n, 0x1fffffn, 0x20_0000n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];

/** One seeded mutation of `base` (a copy). */
function mutate(R: Rng, base: Uint8Array): Uint8Array {
  let b = base.slice();
  for (let k = 1 + R.int(3); k > 0; k--) {
    switch (R.int(5)) {
      case 0:
        for (let f = 1 + R.int(4); f > 0 && b.length > 0; f--) {
          const i = R.int(b.length);
          b[i] = (b[i] ?? 0) ^ (1 << R.int(8));
        }
        break;
      case 1:
        for (let f = 1 + R.int(6); f > 0 && b.length > 0; f--) b[R.int(b.length)] = R.next() & 0xff;
        break;
      case 2: {
        // an aligned u64 field set to an edge value
        if (b.length < 8) break;
        const at = R.int(Math.floor(b.length / 8)) * 8;
        new DataView(b.buffer, b.byteOffset + at, 8).setBigUint64(0, R.pick(EDGE_U64), true);
        break;
      }
      case 3: {
        // a u32 at a 4-aligned place (counts, types, extent kinds)
        if (b.length < 4) break;
        const at = R.int(Math.floor(b.length / 4)) * 4;
        new DataView(b.buffer, b.byteOffset + at, 4).setUint32(0, R.pick([0, 1, 2, 3, 4, 15, 16, 17, 0xffff_ffff, R.next()]), true);
        break;
      }
      default:
        if (R.int(8) === 0) b = b.slice(0, R.int(b.length)); // rare: a cut
        break;
    }
  }
  return b;
}

/** Recompute a u64-stored CRC-32 over [0, crcAt) so the mutation gets past it. */
function recrc(b: Uint8Array, crcAt: number): void {
  if (b.length < crcAt + 8) return;
  new DataView(b.buffer, b.byteOffset + crcAt, 8).setBigUint64(0, BigInt(crc32(b.subarray(0, crcAt))), true);
}

/** Run `fn`; only a FormatError may escape it. */
function typedOutcome<T>(what: string, fn: () => T): T | FormatError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FormatError) return e;
    throw new Error(`${what}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (not a FormatError)`);
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe(`on-media decoders under ${COUNT.toLocaleString('en')} seeded mutations each`, () => {
  it('superblock: a decode, a not-ok status or a FormatError; a valid one round-trips', () => {
    const R = seeded('format.fuzz superblock');
    const base = encodeSuperblock({
      logOffset: 2 * 1024 * 1024, logLen: LOG_LEN, allocUnit: 2 * 1024 * 1024,
      uuid: '01234567-89ab-4def-8123-456789abcdef', devUuid: 'fedcba98-7654-4210-8edc-ba9876543210',
      systemUuid: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', flags: 0,
      daxdev: { size: DEV_SIZE, uuid: '00000000-0000-0000-0000-000000000000', path: '/dev/dax0.0' },
    });
    const counts = { ok: 0, rejected: 0, formatError: 0 };
    for (let i = 0; i < COUNT; i++) {
      const b = mutate(R, base);
      if (R.int(2) === 0) recrc(b, SB.CRC);
      const what = `#${i} ${hex(b.subarray(0, 112))}`;
      const st = typedOutcome(`${what} checkSuperblock`, () => checkSuperblock(b, DEV_SIZE));
      const dec = typedOutcome(`${what} decodeSuperblock`, () => decodeSuperblock(b));
      if (st instanceof FormatError) counts.formatError++;
      else if (st.ok) {
        counts.ok++;
        const again = decodeSuperblock(encodeSuperblock(st.sb));
        expect(again, what).toEqual(st.sb);
      } else counts.rejected++;
      if (!(dec instanceof FormatError) && b.length >= SB.SIZE) expect(dec.magic, what).toBe(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    }
    expect(counts.ok + counts.rejected + counts.formatError).toBe(COUNT);
    // the mutations reach every outcome
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.rejected).toBeGreaterThan(COUNT / 10);
  });

  it('log header: a decode, a not-ok status or a FormatError; a valid one round-trips', () => {
    const R = seeded('format.fuzz log header');
    const base = encodeLogHeader({ ...newLogHeader(LOG_LEN), nextSeqnum: 7, nextIndex: 7 });
    const counts = { ok: 0, rejected: 0, formatError: 0 };
    for (let i = 0; i < COUNT; i++) {
      const b = mutate(R, base);
      if (R.int(2) === 0) recrc(b, LH.CRC);
      const what = `#${i} ${hex(b)}`;
      const st = typedOutcome(`${what} checkLogHeader`, () => checkLogHeader(b, 0, LOG_LEN));
      typedOutcome(`${what} decodeLogHeader`, () => decodeLogHeader(b, 0));
      if (st instanceof FormatError) counts.formatError++;
      else if (st.ok) {
        counts.ok++;
        const h = st.header;
        // next_seqnum is not the reader's business (it may even be past 2^53): round-trip the rest
        if (Number.isSafeInteger(h.nextSeqnum)) expect(decodeLogHeader(encodeLogHeader(h), 0), what).toEqual(h);
        typedOutcome(`${what} logCountersProblem`, () => logCountersProblem(b, 0));
        expect(h.nextIndex, what).toBeLessThanOrEqual(h.lastIndex + 1);
      } else counts.rejected++;
    }
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.rejected).toBeGreaterThan(COUNT / 10);
  });

  it('log entry: a decode or a typed fault (never an exception); a valid one round-trips', () => {
    const R = seeded('format.fuzz log entry');
    const ext = (o: number, l: number) => ({ devIndex: 0, offset: o * 2 * 1024 * 1024, len: l * 2 * 1024 * 1024 });
    const bases: LogEntryRecord[] = [
      { seqnum: 3, type: 'file', file: { size: 5_000_000, flags: 2, uid: 1000, gid: 100, mode: 0o644, relpath: 'dir/file', fmap: { type: 'simple', extents: [ext(6, 2), ext(20, 1)] } } },
      {
        seqnum: 3, type: 'file',
        file: {
          size: 64 << 20, flags: 2, uid: 0, gid: 0, mode: 0o600, relpath: 'a/b/ilv',
          fmap: { type: 'interleave', extents: [{ nstrips: 4, chunkSize: 2 << 20, strips: [ext(100, 8), ext(600, 8), ext(1100, 8), ext(1600, 8)] }] },
        },
      },
      { seqnum: 3, type: 'mkdir', mkdir: { uid: 1, gid: 2, mode: 0o755, relpath: 'some/dir' } },
      { seqnum: 3, type: 'daxdev', daxdev: { size: DEV_SIZE, uuid: '11111111-2222-4333-8444-555555555555', index: 1 } },
    ];
    const encoded = bases.map(encodeLogEntry);
    const counts = { ok: 0, fault: 0 };
    const faults = new Set<string>();
    for (let i = 0; i < COUNT; i++) {
      const b = mutate(R, R.pick(encoded));
      if (R.int(4) !== 0) recrc(b, LE.CRC);
      const what = `#${i} ${hex(b)}`;
      const d = typedOutcome(`${what} decodeLogEntry`, () => decodeLogEntry(b, 0, 3));
      if (d instanceof FormatError) expect.fail(`${what}: decodeLogEntry threw ${d.message}; it must return a fault`);
      if (d.ok) {
        counts.ok++;
        const again = decodeLogEntry(encodeLogEntry(d.entry), 0, 3);
        expect(again.ok && again.entry, what).toEqual(d.entry);
      } else {
        counts.fault++;
        faults.add(d.fault);
      }
    }
    expect(counts.ok).toBeGreaterThan(COUNT / 20);
    expect(counts.fault).toBeGreaterThan(COUNT / 10);
    for (const f of ['bad-crc', 'bad-seqnum', 'unknown-type', 'bad-fmap', 'delete-unsupported']) expect(faults, f).toContain(f);
  });
});
