#!/usr/bin/env python3
"""Read and write bytes of a devdax device from a VM test's guest script.

A device-dax character device has no read() or write(), only mmap (dd on it
fails with EINVAL), so the VM tests use this through the host's python3:

    dax-bytes.py fill DEV OFFSET LENGTH SEED
                                          bytes from a PRNG seeded with SEED
                                          there; prints their sha256
    dax-bytes.py sum  DEV OFFSET LENGTH   prints the sha256 of those bytes
    dax-bytes.py put  DEV OFFSET HEX      writes the bytes HEX there
    dax-bytes.py wait DEV OFFSET HEX SECONDS
                                          polls until those bytes are HEX;
                                          exit 1 if they are not by then

The mapping starts at offset 0 and its length is rounded up to 2 MiB: a
device-dax mapping must be a multiple of the device's alignment.
"""
import hashlib
import mmap
import os
import random
import sys
import time

ALIGN = 2 << 20


def mapped(dev, end):
    fd = os.open(dev, os.O_RDWR)
    try:
        return mmap.mmap(fd, (end + ALIGN - 1) // ALIGN * ALIGN)
    finally:
        os.close(fd)


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    cmd, dev, off = argv[1], argv[2], int(argv[3], 0)
    if cmd in ("fill", "sum"):
        length = int(argv[4], 0)
        m = mapped(dev, off + length)
        if cmd == "fill":
            # seeded by the test (from the suite's seed), so a run repeats exactly
            m[off:off + length] = random.Random(int(argv[5], 0)).randbytes(length)
        print(hashlib.sha256(m[off:off + length]).hexdigest())
    elif cmd == "put":
        data = bytes.fromhex(argv[4])
        m = mapped(dev, off + len(data))
        m[off:off + len(data)] = data
    elif cmd == "wait":
        data, until = bytes.fromhex(argv[4]), time.monotonic() + float(argv[5])
        m = mapped(dev, off + len(data))
        while m[off:off + len(data)] != data:
            if time.monotonic() > until:
                sys.exit(f"wait: {argv[4]} did not appear at {off} within {argv[5]} s")
            time.sleep(0.05)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
