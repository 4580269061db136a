/**
 * The DAX window primitives (reserve, map at an offset, back to PROT_NONE,
 * a probe that cannot crash), memfds, descriptors over unix sockets and
 * SOCK_SEQPACKET servers — against plain files and a second, independent
 * look at the same bytes (fs.readSync) and at the mappings (/proc/self/maps).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as native from './index.js';

const MiB = 1024 * 1024;
const PAGE = 4096;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-window-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function expectNativeError(fn: () => unknown, code: string, syscall: string): native.NativeError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(native.isNativeError(caught), String(caught)).toBe(true);
  const e = caught as native.NativeError;
  expect(e.code).toBe(code);
  expect(e.syscall).toBe(syscall);
  return e;
}

/** A file whose 8-byte word i holds i + tag * 2^32. */
function patternFile(name: string, size: number, tag: number): { file: string; fd: number } {
  const file = path.join(dir, name);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size / 8; i++) b.writeBigUInt64LE(BigInt(i) + (BigInt(tag) << 32n), i * 8);
  fs.writeFileSync(file, b);
  return { file, fd: fs.openSync(file, 'r+') };
}

const word = (b: Uint8Array, at: number): bigint => Buffer.from(b.buffer, b.byteOffset, b.byteLength).readBigUInt64LE(at);

/** The /proc/self/maps lines that fall inside [base, base+len). */
function mapsIn(base: number, len: number): Array<{ start: number; end: number; perms: string; offset: number; path: string }> {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean).map((l) => {
    const [range, perms, off, , , ...rest] = l.split(/\s+/);
    const [s, e] = range!.split('-').map((x) => parseInt(x, 16));
    return { start: s!, end: e!, perms: perms!, offset: parseInt(off!, 16), path: rest.join(' ') };
  }).filter((m) => m.start >= base && m.end <= base + len);
}

describe('memfdCreate', () => {
  it('a memfd of the size asked for, whose size is sealed', () => {
    const fd = native.memfdCreate('famfs-test', 4 * MiB);
    try {
      expect(fs.fstatSync(fd).size).toBe(4 * MiB);
      for (const size of [2 * MiB, 8 * MiB]) {
        let err: unknown;
        try {
          fs.ftruncateSync(fd, size);
        } catch (e) {
          err = e;
        }
        expect((err as NodeJS.ErrnoException).code).toBe('EPERM');
      }
      expect(fs.fstatSync(fd).size).toBe(4 * MiB);
    } finally {
      fs.closeSync(fd);
    }
    expect(() => native.memfdCreate('x'.repeat(250), 1)).toThrow(RangeError);
  });
});

describe('window reservation', () => {
  it('is aligned, PROT_NONE everywhere (the probe says so without faulting), and shows the memfd base layer in /proc/self/maps', () => {
    const base = native.memfdCreate('famfs-base', 8 * MiB);
    const w = native.reserveWindow(8 * MiB, 2 * MiB, base);
    try {
      expect(w.base % (2 * MiB)).toBe(0);
      const st = w.probe([0, PAGE, 4 * MiB, 8 * MiB - 8], 8, new Uint8Array(32));
      expect([...st]).toEqual([0, 0, 0, 0]);
      const maps = mapsIn(w.base, 8 * MiB);
      expect(maps.reduce((n, m) => n + (m.end - m.start), 0)).toBe(8 * MiB);
      for (const m of maps) {
        expect(m.perms).toBe('---s');
        expect(m.path).toMatch(/memfd:famfs-base/);
      }
    } finally {
      w.release();
      fs.closeSync(base);
    }
    expect(() => w.release()).toThrow(/already released/);
  });

  it('maps a file range at an offset (read-only, then writable), shows its bytes, and goes back to PROT_NONE', () => {
    const { fd } = patternFile('dev-a', 4 * MiB, 7);
    const w = native.reserveWindow(4 * MiB, 2 * MiB);
    const before = native.liveWindowCount();
    try {
      // file bytes [1 MiB, 2 MiB) at window offset 2 MiB
      w.map(2 * MiB, MiB, fd, MiB, false);
      const dst = new Uint8Array(3 * 8);
      let st = w.probe([2 * MiB, 2 * MiB + 4096, 2 * MiB - 8], 8, dst, true);
      expect([...st]).toEqual([1, 1, 0]);
      expect(word(dst, 0)).toBe((7n << 32n) + BigInt(MiB / 8));
      expect(word(dst, 8)).toBe((7n << 32n) + BigInt((MiB + 4096) / 8));
      // writable: the probe writes the same bytes back through the page protection
      w.map(2 * MiB, MiB, fd, MiB, true);
      st = w.probe([2 * MiB, 3 * MiB - 8], 8, dst, true);
      expect([...st]).toEqual([2, 2]);
      const check = Buffer.alloc(8);
      fs.readSync(fd, check, 0, 8, MiB);
      expect(check.readBigUInt64LE(0)).toBe((7n << 32n) + BigInt(MiB / 8));
      // part of it back to PROT_NONE: the rest still maps
      w.unmap(2 * MiB, PAGE);
      st = w.probe([2 * MiB, 2 * MiB + PAGE], 8, dst);
      expect([...st]).toEqual([0, 1]);
      const maps = mapsIn(w.base, 4 * MiB).filter((m) => m.path.endsWith('dev-a'));
      expect(maps).toHaveLength(1);
      expect(maps[0]).toMatchObject({ start: w.base + 2 * MiB + PAGE, end: w.base + 3 * MiB, perms: 'rw-s', offset: MiB + PAGE });
      expect(native.liveWindowCount()).toBe(before);
    } finally {
      w.release();
      fs.closeSync(fd);
    }
  });

  it('a map the kernel refuses leaves the base layer there (never a hole), with errno and syscall', () => {
    const { fd } = patternFile('dev-b', 2 * MiB, 1);
    // a base layer smaller than the window would fault with SIGBUS past its end
    const small = native.memfdCreate('famfs-small', 2 * MiB);
    const ro = fs.openSync(path.join(dir, 'dev-b'), 'r');
    const w = native.reserveWindow(4 * MiB, 2 * MiB);
    try {
      w.map(0, 2 * MiB, fd, 0, false);
      // PROT_WRITE on a read-only fd: EACCES; the range is the base layer again
      expectNativeError(() => w.map(0, 2 * MiB, ro, 0, true), 'EACCES', 'mmap(MAP_FIXED)');
      expect([...w.probe([0, MiB], 8, new Uint8Array(16))]).toEqual([0, 0]);
      const inWindow = mapsIn(w.base, 4 * MiB);
      expect(inWindow.reduce((n, m) => n + (m.end - m.start), 0)).toBe(4 * MiB);
      // argument checks before any system call
      expect(() => w.map(4 * MiB, PAGE, fd, 0, false)).toThrow(RangeError);
      expect(() => w.map(1, PAGE, fd, 0, false)).toThrow(RangeError);
      expect(() => w.map(0, PAGE, fd, 100, false)).toThrow(RangeError);
      expect(() => w.probe([4 * MiB - 4], 8, new Uint8Array(8))).toThrow(RangeError);
      expect(() => native.reserveWindow(3 * MiB, 3 * MiB)).toThrow(RangeError);
      expect(() => native.reserveWindow(4 * MiB, 2 * MiB, small)).toThrow(RangeError);
    } finally {
      w.release();
      fs.closeSync(fd);
      fs.closeSync(ro);
      fs.closeSync(small);
    }
  });
});

