#!/usr/bin/env python3
"""Read and write a file through mmap(2), for the famfs-mode VM tests.

    mmap-file.py sum FILE               sha256 of the whole file, read through a shared mapping
    mmap-file.py put FILE OFFSET HEX    store the bytes HEX at OFFSET through a shared
                                        writable mapping, then msync it
    mmap-file.py get FILE OFFSET LEN    the bytes at OFFSET, read through a shared mapping, in hex

On a famfs file in famfs mode the mapping is a DAX mapping of the device
memory itself; on a READ/WRITE mount it goes through the page cache.
"""
import hashlib
import mmap
import os
import sys


def main(argv):
    if len(argv) >= 2 and argv[0] == 'sum':
        fd = os.open(argv[1], os.O_RDONLY)
        size = os.fstat(fd).st_size
        with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ) as m:
            print(hashlib.sha256(m[:]).hexdigest())
        os.close(fd)
        return 0
    if len(argv) == 4 and argv[0] == 'put':
        fd = os.open(argv[1], os.O_RDWR)
        size = os.fstat(fd).st_size
        data = bytes.fromhex(argv[3])
        off = int(argv[2], 0)
        with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
            m[off:off + len(data)] = data
            m.flush()
        os.close(fd)
        return 0
    if len(argv) == 4 and argv[0] == 'get':
        fd = os.open(argv[1], os.O_RDONLY)
        size = os.fstat(fd).st_size
        off = int(argv[2], 0)
        with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ) as m:
            print(m[off:off + int(argv[3], 0)].hex())
        os.close(fd)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


sys.exit(main(sys.argv[1:]))
