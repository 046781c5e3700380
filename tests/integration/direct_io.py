#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""O_DIRECT cases of issue 21, run the same way in a lethefs mount and in a
plain directory so that the bats tests can compare the two.

  direct_io.py mixed FILE        A writes 1 MiB buffered, B holds O_DIRECT
  direct_io.py dio-roundtrip FILE   aligned O_DIRECT writes and reads
  direct_io.py unaligned FILE    O_DIRECT at odd offsets and sizes
  direct_io.py procs FILE N      N processes mixing buffered and direct handles

Each prints what it observed (errors included) and a digest of the file, so
that two runs can be compared line by line.
"""
import hashlib
import mmap
import os
import random
import sys

MIB = 1 << 20


def aligned(data):
    """A page-aligned buffer holding data (O_DIRECT wants aligned memory)."""
    buf = mmap.mmap(-1, max(len(data), 1))
    buf[: len(data)] = data
    return buf


def digest(path):
    with open(path, "rb") as f:
        d = f.read()
    return "size %d sha256 %s" % (len(d), hashlib.sha256(d).hexdigest()[:16])


def attempt(what, fn):
    try:
        r = fn()
        print(what, "ok" if r is None else r)
    except OSError as e:
        print(what, "error", e.errno)


def mixed(path):
    """The data-loss case: buffered writer A, O_DIRECT opener B."""
    data = random.Random(21).randbytes(MIB)
    a = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(a, data)
    b = os.open(path, os.O_WRONLY | os.O_DIRECT)
    attempt("fsync A", lambda: os.fsync(a))
    attempt("close B", lambda: os.close(b))
    attempt("close A", lambda: os.close(a))
    # The same without fsync: close is where a lost writeback shows.
    a = os.open(path + ".2", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(a, data)
    b = os.open(path + ".2", os.O_WRONLY | os.O_DIRECT)
    attempt("close A (no fsync)", lambda: os.close(a))
    attempt("close B", lambda: os.close(b))
    print(digest(path))
    print(digest(path + ".2"))


def dio_roundtrip(path):
    r = random.Random(5)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
    for off, n in [(0, 4096), (8192, 65536), (3 * MIB, MIB), (4096, 4096), (MIB, 512 * 1024)]:
        buf = aligned(r.randbytes(n))
        attempt("pwrite %d+%d" % (off, n), lambda: os.pwrite(fd, buf, off) and None)
    attempt("fdatasync", lambda: os.fdatasync(fd))
    for off, n in [(0, 8192), (MIB, MIB), (3 * MIB, 2 * MIB), (5 * MIB, 4096)]:
        buf = aligned(bytes(n))
        got = os.preadv(fd, [buf], off)
        print("preadv %d+%d got %d %s" % (off, n, got, hashlib.sha256(buf[:got]).hexdigest()[:16]))
    os.close(fd)
    print(digest(path))


def unaligned(path):
    """Sizes and offsets that are no multiple of 512: accepted by FUSE."""
    r = random.Random(9)
    model = bytearray()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
    for _ in range(60):
        off, n = r.randrange(0, 300000), r.randrange(1, 20000)
        data = r.randbytes(n)
        os.pwrite(fd, aligned(data), off)
        if len(model) < off + n:
            model.extend(bytes(off + n - len(model)))
        model[off : off + n] = data
    for _ in range(60):
        off, n = r.randrange(0, 320000), r.randrange(1, 20000)
        buf = aligned(bytes(n))
        got = os.preadv(fd, [buf], off)
        if bytes(buf[:got]) != bytes(model[off : off + n]):
            print("MISMATCH at", off, n)
            sys.exit(1)
    os.close(fd)
    with open(path, "rb") as f:
        assert f.read() == bytes(model), "buffered read differs from the model"
    print("unaligned direct I/O matches the model,", len(model), "bytes")


def procs(path, nproc):
    """nproc processes, each owning interleaved 64 KiB stripes of one file,
    alternating buffered and O_DIRECT handles and fsync; the parent checks
    every byte afterwards."""
    stripe, rounds = 65536, 24
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.close(fd)
    pids = []
    for p in range(nproc):
        pid = os.fork()
        if pid == 0:
            r = random.Random(p)
            buffered = os.open(path, os.O_RDWR)
            direct = os.open(path, os.O_RDWR | os.O_DIRECT)
            try:
                for k in range(rounds):
                    off = (k * nproc + p) * stripe
                    data = bytes([(p * 31 + k) % 251 + 1]) * stripe
                    if r.random() < 0.5:
                        os.pwrite(buffered, data, off)
                    else:
                        os.pwrite(direct, aligned(data), off)
                    if r.random() < 0.2:
                        os.fsync(buffered if r.random() < 0.5 else direct)
                    # Read back a neighbour's stripe through the other kind
                    # of handle: never a mix of old and new within a page.
                    q = r.randrange(nproc)
                    buf = aligned(bytes(stripe))
                    os.preadv(direct, [buf], (k * nproc + q) * stripe)
                os.close(direct)
                os.close(buffered)
            except OSError as e:
                print("process", p, "error", e.errno, flush=True)
                os._exit(1)
            os._exit(0)
        pids.append(pid)
    bad = sum(os.waitpid(pid, 0)[1] != 0 for pid in pids)
    with open(path, "rb") as f:
        d = f.read()
    wrong = 0
    for p in range(nproc):
        for k in range(rounds):
            off = (k * nproc + p) * stripe
            if d[off : off + stripe] != bytes([(p * 31 + k) % 251 + 1]) * stripe:
                wrong += 1
    print("processes failed:", bad, "stripes wrong:", wrong, "size", len(d))


if __name__ == "__main__":
    cmd, target = sys.argv[1], sys.argv[2]
    if cmd == "mixed":
        mixed(target)
    elif cmd == "dio-roundtrip":
        dio_roundtrip(target)
    elif cmd == "unaligned":
        unaligned(target)
    elif cmd == "procs":
        procs(target, int(sys.argv[3]))
    else:
        sys.exit("unknown command " + cmd)
