#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Differential POSIX tester: a lethefs mount against plain ext4.

Runs one seeded random sequence of system calls, each as one of several
users, against two directories (a plain ext4 directory and a lethefs mount),
and compares every return value and errno. After each seed it compares the
two resulting trees: names, types, modes, owners, sizes, contents, link
counts, symlink targets, xattrs and POSIX ACLs. Timestamps are compared only
right after an explicit utimensat (everything else stamps "now").

Every user runs in its own long-lived worker process (setgroups, setresgid,
setresuid), which holds that user's open descriptors for both trees; the
driver draws each operation from the seed and sends it to the worker of the
user it drew, once per tree.

Usage:
  difftest.py [options] EXT4_DIR LETHEFS_DIR       run seeds, compare
  difftest.py --compare-only EXT4_DIR LETHEFS_DIR  compare existing trees
Options:
  --seeds A-B     seeds to run (default 1-4); each in its own sub-directory
  --ops N         operations per seed (default 400)
  --users U,...   extra users besides root (names; their groups count too)
  --trace         print every operation and its result
Exit status: 0 no divergence, 1 divergences (each printed with its seed and
step, which reproduce it exactly), 2 usage.

Known, deliberate differences are not generated (see KNOWN below and
README's limitations); the run ends with how often each was avoided.
"""
import argparse
import ctypes
import errno
import grp
import hashlib
import multiprocessing
import os
import pwd
import random
import re
import stat
import struct
import sys

AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
LIBC = ctypes.CDLL(None, use_errno=True)
ACL_ACCESS, ACL_DEFAULT = "system.posix_acl_access", "system.posix_acl_default"

# ---------------------------------------------------------------------------
# The calls, as run inside a worker. Each takes the tree's root first and
# returns something comparable (never a descriptor number or an inode).


def summary(st):
    """What must agree between the trees for one object."""
    kind = stat.S_IFMT(st.st_mode)
    size = None if stat.S_ISDIR(st.st_mode) else st.st_size
    return (kind, oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid, st.st_nlink, size)


FDS = {}  # (root, handle) -> descriptor, in the worker that opened it


def c_open(root, rel, flags, mode, handle):
    fd = os.open(os.path.join(root, rel), flags | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    FDS[(root, handle)] = fd
    return summary(os.fstat(fd))


def c_close(root, handle):
    os.close(FDS.pop((root, handle)))


def c_pread(root, handle, n, off):
    return os.pread(FDS[(root, handle)], n, off)


def c_pwrite(root, handle, data, off):
    return os.pwrite(FDS[(root, handle)], data, off)


def c_write(root, handle, data):
    return os.write(FDS[(root, handle)], data)


def c_ftruncate(root, handle, n):
    os.ftruncate(FDS[(root, handle)], n)


def c_fstat(root, handle):
    return summary(os.fstat(FDS[(root, handle)]))


def c_fchmod(root, handle, mode):
    os.fchmod(FDS[(root, handle)], mode)


def c_truncate(root, rel, n):
    os.truncate(os.path.join(root, rel), n)


def c_rename(root, a, b, flags):
    if LIBC.renameat2(AT_FDCWD, os.path.join(root, a).encode(), AT_FDCWD,
                      os.path.join(root, b).encode(), flags) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def c_link(root, a, b):
    os.link(os.path.join(root, a), os.path.join(root, b), follow_symlinks=False)


def c_unlink(root, rel):
    os.unlink(os.path.join(root, rel))


def c_mkdir(root, rel, mode):
    os.mkdir(os.path.join(root, rel), mode)


def c_rmdir(root, rel):
    os.rmdir(os.path.join(root, rel))


def c_symlink(root, target, rel):
    os.symlink(target, os.path.join(root, rel))


def c_readlink(root, rel):
    return os.readlink(os.path.join(root, rel))


def c_mkfifo(root, rel, mode):
    os.mkfifo(os.path.join(root, rel), mode)


def c_chmod(root, rel, mode, follow):
    os.chmod(os.path.join(root, rel), mode, follow_symlinks=follow)


def c_chown(root, rel, uid, gid, follow):
    os.chown(os.path.join(root, rel), uid, gid, follow_symlinks=follow)


def c_utime(root, rel, ns, follow):
    p = os.path.join(root, rel)
    os.utime(p, ns=ns, follow_symlinks=follow) if ns else os.utime(p, follow_symlinks=follow)
    st = os.stat(p, follow_symlinks=follow)
    return (st.st_atime_ns, st.st_mtime_ns) if ns else None


def c_stat(root, rel, follow):
    return summary(os.stat(os.path.join(root, rel), follow_symlinks=follow))


def c_listdir(root, rel):
    return sorted(os.listdir(os.path.join(root, rel)))


def c_setxattr(root, rel, name, value, flags, follow):
    os.setxattr(os.path.join(root, rel), name, value, flags, follow_symlinks=follow)


def c_getxattr(root, rel, name, follow):
    return os.getxattr(os.path.join(root, rel), name, follow_symlinks=follow)


def c_listxattr(root, rel, follow):
    return sorted(os.listxattr(os.path.join(root, rel), follow_symlinks=follow))


def c_removexattr(root, rel, name, follow):
    os.removexattr(os.path.join(root, rel), name, follow_symlinks=follow)


def c_umask(root, mask):
    os.umask(mask)


CALLS = {name[2:]: f for name, f in globals().items() if name.startswith("c_")}


def worker_loop(conn, uid, gid, groups):
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    os.umask(0o022)
    while True:
        msg = conn.recv()
        if msg is None:
            return
        root, op, args = msg
        try:
            conn.send(("ok", CALLS[op](root, *args)))
        except OSError as e:
            conn.send(("err", errno.errorcode.get(e.errno, str(e.errno))))


class Worker:
    def __init__(self, uid, gid, groups):
        self.uid = uid
        self.conn, child = multiprocessing.Pipe()
        self.pid = os.fork()
        if self.pid == 0:
            self.conn.close()
            try:
                worker_loop(child, uid, gid, groups)
            finally:
                os._exit(0)
        child.close()

    def call(self, root, op, args):
        self.conn.send((root, op, args))
        return self.conn.recv()

    def stop(self):
        self.conn.send(None)
        os.waitpid(self.pid, 0)


# ---------------------------------------------------------------------------
# POSIX ACLs in the kernel's xattr form: u32 version 2, then entries of
# (u16 tag, u16 perm, u32 id), sorted by tag then id.
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
NO_ID = 0xFFFFFFFF


def acl_blob(entries):
    return struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", t, p, i) for t, p, i in sorted(entries))


def random_acl(rnd, uids, gids):
    perm = lambda: rnd.randrange(8)
    e = [(USER_OBJ, perm(), NO_ID), (GROUP_OBJ, perm(), NO_ID), (OTHER, perm(), NO_ID)]
    named = [(USER, perm(), u) for u in rnd.sample(uids, rnd.randrange(3))]
    named += [(GROUP, perm(), g) for g in rnd.sample(gids, rnd.randrange(2))]
    if named or rnd.random() < 0.2:
        e += named
        if rnd.random() < 0.95:  # now and then an invalid one: no mask
            e.append((MASK, perm(), NO_ID))
    return acl_blob(e)


# ---------------------------------------------------------------------------
# The driver: draws operations from the seed.

NAMES = ["a", "b", "c", "d", "L" * 200, "M" * 255]
MODES = [0o644, 0o600, 0o755, 0o700, 0o777, 0o1777, 0o2775, 0o2777, 0o4755, 0o6755,
         0o000, 0o640, 0o444, 0o3777, 0o770, 0o775]
XATTRS = ["user.x", "user.y", "user." + "n" * 150]
OFFSETS = [0, 1, 100, 4095, 4096, 4097, 8191, 12000, 40000]
OPEN_ACCESS = [os.O_RDONLY, os.O_WRONLY, os.O_RDWR]
OPEN_FLAGS = [os.O_CREAT, os.O_EXCL, os.O_TRUNC, os.O_APPEND, os.O_DIRECTORY, os.O_NOFOLLOW]


SGID_RULE = ("set-group-ID without group-execute kept when a non-member writes or chowns "
             "(the FUSE kernel module's older rule)")


def sgid_without_gx(st):
    return st.st_mode & stat.S_ISGID and not st.st_mode & stat.S_IXGRP


def known_divergence(ext4_root, w, op, args):
    """Deliberate differences (README, limitations): the operation is not
    run, so that the trees stay comparable. Returns the reason or None."""
    if w.uid != 0 and op in ("pwrite", "write", "ftruncate"):
        res = w.call(ext4_root, "fstat", (args[0],))  # no side effect
        if res[0] == "ok" and int(res[1][1], 8) & stat.S_ISGID and not int(res[1][1], 8) & stat.S_IXGRP:
            return SGID_RULE
    if w.uid != 0 and (op in ("truncate", "chown") or (op == "open" and args[1] & os.O_TRUNC)):
        try:
            if sgid_without_gx(os.stat(os.path.join(ext4_root, args[0]))):
                return SGID_RULE
        except OSError:
            pass
    special = "POSIX ACL on a FIFO (the backing store keeps attributes in user.*)"
    if op in ("setxattr", "removexattr") and args[1] in (ACL_ACCESS, ACL_DEFAULT):
        try:
            st = os.stat(os.path.join(ext4_root, args[0]))
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                return special
        except OSError:
            pass
    if op == "mkfifo":
        try:
            os.getxattr(os.path.dirname(os.path.join(ext4_root, args[0])), ACL_DEFAULT)
            return special
        except OSError:
            pass
    if op == "rename" and not args[2] & RENAME_EXCHANGE:
        try:
            src, dst = (os.lstat(os.path.join(ext4_root, p)) for p in args[:2])
        except OSError:
            return None
        if (stat.S_ISDIR(src.st_mode) and stat.S_ISDIR(dst.st_mode) and src.st_ino != dst.st_ino
                and not os.listdir(os.path.join(ext4_root, args[1]))):
            return "rename onto an empty directory (needs the journal-based protocol)"
    return None


class Driver:
    def __init__(self, roots, workers, seed, acl, trace):
        self.roots = roots  # [ext4, lethefs]
        self.workers = workers
        self.rnd = random.Random(seed)
        self.seed = seed
        self.acl = acl
        self.trace = trace
        self.seen = ["s"]  # paths that existed at some point
        self.handles = {}  # handle -> worker
        self.next_handle = 0
        # In the users' order (not sorted by number), so that a seed draws
        # the same users whatever numbers they got when they were created.
        self.uids = [w.uid for w in workers]
        self.gids = list(dict.fromkeys(g for u in self.uids for g in groups_of(u)))
        self.avoided = {}

    def path(self):
        if self.seen and self.rnd.random() < 0.7:
            p = self.rnd.choice(self.seen)
            if self.rnd.random() < 0.3:
                p = os.path.join(p, self.rnd.choice(NAMES))
            return p
        depth = self.rnd.choice([1, 1, 2, 2, 3])
        parts = [self.rnd.choice(NAMES + ["s"])] + [self.rnd.choice(NAMES) for _ in range(depth - 1)]
        return os.path.join(*parts)

    def open_flags(self):
        f = self.rnd.choice(OPEN_ACCESS)
        for flag in OPEN_FLAGS:
            if self.rnd.random() < (0.5 if flag == os.O_CREAT else 0.2):
                f |= flag
        return f

    def data(self):
        return self.rnd.randbytes(self.rnd.choice([0, 1, 10, 100, 4096, 5000, 9000]))

    def draw(self):
        """One operation: (worker, op, args, new_path)."""
        r = self.rnd
        w = r.choice(self.workers)
        if self.handles and r.random() < 0.35:
            h = r.choice(list(self.handles))
            w = self.handles[h]
            op = r.choice(["pread", "pwrite", "pwrite", "write", "ftruncate", "fstat",
                           "fchmod", "close"])
            args = {"pread": lambda: (h, r.choice([1, 100, 5000]), r.choice(OFFSETS)),
                    "pwrite": lambda: (h, self.data(), r.choice(OFFSETS)),
                    "write": lambda: (h, self.data()),
                    "ftruncate": lambda: (h, r.choice(OFFSETS)),
                    "fstat": lambda: (h,),
                    "fchmod": lambda: (h, r.choice(MODES)),
                    "close": lambda: (h,)}[op]()
            return w, op, args, None
        p, q = self.path(), self.path()
        follow = r.random() < 0.5
        choices = [
            ("open", 12, lambda: (p, self.open_flags(), r.choice(MODES), self.next_handle)),
            ("mkdir", 6, lambda: (p, r.choice(MODES))),
            ("rmdir", 2, lambda: (p,)),
            ("unlink", 3, lambda: (p,)),
            ("rename", 5, lambda: (p, q, r.choice([0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE]))),
            ("link", 2, lambda: (p, q)),
            ("symlink", 3, lambda: (r.choice(["a", "../b", "s/c", "/nonexistent-lfspx/x",
                                              "x" * r.choice([1, 100, 3000, 4095])]), p)),
            ("readlink", 1, lambda: (p,)),
            ("mkfifo", 1, lambda: (p, r.choice(MODES))),
            ("truncate", 2, lambda: (p, r.choice(OFFSETS))),
            ("chmod", 3, lambda: (p, r.choice(MODES), True)),
            ("chown", 3, lambda: (p, r.choice(self.uids + [-1]), r.choice(self.gids + [-1]), follow)),
            ("utime", 2, lambda: (p, r.choice([None, (r.randrange(1 << 40), r.randrange(1 << 40))]), follow)),
            ("stat", 3, lambda: (p, follow)),
            ("listdir", 1, lambda: (p,)),
            ("setxattr", 3, lambda: (p, r.choice(XATTRS), r.randbytes(r.choice([0, 5, 200])),
                                     r.choice([0, 0, os.XATTR_CREATE, os.XATTR_REPLACE]), follow)),
            ("getxattr", 2, lambda: (p, r.choice(XATTRS), follow)),
            ("listxattr", 1, lambda: (p, follow)),
            ("removexattr", 1, lambda: (p, r.choice(XATTRS), follow)),
            ("umask", 1, lambda: (r.choice([0o022, 0o002, 0o077, 0]),)),
        ]
        if self.acl:
            choices += [
                ("setxattr", 6, lambda: (p, r.choice([ACL_ACCESS, ACL_DEFAULT]),
                                         random_acl(r, self.uids, self.gids), 0, True)),
                ("getxattr", 3, lambda: (p, r.choice([ACL_ACCESS, ACL_DEFAULT]), True)),
                ("removexattr", 1, lambda: (p, r.choice([ACL_ACCESS, ACL_DEFAULT]), True)),
            ]
        op, _, make = r.choices(choices, weights=[c[1] for c in choices])[0]
        args = make()
        new = p if op in ("open", "mkdir", "symlink", "mkfifo") else q if op in ("rename", "link") else None
        return w, op, args, new

    def step(self, i):
        w, op, args, new = self.draw()
        why = known_divergence(self.roots[0], w, op, args)
        if why:
            self.avoided[why] = self.avoided.get(why, 0) + 1
            return True
        res = [w.call(root, op, args) for root in self.roots]
        if self.trace:
            print(f"  {i}: uid {w.uid} {op}{short(args)} -> {short(res[0])}")
        if op == "open":
            self.next_handle += 1
            if res[0][0] == "ok" and res[1][0] == "ok":
                self.handles[args[3]] = w
        if op == "close":
            self.handles.pop(args[0], None)
        if new and res[0][0] == "ok" and new not in self.seen:
            self.seen.append(new)
        if res[0] != res[1]:
            print(f"DIVERGENCE seed {self.seed} step {i}: uid {w.uid} {op}{short(args)}\n"
                  f"    ext4:    {short(res[0])}\n    lethefs: {short(res[1])}")
            return False
        return True

    def close_all(self):
        for h, w in self.handles.items():
            for root in self.roots:
                w.call(root, "close", (h,))
        self.handles.clear()


def short(x):
    s = re.sub(r"(.)\1{9,}", lambda m: f"{m.group(1)}{{{len(m.group(0))}}}", repr(x))
    return s if len(s) < 160 else s[:150] + f"...({len(s)} chars)"


def groups_of(uid):
    if uid == 0:
        return [0]
    pw = pwd.getpwuid(uid)
    return os.getgrouplist(pw.pw_name, pw.pw_gid)


# ---------------------------------------------------------------------------
# Tree comparison (as root, in the driver).


def describe(root):
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in [""] + dirs + files:
            p = os.path.join(dirpath, name) if name else dirpath
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            d = {"stat": summary(st)}
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    d["sha256"] = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                d["target"] = os.readlink(p)
            try:
                names = sorted(os.listxattr(p, follow_symlinks=False))
                d["xattrs"] = {n: os.getxattr(p, n, follow_symlinks=False) for n in names}
            except OSError as e:
                d["xattrs"] = errno.errorcode[e.errno]
            out[rel] = d
    return out


def compare_trees(a_root, b_root, label):
    a, b = describe(a_root), describe(b_root)
    bad = 0
    for rel in sorted(set(a) | set(b)):
        if a.get(rel) != b.get(rel):
            bad += 1
            print(f"TREE DIVERGENCE {label} at {rel!r}:\n    ext4:    {short(a.get(rel))}\n"
                  f"    lethefs: {short(b.get(rel))}")
    return bad, len(a)


def acl_supported(root):
    try:
        os.getxattr(root, ACL_ACCESS)
    except OSError as e:
        return e.errno != errno.EOPNOTSUPP
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ext4")
    ap.add_argument("lethefs")
    ap.add_argument("--seeds", default="1-4")
    ap.add_argument("--ops", type=int, default=400)
    ap.add_argument("--users", default="")
    ap.add_argument("--trace", action="store_true")
    ap.add_argument("--compare-only", action="store_true")
    o = ap.parse_args()
    lo, _, hi = o.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    roots = [os.path.abspath(o.ext4), os.path.abspath(o.lethefs)]
    if o.compare_only:
        bad, n = compare_trees(*roots, "after remount")
        print(f"compared {n} objects: {bad} divergence(s)")
        return 1 if bad else 0
    # Absolute symlink targets must lead nowhere, in both trees alike.
    assert not os.path.lexists("/nonexistent-lfspx"), "/nonexistent-lfspx must not exist"
    uids = [0] + [pwd.getpwnam(u).pw_uid for u in o.users.split(",") if u]
    workers = [Worker(u, pwd.getpwuid(u).pw_gid, groups_of(u)) for u in uids]
    acl = acl_supported(roots[1])
    if not acl:
        print("note: the lethefs mount refuses ACLs (EOPNOTSUPP): ACL operations not drawn")
    total_ops = total_bad = 0
    avoided = {}
    try:
        for seed in seeds:
            # Operations run in seed-N/w, so that a relative symlink
            # target ("../b") stays inside seed-N and seeds stay independent.
            seed_dirs = [os.path.join(r, f"seed-{seed}") for r in roots]
            seed_roots = [os.path.join(r, "w") for r in seed_dirs]
            for r in seed_dirs + seed_roots:
                os.mkdir(r, 0o777)
                os.chmod(r, 0o777)
            for r in seed_roots:
                os.mkdir(os.path.join(r, "s"), 0o1777)
                os.chmod(os.path.join(r, "s"), 0o1777)
            d = Driver(seed_roots, workers, seed, acl, o.trace)
            ok = True
            for i in range(o.ops):
                total_ops += 1
                if not d.step(i):
                    ok = False
                    break
            for w in workers:  # back to the default for the next seed
                for r in seed_roots:
                    w.call(r, "umask", (0o022,))
            d.close_all()
            for k, v in d.avoided.items():
                avoided[k] = avoided.get(k, 0) + v
            bad, n = compare_trees(*seed_dirs, f"seed {seed}") if ok else (1, 0)
            total_bad += bad
            print(f"seed {seed}: {i + 1} operations, {n} objects compared, "
                  f"{'OK' if not bad else 'DIVERGED'}")
    finally:
        for w in workers:
            w.stop()
    for why, n in avoided.items():
        print(f"avoided {n}x (known difference): {why}")
    print(f"{len(seeds)} seeds, {total_ops} operations as uids {uids}: "
          f"{total_bad} divergence(s)")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())
