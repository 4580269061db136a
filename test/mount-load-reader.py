"""One reader of the famfs mount load test (test/mount-load.test.ts).

usage: mount-load-reader.py SECONDS SEED MOUNTED LOCAL [MOUNTED LOCAL ...]

For SECONDS, read random ranges (random offset, 1 byte .. 1 MiB, some ending
past EOF) of random MOUNTED files, through one of: O_DIRECT (a fresh open,
page-aligned buffer, unaligned offsets and sizes), buffered pread (a kept fd,
its page cache dropped now and then so that reads reach the daemon again), or
mmap; compare every byte with the same range of the LOCAL copy. Exit 1 with
the first difference on stderr; otherwise print a JSON summary on stdout.
"""
import json
import mmap
import os
import random
import sys
import time

MAX_IO = 1 << 20


def read_full(fd, n, off, buf=None):
    """pread/preadv until n bytes or EOF (a short read is legal, not data loss)."""
    out = bytearray()
    while len(out) < n:
        want = n - len(out)
        if buf is None:
            got = os.pread(fd, want, off + len(out))
        else:
            mv = memoryview(buf)[:want]
            k = os.preadv(fd, [mv], off + len(out))
            got = bytes(mv[:k])
        if not got:
            break
        out += got
    return bytes(out)


def main():
    seconds = float(sys.argv[1])
    rnd = random.Random(int(sys.argv[2]))
    args = sys.argv[3:]
    files = []
    for i in range(0, len(args), 2):
        mounted, local = args[i], args[i + 1]
        files.append({
            'mounted': mounted,
            'size': os.path.getsize(local),
            'local': os.open(local, os.O_RDONLY),
            'fd': os.open(mounted, os.O_RDONLY),
            'uses': 0,
        })
    dbuf = mmap.mmap(-1, MAX_IO)  # page-aligned, as O_DIRECT may want
    stats = {'reads': 0, 'direct': 0, 'buffered': 0, 'mmap': 0, 'bytes': 0, 'pastEof': 0, 'reopens': 0, 'dropped': 0}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        f = rnd.choice(files)
        size = f['size']
        n = rnd.randint(1, MAX_IO)
        r = rnd.random()
        if r < 0.1:
            off = max(0, size - rnd.randint(0, 3 * n))  # around EOF
        elif r < 0.15:
            off = rnd.randrange(0, size) & ~4095  # page aligned
        else:
            off = rnd.randrange(0, size + 1)
        want = max(0, min(n, size - off))
        if off + n > size:
            stats['pastEof'] += 1
        expected = read_full(f['local'], want, off)
        how = rnd.random()
        if how < 0.35:
            fd = os.open(f['mounted'], os.O_RDONLY | os.O_DIRECT)
            try:
                got = read_full(fd, n, off, dbuf)
            finally:
                os.close(fd)
            stats['direct'] += 1
            kind = 'O_DIRECT'
        elif how < 0.85:
            f['uses'] += 1
            if f['uses'] % 97 == 0:
                os.posix_fadvise(f['fd'], 0, 0, os.POSIX_FADV_DONTNEED)
                stats['dropped'] += 1
            if f['uses'] % 301 == 0:
                os.close(f['fd'])
                f['fd'] = os.open(f['mounted'], os.O_RDONLY)
                stats['reopens'] += 1
            got = read_full(f['fd'], n, off)
            stats['buffered'] += 1
            kind = 'pread'
        else:
            m = mmap.mmap(f['fd'], 0, prot=mmap.PROT_READ)
            try:
                got = m[off:off + n]
            finally:
                m.close()
            stats['mmap'] += 1
            kind = 'mmap'
        if got != expected:
            first = next((i for i in range(min(len(got), len(expected))) if got[i] != expected[i]), min(len(got), len(expected)))
            sys.stderr.write(f"{kind} read of {f['mounted']} at {off} size {n}: got {len(got)} bytes, expected {len(expected)}; first difference at +{first}\n")
            sys.exit(1)
        stats['reads'] += 1
        stats['bytes'] += len(got)
    for f in files:
        os.close(f['fd'])
        os.close(f['local'])
    print(json.dumps(stats))


main()
