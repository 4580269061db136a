// Benchmark: the seeded random stream `famfs creat -r` writes and `famfs
// verify` checks (upstream's xoroshiro128+ words), against crypto.randomFill
// (OpenSSL) and a plain memcpy (Buffer.copy) of the same 64 MiB in the same run.
import { randomFillSync } from 'node:crypto';
import { RandomStream, verifyStream } from '../packages/famfs-core/dist/index.js';
import { MiB, bestOf, fmt, record, table } from './lib.mjs';

const SIZE = 64 * MiB;
const buf = new Uint8Array(SIZE);
const unaligned = new Uint8Array(SIZE + 1).subarray(1);
const src = new Uint8Array(SIZE).fill(7);
new RandomStream(1).fill(buf.subarray(0, MiB)); // warm up

const fill = bestOf(5, (_c, i) => new RandomStream(1 + i).fill(buf));
const fillUn = bestOf(3, () => new RandomStream(1).fill(unaligned));
new RandomStream(7).fill(buf);
const verify = bestOf(3, () => {
  if (verifyStream(7, [buf]) !== -1) throw new Error('verify failed on the stream it was given');
});
const crypto = bestOf(3, () => randomFillSync(unaligned));
const copy = bestOf(5, () => Buffer.from(unaligned.buffer, unaligned.byteOffset, SIZE).set(src));

const mbs = (ms) => SIZE / MiB / (ms / 1000);
table('seeded random stream, 64 MiB (best of runs)', ['what', 'MiB/s', 'vs crypto.randomFill', 'vs memcpy'], [
  ['RandomStream.fill, aligned', mbs(fill.best).toFixed(0), fmt.x(crypto.best / fill.best), fmt.x(copy.best / fill.best)],
  ['RandomStream.fill, unaligned', mbs(fillUn.best).toFixed(0), fmt.x(crypto.best / fillUn.best), fmt.x(copy.best / fillUn.best)],
  ['verifyStream', mbs(verify.best).toFixed(0), fmt.x(crypto.best / verify.best), fmt.x(copy.best / verify.best)],
  ['crypto.randomFill (baseline)', mbs(crypto.best).toFixed(0), '1.00×', fmt.x(copy.best / crypto.best)],
  ['memcpy (baseline)', mbs(copy.best).toFixed(0), '', '1.00×'],
]);
record({ benchmark: 'creat -r fill stream, 64 MiB', ours: `${mbs(fill.best).toFixed(0)} MiB/s`, baseline: `${mbs(crypto.best).toFixed(0)} MiB/s (crypto.randomFill)`, ratio: fmt.x(crypto.best / fill.best), target: '—', met: '—' });