describe('descriptors over unix sockets', () => {
  it('sendFds/recvFds: data and fds in one message; the fd received opens the same file', () => {
    const [a, b] = native.socketpairSeqpacket();
    const { file, fd } = patternFile('dev-c', PAGE, 3);
    try {
      expect(native.sendFds(a, Buffer.from('hello'), [fd, fd])).toBe(5);
      const buf = new Uint8Array(64);
      const got = native.recvFds(b, buf);
      expect(got).not.toBeNull();
      expect(Buffer.from(buf.subarray(0, got!.bytes)).toString()).toBe('hello');
      expect(got!.fds).toHaveLength(2);
      for (const f of got!.fds) {
        expect(f).not.toBe(fd);
        expect(fs.fstatSync(f).ino).toBe(fs.statSync(file).ino);
        fs.closeSync(f);
      }
      // non-blocking and empty: null; a message too big for the buffer: EMSGSIZE, fds closed
      native.setNonblock(b, true);
      expect(native.recvFds(b, buf)).toBeNull();
      native.sendFds(a, new Uint8Array(100), [fd]);
      const fdsBefore = fs.readdirSync('/proc/self/fd').length;
      expectNativeError(() => native.recvFds(b, new Uint8Array(10)), 'EMSGSIZE', 'recvmsg');
      expect(fs.readdirSync('/proc/self/fd').length).toBe(fdsBefore);
      // the peer hangs up: 0 bytes, no fds
      fs.closeSync(a);
      expect(native.recvFds(b, buf)).toEqual({ bytes: 0, fds: [] });
    } finally {
      fs.closeSync(b);
      fs.closeSync(fd);
      try {
        fs.closeSync(a);
      } catch {
        // closed above
      }
    }
    expect(() => native.sendFds(-1, new Uint8Array(1))).toThrow(RangeError);
    expect(() => native.sendFds(1, new Uint8Array(1), new Array<number>(254).fill(1))).toThrow(TypeError);
  });

  it('seqpacketListen/Accept/Connect: message boundaries kept, -1 when nobody waits', () => {
    const sockPath = path.join(dir, 'sock');
    const l = native.seqpacketListen(sockPath);
    try {
      expect(native.seqpacketAccept(l)).toBe(-1);
      const c = native.seqpacketConnect(sockPath);
      const s = native.seqpacketAccept(l);
      expect(s).toBeGreaterThan(0);
      native.sendFds(s, Buffer.from('one'));
      native.sendFds(s, Buffer.from('two!'));
      const buf = new Uint8Array(16);
      expect(native.recvFds(c, buf)?.bytes).toBe(3);
      expect(native.recvFds(c, buf)?.bytes).toBe(4);
      fs.closeSync(c);
      fs.closeSync(s);
      expectNativeError(() => native.seqpacketConnect(path.join(dir, 'nobody')), 'ENOENT', 'connect');
    } finally {
      fs.closeSync(l);
      fs.rmSync(sockPath, { force: true });
    }
  });
});

describe('FUSE backing devices', () => {
  it('FUSE_DEV_IOC_BACKING_OPEN on something that is not /dev/fuse is ENOTTY with the ioctl named', () => {
    const { fd } = patternFile('dev-d', PAGE, 0);
    try {
      expectNativeError(() => native.fuseBackingOpen(fd, fd, native.FuseBackingType.IOMAP), 'ENOTTY', 'ioctl(FUSE_DEV_IOC_BACKING_OPEN)');
      expectNativeError(() => native.fuseBackingClose(fd, 1), 'ENOTTY', 'ioctl(FUSE_DEV_IOC_BACKING_CLOSE)');
    } finally {
      fs.closeSync(fd);
    }
  });
});
