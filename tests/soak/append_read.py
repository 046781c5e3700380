#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A reader-versus-appender race check, on its own (the soak's readers do
this among much else): one process appends position-determined bytes to
FILE with fsync after each write (past 8 MiB in pieces of at most 4 KiB, so
that the last page is extended again and again); readers read at arbitrary
offsets, or with --reopen the whole file as the soak does, and check every
byte they get. Reads that overlap a truncate (--truncate) are not judged.
Prints each wrong read (and whether the write covering it had returned
when the read began); exit 1 if any.

usage: append_read.py FILE SECONDS [--readers N] [--whole] [--reopen] [--truncate]

Found with it (docs/DESIGN.md, known gaps): without the writeback cache, a
read racing a write that has not returned may see zeros in that write's
range, on libfuse's passthrough_ll as on lethefs; never on ext4."""
import argparse, multiprocessing as mp, os, random, sys, time

CH = 4096
GROW = 8 << 20   # past this, small appends: the last page is extended again and again
SMALL = 4096
def chunk(i):
    return random.Random("s/%d" % i).randbytes(CH)
_cache = {}
def stream(off, n):
    out = bytearray(); pos = off; end = off + n
    while pos < end:
        i, w = divmod(pos, CH)
        c = _cache.get(i)
        if c is None:
            c = _cache[i] = chunk(i)
        t = min(CH - w, end - pos)
        out += c[w:w + t]; pos += t
    return bytes(out)

def appender(path, secs, acked, gen, trunc, seed, written):
    rnd = random.Random(seed)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    end = time.monotonic() + secs
    n_app = 0
    while time.monotonic() < end:
        a = acked.value
        if trunc and a > 65536 and rnd.random() < 0.05:
            new = rnd.randrange(a - 65536, a)
            with gen.get_lock():
                gen.value += 1
            acked.value = new
            os.ftruncate(fd, new); os.fsync(fd)
            with gen.get_lock():
                gen.value += 1
            continue
        if a > (64 << 20):
            with gen.get_lock(): gen.value += 1
            acked.value = 0; written.value = 0
            os.ftruncate(fd, 0); os.fsync(fd)
            with gen.get_lock(): gen.value += 1
            continue
        lim = SMALL if a >= GROW else rnd.choice([100, 4096, 5000, 70000, 300000])
        n = rnd.randrange(1, lim + 1)
        w = os.pwrite(fd, stream(a, n), a)
        written.value = a + w
        os.fsync(fd)
        acked.value = a + w
        n_app += 1
    os.close(fd)
    print("appends", n_app, file=sys.stderr)

def reader(path, secs, acked, gen, whole, seed, bad, reopen=False, written=None):
    rnd = random.Random(seed)
    end = time.monotonic() + secs
    fd = -1
    reads = 0
    while time.monotonic() < end:
        if fd < 0:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
        g0 = gen.value
        w0 = written.value
        a0 = acked.value
        if reopen:
            with open(path, "rb") as f:
                data = f.read()
            off = 0; n = max(len(data), a0)
        elif whole:
            off = 0; n = a0 + 400000
        else:
            off = rnd.randrange(0, a0 + 1) if a0 else 0
            n = rnd.choice([1, 100, 4096, 5000, 70000, 300000])
            if rnd.random() < 0.5:
                off = max(0, a0 - rnd.randrange(0, 8192))
        if not reopen:
            data = os.pread(fd, n, off)
        g1 = gen.value
        if g0 != g1 or g0 % 2:
            continue   # a truncate raced this read
        reads += 1
        exp = stream(off, len(data))
        if data != exp:
            i = next(k for k in range(len(data)) if data[k] != exp[k])
            j = i
            while j < len(data) and data[j] != exp[j]: j += 1
            zeros = not data[i:j].strip(b"\0")
            msg = ("read off=%d n=%d got=%d: %s at %d..%d (acked %d, write returned up to %d at read start; acked now %d)%s" %
                   (off, n, len(data), "zeros" if zeros else "other bytes", off + i, off + j, a0, w0, acked.value,
                    "  <== AFTER THE WRITE RETURNED" if off + i < w0 else ""))
            print(msg, flush=True)
            with bad.get_lock(): bad.value += 1
        elif off + len(data) < min(a0, off + n):
            print("short read off=%d n=%d got=%d acked %d" % (off, n, len(data), a0), flush=True)
            with bad.get_lock(): bad.value += 1
        if rnd.random() < 0.01:
            os.close(fd); fd = -1
    print("reads", reads, file=sys.stderr)

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("file"); ap.add_argument("secs", type=float)
    ap.add_argument("--readers", type=int, default=2)
    ap.add_argument("--whole", action="store_true")
    ap.add_argument("--truncate", action="store_true")
    ap.add_argument("--reopen", action="store_true", help="open, read the whole file with Python's read(), close: as the soak's readers")
    a = ap.parse_args()
    acked = mp.Value("q", 0, lock=False); written = mp.Value("q", 0, lock=False)
    gen = mp.Value("q", 0); bad = mp.Value("q", 0)
    ps = [mp.Process(target=appender, args=(a.file, a.secs, acked, gen, a.truncate, 1, written))]
    ps += [mp.Process(target=reader, args=(a.file, a.secs, acked, gen, a.whole, 10 + i, bad, a.reopen, written)) for i in range(a.readers)]
    for p in ps: p.start()
    for p in ps: p.join()
    print("bad", bad.value)
    sys.exit(1 if bad.value else 0)
