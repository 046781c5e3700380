#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compares two trees field by field, as an archiver must preserve them:
type, mode (set-id and sticky bits included), owner, size, contents,
modification time to the nanosecond, symlink targets, device numbers, user.*
xattrs, POSIX ACLs and hard-link groups. Prints every difference; exit 1 if there is any.

  treecmp.py SRC DST [--allow FILE] [--keys]

With --keys, prints "path<TAB>field" per difference (no details). With
--allow FILE, differences whose key is listed in FILE (the same copy made on
a plain directory, which shows what the tool itself does not keep) are
reported but not counted.
"""
import hashlib
import os
import stat
import sys


def walk(top):
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, top)] = p
    return out


def xattrs(p):
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError:
        return {}
    return {n: os.getxattr(p, n, follow_symlinks=False) for n in sorted(names) if n.startswith("user.")}


def acls(p, st):
    """POSIX ACLs as the kernel hands them out (access, and default on a
    directory); symlinks and special files have none here."""
    out = {}
    if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
        for n in ("system.posix_acl_access", "system.posix_acl_default"):
            try:
                out[n] = os.getxattr(p, n)
            except OSError:
                pass
    return out


def digest(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def describe(p):
    st = os.lstat(p)
    d = {
        "acl": acls(p, st),
        "type": stat.S_IFMT(st.st_mode),
        "mode": oct(stat.S_IMODE(st.st_mode)),
        "owner": (st.st_uid, st.st_gid),
        "xattrs": xattrs(p),
    }
    d["mtime_ns"] = st.st_mtime_ns
    if stat.S_ISLNK(st.st_mode):
        d["target"] = os.readlink(p)
        del d["mode"]  # Linux ignores symlink modes
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        d["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
    elif stat.S_ISREG(st.st_mode):
        d["size"] = st.st_size
        d["sha256"] = digest(p)
    return d, (st.st_dev, st.st_ino), st


def links(tree):
    groups = {}
    for rel, p in tree.items():
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            groups.setdefault((st.st_dev, st.st_ino), []).append(rel)
    return sorted(sorted(g) for g in groups.values())


def main():
    src, dst = sys.argv[1], sys.argv[2]
    keys_only = "--keys" in sys.argv
    allowed = set()
    if "--allow" in sys.argv:
        with open(sys.argv[sys.argv.index("--allow") + 1]) as f:
            allowed = set(line.rstrip("\n") for line in f)
    a, b = walk(src), walk(dst)
    diffs = []  # (key, detail)
    for rel in sorted(set(a) | set(b)):
        if rel not in b or rel not in a:
            diffs.append(("%s\tpresence" % rel, "missing" if rel not in b else "extra"))
            continue
        da, _, sta = describe(a[rel])
        db, _, stb = describe(b[rel])
        for k in sorted(set(da) | set(db)):
            if da.get(k) != db.get(k):
                diffs.append(("%s\t%s" % (rel, k), "%r != %r" % (da.get(k), db.get(k))))
        if rel == "sparse" and stb.st_blocks * 512 >= stb.st_size // 2:
            diffs.append(("%s\tsparse" % rel, "%d blocks in the copy" % stb.st_blocks))
    if links(a) != links(b):
        diffs.append(("\thardlinks", "%r != %r" % (links(a), links(b))))
    counted = 0
    for key, detail in diffs:
        if keys_only:
            print(key)
            continue
        ok = key in allowed
        counted += not ok
        print("%s %r: %s" % ("(as on ext4)" if ok else "DIFF", key, detail))
    if not keys_only:
        print("%d entries compared, %d differences, %d of them also on ext4" %
              (len(a), len(diffs), len(diffs) - counted))
    sys.exit(1 if counted and not keys_only else 0)


if __name__ == "__main__":
    main()
