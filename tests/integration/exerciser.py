#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Seeded random-operation exerciser.

Applies the same random sequence of writes, truncates, renames, links,
unlinks, mkdirs and mmap writes to two trees (the lethefs mount and a plain
reference directory), then compares every file's contents, size and type.
Usage: exerciser.py MOUNT REFERENCE SEED STEPS
"""
import hashlib
import mmap
import os
import random
import sys


def walk(root):
    out = {}
    for dirpath, dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        out[rel] = ("dir",)
        for name in files:
            p = os.path.join(dirpath, name)
            r = os.path.normpath(os.path.join(rel, name))
            if os.path.islink(p):
                out[r] = ("link", os.readlink(p))
            else:
                with open(p, "rb") as f:
                    out[r] = ("file", os.path.getsize(p), hashlib.sha256(f.read()).hexdigest())
    return out


def drop_caches():
    """Makes the comparison read through the daemon, not the page cache."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
    except OSError:
        pass


class Exerciser:
    def __init__(self, roots, seed):
        self.roots = roots
        self.rnd = random.Random(seed)
        self.files = []
        self.dirs = ["."]

    def name(self):
        n = self.rnd.choice(["a", "b", "données", "x" * self.rnd.randrange(1, 240), "f"])
        return f"{n}{self.rnd.randrange(1000)}"

    def both(self, fn):
        """Runs fn on each root; both must raise the same error or none."""
        errs = []
        for root in self.roots:
            try:
                fn(root)
                errs.append(None)
            except OSError as e:
                errs.append(e.errno)
        if errs[0] != errs[1]:
            raise AssertionError(f"errno differs: mount {errs[0]} reference {errs[1]}")
        return errs[0] is None

    def op_create(self):
        path = os.path.join(self.rnd.choice(self.dirs), self.name())
        data = self.rnd.randbytes(self.rnd.choice([0, 1, 100, 4095, 4096, 4097, 20000]))
        def f(root):
            with open(os.path.join(root, path), "wb") as fh:
                fh.write(data)
        if self.both(f):
            self.files.append(path)

    def op_write(self):
        if not self.files:
            return
        path = self.rnd.choice(self.files)
        off = self.rnd.randrange(0, 70000)
        data = self.rnd.randbytes(self.rnd.randrange(1, 12000))
        def f(root):
            fd = os.open(os.path.join(root, path), os.O_WRONLY)
            try:
                os.pwrite(fd, data, off)
            finally:
                os.close(fd)
        self.both(f)

    def op_append(self):
        if not self.files:
            return
        path = self.rnd.choice(self.files)
        data = self.rnd.randbytes(self.rnd.randrange(1, 6000))
        def f(root):
            with open(os.path.join(root, path), "ab") as fh:
                fh.write(data)
        self.both(f)

    def op_truncate(self):
        if not self.files:
            return
        path = self.rnd.choice(self.files)
        size = self.rnd.choice([0, 1, 4095, 4096, 4097, self.rnd.randrange(0, 90000)])
        self.both(lambda root: os.truncate(os.path.join(root, path), size))

    def op_mmap(self):
        if not self.files:
            return
        path = self.rnd.choice(self.files)
        def f(root):
            p = os.path.join(root, path)
            size = os.path.getsize(p)
            if size == 0:
                return
            off = self.rnd_state_off % size
            with open(p, "r+b") as fh:
                mm = mmap.mmap(fh.fileno(), size)
                n = min(len(self.mm_data), size - off)
                mm[off:off + n] = self.mm_data[:n]
                mm.flush()
                mm.close()
        self.rnd_state_off = self.rnd.randrange(1 << 30)
        self.mm_data = self.rnd.randbytes(self.rnd.randrange(1, 9000))
        self.both(f)

    def op_rename(self):
        if not self.files:
            return
        src = self.rnd.choice(self.files)
        dst = os.path.join(self.rnd.choice(self.dirs), self.name())
        if self.both(lambda root: os.rename(os.path.join(root, src), os.path.join(root, dst))):
            self.files.remove(src)
            if dst not in self.files:
                self.files.append(dst)

    def op_link(self):
        if not self.files:
            return
        src = self.rnd.choice(self.files)
        dst = os.path.join(self.rnd.choice(self.dirs), self.name())
        if self.both(lambda root: os.link(os.path.join(root, src), os.path.join(root, dst))):
            self.files.append(dst)

    def op_unlink(self):
        if not self.files:
            return
        path = self.rnd.choice(self.files)
        if self.both(lambda root: os.unlink(os.path.join(root, path))):
            self.files.remove(path)

    def op_mkdir(self):
        path = os.path.join(self.rnd.choice(self.dirs), "d" + self.name())
        if self.both(lambda root: os.mkdir(os.path.join(root, path))):
            self.dirs.append(path)

    def step(self):
        if os.environ.get("EXERCISER_TRACE"):
            st = self.rnd.getstate()
            op = self.rnd.choice(self._ops())
            self.rnd.setstate(st)
            print("op", op.__name__, file=sys.stderr)
        self.rnd.choice(self._ops())()

    def _ops(self):
        return [self.op_create] * 3 + [self.op_write] * 5 + [self.op_append] * 2 + \
              [self.op_truncate] * 2 + [self.op_mmap] * 2 + [self.op_rename, self.op_link,
                                                              self.op_unlink, self.op_mkdir]


def main():
    mount, ref, seed, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ex = Exerciser([mount, ref], seed)
    for i in range(steps):
        ex.step()
        if i % 200 == 199 or i == steps - 1:
            drop_caches()
            a, b = walk(mount), walk(ref)
            if a != b:
                for k in sorted(set(a) | set(b)):
                    if a.get(k) != b.get(k):
                        print(f"step {i}: {k}: mount {a.get(k)} reference {b.get(k)}")
                return 1
    print(f"seed {seed}: {steps} operations, trees identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
