#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Differential workload for rotations (docs/ROTATION.md, "Operations
during a rotation"): the same random name and content operations on a
directory of the mount and on one of a plain file system, until a stop
file appears; every call's outcome (errno or result, bytes read, names
listed, xattrs) must be the same on both, then the whole trees.

Usage: rot_attack.py STOPFILE SEED MOUNTDIR REFDIR
MOUNTDIR and REFDIR are created. Prints the number of operations; exits 1
at the first difference, naming the operation and both outcomes."""
import ctypes
import errno
import os
import random
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
AT_FDCWD = -100


def renameat2(a, b, flags):
    if LIBC.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), a)


class Differ(Exception):
    pass


def outcome(fn):
    try:
        return ("ok", fn())
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))


class Attack:
    def __init__(self, seed, mnt, ref):
        self.r = random.Random(seed)
        self.roots = (mnt, ref)
        self.ops = 0
        self.log = []
        # Short and long (sidecar) names; a pool small enough to collide.
        self.names = [f"n{i}" for i in range(8)]
        self.names += ["L%d-" % i + "x" * (190 + 10 * i) for i in range(4)]
        self.dirs = ["", "d0", "d1", "d0/e0", "d1/" + "D" * 200]
        self.xnames = ["user.a", "user.b", "user." + "k" * 120]

    def rel(self):
        d = self.r.choice(self.dirs)
        n = self.r.choice(self.names)
        return os.path.join(d, n) if d else n

    def both(self, what, fn):
        """Runs fn(root) on each tree; the outcomes must match."""
        res = [outcome(lambda root=root: fn(root)) for root in self.roots]
        self.ops += 1
        self.log.append(what)
        if len(self.log) > 30:
            self.log.pop(0)
        if res[0] != res[1]:
            raise Differ(f"{what}: mount {res[0]!r} ext4 {res[1]!r}")
        return res[0]

    def data(self):
        n = self.r.choice([0, 1, 100, 4095, 4096, 4097, 9000, 70000, 300000])
        return self.r.randbytes(n)

    # --- operations ---
    def op_create(self):
        p, b = self.rel(), self.data()

        def f(root):
            fd = os.open(os.path.join(root, p), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b)
            finally:
                os.close(fd)
        self.both(f"create {p} {len(b)}", f)

    def op_append(self):
        p, b = self.rel(), self.data()

        def f(root):
            fd = os.open(os.path.join(root, p), os.O_WRONLY | os.O_APPEND)
            try:
                return os.write(fd, b)
            finally:
                os.close(fd)
        self.both(f"append {p} {len(b)}", f)

    def op_pwrite(self):
        p, b, off = self.rel(), self.data()[:20000], self.r.randrange(0, 200000)

        def f(root):
            fd = os.open(os.path.join(root, p), os.O_WRONLY)
            try:
                return os.pwrite(fd, b, off)
            finally:
                os.close(fd)
        self.both(f"pwrite {p} {len(b)}@{off}", f)

    def op_truncate(self):
        p, n = self.rel(), self.r.choice([0, 1, 4096, 5000, 150000])
        self.both(f"truncate {p} {n}", lambda root: os.truncate(os.path.join(root, p), n))

    def op_read(self):
        p = self.rel()

        def f(root):
            with open(os.path.join(root, p), "rb") as fh:
                return fh.read()
        self.both(f"read {p}", f)

    def op_stat(self):
        p = self.rel()

        def f(root):
            st = os.lstat(os.path.join(root, p))
            t = st.st_mode & 0o170000
            return (t, st.st_size if t != 0o040000 else 0,
                    st.st_nlink if t != 0o040000 else 0)
        self.both(f"stat {p}", f)

    def op_rename(self):
        a, b = self.rel(), self.rel()
        flags = self.r.choice([0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE])
        self.both(f"rename {a} {b} {flags}",
                  lambda root: renameat2(os.path.join(root, a), os.path.join(root, b), flags))

    def op_link(self):
        a, b = self.rel(), self.rel()
        # ROT_ATTACK_FORMAT1=1: the rotation that upgrades a format-1 vault
        # makes each name of a symlink its own object (docs/FORMAT.md
        # 14.7), so no second name is given to one.
        if os.environ.get("ROT_ATTACK_FORMAT1") == "1" and \
                os.path.islink(os.path.join(self.roots[1], a)):
            return
        self.both(f"link {a} {b}", lambda root: os.link(os.path.join(root, a),
                                                         os.path.join(root, b)))

    def op_unlink(self):
        p = self.rel()
        self.both(f"unlink {p}", lambda root: os.unlink(os.path.join(root, p)))

    def op_mkdir(self):
        p = self.rel()
        self.both(f"mkdir {p}", lambda root: os.mkdir(os.path.join(root, p)))

    def op_rmdir(self):
        p = self.rel()
        self.both(f"rmdir {p}", lambda root: os.rmdir(os.path.join(root, p)))

    def op_symlink(self):
        p = self.rel()
        # Relative targets only: one outside the tree would let creates and
        # writes through the link reach the machine (and race the others).
        t = self.r.choice(["n1", "../d0/n2", "nowhere/x", "t" * 300, "T/" * 1500])
        self.both(f"symlink {p} ({len(t)})", lambda root: os.symlink(t, os.path.join(root, p)))

    def op_readlink(self):
        p = self.rel()
        self.both(f"readlink {p}", lambda root: os.readlink(os.path.join(root, p)))

    def op_setxattr(self):
        p, x = self.rel(), self.r.choice(self.xnames)
        v = self.r.randbytes(self.r.choice([0, 5, 300]))
        fl = self.r.choice([0, 0, os.XATTR_CREATE, os.XATTR_REPLACE])
        self.both(f"setxattr {p} {x[:10]} {fl}",
                  lambda root: os.setxattr(os.path.join(root, p), x, v, fl,
                                           follow_symlinks=False))

    def op_getxattr(self):
        p, x = self.rel(), self.r.choice(self.xnames)
        self.both(f"getxattr {p} {x[:10]}",
                  lambda root: os.getxattr(os.path.join(root, p), x, follow_symlinks=False))

    def op_removexattr(self):
        p, x = self.rel(), self.r.choice(self.xnames)
        self.both(f"removexattr {p} {x[:10]}",
                  lambda root: os.removexattr(os.path.join(root, p), x, follow_symlinks=False))

    def op_listxattr(self):
        p = self.rel()
        self.both(f"listxattr {p}", lambda root: sorted(
            x for x in os.listxattr(os.path.join(root, p), follow_symlinks=False)
            if x.startswith("user.")))

    def op_listdir(self):
        d = self.r.choice(self.dirs)
        self.both(f"listdir {d}", lambda root: sorted(os.listdir(os.path.join(root, d))))

    def op_fd(self):
        """A descriptor opened, then used after other operations (a
        conversion may come in between)."""
        p = self.rel()
        b = self.data()[:9000]
        fds = [None, None]

        def opn(root):
            fds[self.roots.index(root)] = os.open(os.path.join(root, p), os.O_RDWR)
        if self.both(f"open {p}", opn)[0] != "ok":
            return
        try:
            for _ in range(self.r.randrange(1, 6)):
                self.step()
            off = self.r.randrange(0, 10000)
            self.both(f"fd pwrite {p} {len(b)}@{off}",
                      lambda root: os.pwrite(fds[self.roots.index(root)], b, off))
            self.both(f"fd read {p}", lambda root: os.pread(fds[self.roots.index(root)],
                                                            1 << 20, 0))
        finally:
            for fd in fds:
                if fd is not None:
                    os.close(fd)

    def step(self):
        ops = [self.op_create] * 6 + [self.op_append] * 3 + [self.op_pwrite] * 2 + \
              [self.op_truncate] * 2 + [self.op_read] * 6 + [self.op_stat] * 4 + \
              [self.op_rename] * 6 + [self.op_link] * 2 + [self.op_unlink] * 3 + \
              [self.op_mkdir] * 2 + [self.op_rmdir] * 2 + [self.op_symlink] * 2 + \
              [self.op_readlink] * 2 + [self.op_setxattr] * 3 + [self.op_getxattr] * 3 + \
              [self.op_removexattr] + [self.op_listxattr] * 2 + [self.op_listdir] * 3
        self.r.choice(ops)()

    def snapshot(self, root):
        """Every path: type, size, nlink, contents, target, user xattrs."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                full = os.path.join(dirpath, n)
                st = os.lstat(full)
                t = st.st_mode & 0o170000
                rec = [t]
                if t == 0o100000:
                    with open(full, "rb") as fh:
                        rec += [st.st_nlink, fh.read()]
                elif t == 0o120000:
                    rec.append(os.readlink(full))
                if t != 0o120000:
                    rec.append(sorted((x, os.getxattr(full, x)) for x in os.listxattr(full)
                                      if x.startswith("user.")))
                out[os.path.relpath(full, root)] = rec
        return out

    def compare_trees(self):
        a, b = (self.snapshot(r) for r in self.roots)
        if a != b:
            diff = sorted(set(a) ^ set(b))[:5]
            changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])[:5]
            raise Differ(f"trees differ: only on one side {diff}, different {changed}")


def main():
    stop, seed, mnt, ref = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    at = Attack(seed, mnt, ref)
    for root in at.roots:
        os.makedirs(root)
        for d in at.dirs[1:]:
            os.mkdir(os.path.join(root, d))
    try:
        # A first population, so that the rotation has names to move.
        for _ in range(150):
            at.op_create()
            at.op_symlink()
            at.op_setxattr()
        while not os.path.exists(stop):
            at.step()
        at.compare_trees()
    except Differ as e:
        print(f"after {at.ops} operations: {e}", flush=True)
        print("last operations: " + "; ".join(at.log), flush=True)
        return 1
    print(at.ops, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
