/**
 * The Session served through the native request queues (QueueTransport +
 * runTablePublisher), with the kernel played over a SOCK_SEQPACKET pair:
 * metadata goes through the Session unchanged, READ/WRITE on an open handle
 * are answered by the queues from the run table the publisher put in place
 * at OPEN, and after RELEASE the Session answers EBADF. Requests and
 * expected replies are built by hand (test-kernel.testkit.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Famfs } from '@famfs/core';
import { formattedImage } from '../../../test/helpers.js';
import { socketpairSeqpacket } from '@famfs/native';
import { FamfsFuseFs } from './filesystem.js';
import { Logger } from './log.js';
import { QueueTransport, runTablePublisher } from './native-queues.js';
import { Session } from './session.js';
import {
  E, FakeKernel, KiB, MiB, Op, cname, errorReply, initIn, openIn, outHeaderOf, readIn, releaseIn, reply, request, writeIn, writeOut,
} from './test-kernel.testkit.js';

const SYS = '0c3e1f5a-6b2d-4c8e-9a71-5d4f3e2b1a09';
const DEV_SIZE = 8 * 1024 * MiB;
const CHUNK = 2 * MiB;
const ROOT = 1n;
/** INIT offer: INIT_EXT (bit 30), MAX_PAGES (22), BIG_WRITES (5), ASYNC_READ (0); flags2 bit 9 = OVER_IO_URING */
const OFFER = (1 << 30) | (1 << 22) | (1 << 5) | 1;
const URING2 = 1 << 9;

