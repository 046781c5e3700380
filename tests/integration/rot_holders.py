#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Descriptors and mappings held across rotations (docs/ROTATION.md,
"Operations during a rotation"): opens every file given before the
rotation starts, maps some of them, then, until a stop file appears,
reads each through its old descriptor and its mapping (every byte as
first read), and writes through held read-write descriptors of files of
its own (an append, a rewrite in place), checking each write back
through the same descriptor, a new one and a mapping.

Usage: rot_holders.py STOPFILE READYFILE OWNDIR FILE...
Prints the number of rounds; exits 1 at the first wrong byte or error."""
import mmap
import os
import sys


def main():
    stop, ready, own, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    held = []
    for i, p in enumerate(files):
        fd = os.open(p, os.O_RDONLY)
        want = os.pread(fd, os.fstat(fd).st_size + 1, 0)
        m = mmap.mmap(fd, 0, prot=mmap.PROT_READ) if i % 2 == 0 and want else None
        held.append((p, fd, want, m))
    os.makedirs(own, exist_ok=True)
    writers = []
    for i in range(4):
        p = os.path.join(own, f"w{i}")
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        body = bytearray(os.urandom(20000 + 7000 * i))
        os.write(fd, body)
        writers.append([p, fd, body])
    open(ready, "w").close()
    rounds = 0
    try:
        while not os.path.exists(stop):
            rounds += 1
            for p, fd, want, m in held:
                got = os.pread(fd, len(want) + 1, 0)
                if got != want:
                    raise RuntimeError(f"{p}: read through the held descriptor differs "
                                       f"({len(got)} bytes, {len(want)} expected)")
                if m is not None and m[:] != want:
                    raise RuntimeError(f"{p}: the mapping differs")
            for w in writers:
                p, fd, body = w
                if rounds % 3 == 0:
                    add = os.urandom(5000)
                    os.lseek(fd, 0, os.SEEK_END)
                    os.write(fd, add)
                    body += add
                else:
                    off = (rounds * 4099) % len(body)
                    chunk = os.urandom(3000)
                    os.pwrite(fd, chunk, off)
                    body[off:off + len(chunk)] = chunk
                got = os.pread(fd, len(body) + 1, 0)
                if got != bytes(body):
                    raise RuntimeError(f"{p}: the held descriptor reads {len(got)} bytes, "
                                       f"not the {len(body)} written")
                with open(p, "rb") as fh:
                    if fh.read() != bytes(body):
                        raise RuntimeError(f"{p}: a new descriptor reads other bytes")
                with open(p, "rb") as fh:
                    with mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ) as m:
                        if m[:] != bytes(body):
                            raise RuntimeError(f"{p}: a new mapping reads other bytes")
    except (OSError, RuntimeError) as e:
        print(f"round {rounds}: {e}", flush=True)
        return 1
    for _, fd, _, m in held:
        if m is not None:
            m.close()
        os.close(fd)
    for _, fd, _ in writers:
        os.close(fd)
    print(rounds, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
