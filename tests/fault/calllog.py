# SPDX-License-Identifier: Apache-2.0
"""The shim's call log (LFS_FAULT_LOG) as objects, and backing paths shown
as the plaintext paths they belong to (docs/TESTING.md)."""

import os


class Call:
    def __init__(self, line):
        f = line.rstrip("\n").split("\t")
        while len(f) < 7:
            f.append("")
        self.pid, self.n, self.kind, self.func, self.path, self.detail, self.outcome = (
            f[0], int(f[1]), f[2], f[3], f[4], f[5], f[6])


def read_calls(path):
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        return [Call(l) for l in f if l.strip() and not l.startswith("#")]


class Names:
    """Backing path -> plaintext path, learnt from inode numbers, so that a
    report says "/keep/b.txt" rather than an encrypted name."""

    def __init__(self):
        self.map = {"d": ""}

    def learn(self, vault, mnt):
        by_ino = {}
        for dirpath, dirs, files in os.walk(mnt):
            for n in dirs + files:
                p = os.path.join(dirpath, n)
                try:
                    by_ino[os.lstat(p).st_ino] = "/" + os.path.relpath(p, mnt)
                except OSError:
                    pass
        for top in ("d", "staging"):
            for dirpath, dirs, files in os.walk(os.path.join(vault, top)):
                for n in dirs + files:
                    p = os.path.join(dirpath, n)
                    try:
                        ino = os.lstat(p).st_ino
                    except OSError:
                        continue
                    if ino in by_ino:
                        self.map[os.path.relpath(p, vault)] = by_ino[ino]

    def show(self, path):
        """The path with its longest known prefix replaced by plaintext."""
        parts = path.split("/")
        for i in range(len(parts), 0, -1):
            pre = "/".join(parts[:i])
            if pre in self.map:
                rest = [abbrev(x) for x in parts[i:]]
                plain = "/".join(abbrev(x) for x in (self.map[pre] or "").split("/"))
                return (plain + "/" + "/".join(rest)) if rest else (plain or "/")
        return "/".join(abbrev(x) for x in parts)


def abbrev(name):
    return name if len(name) <= 24 else name[:18] + "..."


def describe_call(c, names):
    if c is None:
        return "?"
    s = "%s %s %s" % (c.kind, c.func, names.show(c.path) if c.path else "VAULT")
    if c.detail.startswith("-> "):
        s += " -> " + names.show(c.detail[3:])
    elif c.detail:
        s += " (%s)" % c.detail
    return s