let tmp: string;
let image: string;
let famfs: Famfs;
const data = new Uint8Array(6 * MiB).map((_, i) => (i * 31 + (i >> 12)) & 0xff);

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-nq-'));
  image = path.join(tmp, 'famfs.img');
  const dev = formattedImage(image, DEV_SIZE, SYS);
  famfs = Famfs.fromDevice(dev, { systemUuid: SYS });
  // interleaved: file bytes hop between strips every 2 MiB
  const f = famfs.createFile('striped.bin', 6 * MiB, { mode: 0o644, interleave: { nstrips: 2, nbuckets: 4, chunkSize: CHUNK } }).file;
  famfs.writeAt(f, 0, data);
});
afterAll(() => {
  famfs?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface Served {
  kernel: FakeKernel;
  transport: QueueTransport;
  running: Promise<void>;
  stop(): Promise<void>;
}
const served: Served[] = [];
afterEach(async () => {
  for (const s of served.splice(0)) await s.stop();
});

function serve(uring: boolean): Served {
  const [kernelFd, serverFd] = socketpairSeqpacket();
  const log = new Logger('error');
  const fuseFs = new FamfsFuseFs(famfs, { cache: 'auto' });
  const transport = new QueueTransport({ fd: serverFd, uring, clones: 0 });
  transport.queues.addDevice(0, { path: image, writable: true });
  const session = new Session(transport, fuseFs, {
    profile: 'kernel-v10',
    daxdevs: [{ index: 0, path: image, uuid: famfs.sb.devUuid, size: famfs.dev.size }],
    log,
    handles: runTablePublisher(transport.queues, fuseFs, log),
  });
  const running = session.run();
  const kernel = new FakeKernel(kernelFd, serverFd);
  const s: Served = {
    kernel, transport, running,
    async stop() {
      transport.close();
      await running.catch(() => undefined);
      fs.closeSync(kernelFd);
    },
  };
  served.push(s);
  return s;
}

async function init(s: Served, flags2: number): Promise<DataView> {
  const r = await s.kernel.call(request(Op.INIT, s.kernel.unique(), 0n, initIn(7, 45, 128 * KiB, OFFER, flags2)));
  expect(outHeaderOf(r).error).toBe(0);
  return new DataView(r.buffer, r.byteOffset + 16);
}

/** LOOKUP + OPEN of striped.bin; returns [nodeid, fh]. */
async function openStriped(s: Served, flags = 2 /* O_RDWR */): Promise<[bigint, bigint]> {
  const e = await s.kernel.call(request(Op.LOOKUP, s.kernel.unique(), ROOT, cname('striped.bin')));
  expect(outHeaderOf(e).error).toBe(0);
  const nodeid = new DataView(e.buffer, e.byteOffset + 16).getBigUint64(0, true);
  const o = await s.kernel.call(request(Op.OPEN, s.kernel.unique(), nodeid, openIn(flags)));
  expect(outHeaderOf(o).error).toBe(0);
  return [nodeid, new DataView(o.buffer, o.byteOffset + 16).getBigUint64(0, true)];
}

describe('QueueTransport: the Session through the native request queues', () => {
  it('adds OVER_IO_URING to the INIT reply only when asked and offered', async () => {
    const plain = serve(true);
    const out = await init(plain, 0);
    expect(out.getUint32(32, true) & URING2).toBe(0); // not offered
    const notWanted = serve(false);
    expect((await init(notWanted, URING2)).getUint32(32, true) & URING2).toBe(0);
    const wanted = serve(true);
    const w = await init(wanted, URING2);
    expect(w.getUint32(32, true) & URING2).toBe(URING2);
    expect(w.getUint32(12, true) & (1 << 30)).not.toBe(0);
    // a socket is no FUSE ring: registering fails, the queues say why and serve on
    for (let i = 0; i < 200 && wanted.transport.info().setupErrors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(wanted.transport.info().setupErrors.length).toBeGreaterThan(0);
    const [nodeid, fh] = await openStriped(wanted, 0);
    const r = await wanted.kernel.call(request(Op.READ, wanted.kernel.unique(), nodeid, readIn(fh, 0, 4096)));
    expect(r.subarray(16)).toEqual(data.subarray(0, 4096));
  });

  it('publishes the run table at OPEN: READ and WRITE answered natively across strips, EBADF after RELEASE', async () => {
    const s = serve(false);
    await init(s, 0);
    const [nodeid, fh] = await openStriped(s);
    expect(s.transport.info().publishedHandles).toBe(1);
    // 128 KiB (a socket message can hold it) across the strip 0 → strip 1 boundary at 2 MiB
    let u = s.kernel.unique();
    const r = await s.kernel.call(request(Op.READ, u, nodeid, readIn(fh, CHUNK - 64 * KiB, 128 * KiB)));
    expect(r).toEqual(reply(u, data.subarray(CHUNK - 64 * KiB, CHUNK + 64 * KiB)));
    const bytes = new Uint8Array(8 * KiB).fill(0x5a);
    u = s.kernel.unique();
    expect(await s.kernel.call(request(Op.WRITE, u, nodeid, writeIn(fh, 4 * MiB - 4 * KiB, bytes)))).toEqual(reply(u, writeOut(8 * KiB)));
    expect(famfs.read(famfs.statFile('striped.bin'), 4 * MiB - 4 * KiB, 8 * KiB)).toEqual(bytes);
    u = s.kernel.unique();
    expect(await s.kernel.call(request(Op.WRITE, u, nodeid, writeIn(fh, 6 * MiB, bytes)))).toEqual(errorReply(u, E.EFBIG));
    const st = s.transport.stats()[0]!;
    expect(st.nativeReads).toBe(1);
    expect(st.nativeWrites).toBe(1);
    expect(st.nativeErrors).toBe(1);
    u = s.kernel.unique();
    expect(await s.kernel.call(request(Op.RELEASE, u, nodeid, releaseIn(fh)))).toEqual(reply(u));
    expect(s.transport.info().publishedHandles).toBe(0);
    u = s.kernel.unique();
    expect(await s.kernel.call(request(Op.READ, u, nodeid, readIn(fh, 0, 4096)))).toEqual(errorReply(u, E.EBADF));
    famfs.writeAt(famfs.statFile('striped.bin'), 4 * MiB - 4 * KiB, data.subarray(4 * MiB - 4 * KiB, 4 * MiB + 4 * KiB));
  });

  it('a read-only handle gets a read-only table: WRITE goes to the Session (EBADF)', async () => {
    const s = serve(false);
    await init(s, 0);
    const [nodeid, fh] = await openStriped(s, 0 /* O_RDONLY */);
    const u = s.kernel.unique();
    expect(await s.kernel.call(request(Op.WRITE, u, nodeid, writeIn(fh, 0, new Uint8Array(16))))).toEqual(errorReply(u, E.EBADF));
    expect(s.transport.stats()[0]!.nativeWrites).toBe(0);
  });

  it('FORGET gets no reply and the next request is answered', async () => {
    const s = serve(false);
    await init(s, 0);
    const [nodeid] = await openStriped(s, 0);
    const forget = new Uint8Array(8);
    new DataView(forget.buffer).setBigUint64(0, 1n, true);
    s.kernel.send(request(Op.FORGET, s.kernel.unique(), nodeid, forget));
    const u = s.kernel.unique();
    expect(outHeaderOf(await s.kernel.call(request(Op.GETATTR, u, nodeid, new Uint8Array(16)))).unique).toBe(u);
    expect(s.transport.info().pendingReplies).toBe(0);
  });

  it('ends run() when the kernel side goes away', async () => {
    const s = serve(false);
    await init(s, 0);
    await s.kernel.close();
    await expect(s.running).resolves.toBeUndefined();
    expect(s.transport.info().state).toBe('closed');
    s.stop = async () => {
      s.transport.close();
    };
  });
});

