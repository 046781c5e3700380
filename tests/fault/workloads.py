# SPDX-License-Identifier: Apache-2.0
"""The workloads of the random kills (tests/fault/kills.py, docs/TESTING.md).
Each has a setup (through the mount, before the first kill), a worker (a
process writing through the mount until the daemon dies, logging what it was
told is durable to files outside the vault) and a verifier of everything
acknowledged, run through the remounted vault."""

import collections
import errno
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import states  # noqa: E402


def ack(sdir, name, text):
    """Appends one acknowledgement line outside the vault."""
    with open(os.path.join(sdir, name), "a") as f:
        f.write(text + "\n")
        f.flush()


def acked(sdir, name):
    p = os.path.join(sdir, name)
    if not os.path.exists(p):
        return []
    with open(p) as f:
        lines = f.read().split("\n")
    return [l for l in lines[:-1] if l]  # a torn last line was never acknowledged


def payload(seed, n):
    return random.Random(str(seed)).randbytes(n)


# --- tar ---------------------------------------------------------------------------

def make_tree(root, seed, nfiles=160, empty_xattrs=True):
    """A tree of files of many sizes (0 to 400 KB), directories, symlinks, a
    hard link, user xattrs and a 200-byte name. empty_xattrs=False keeps
    xattrs off empty files (rotation loses those today: a known finding of
    its own, rotate-empty-xattr in the sweep)."""
    rnd = random.Random(seed)
    os.makedirs(root)
    dirs = [root]
    for i in range(16):
        d = os.path.join(rnd.choice(dirs), "d%02d" % i)
        os.mkdir(d)
        dirs.append(d)
    sizes = [0, 1, 4095, 4096, 4097, 8192, 50004, 131072, 300001]
    for i in range(nfiles):
        size = sizes[i] if i < len(sizes) else rnd.choice(
            [rnd.randrange(0, 4096), rnd.randrange(4096, 70000), rnd.randrange(70000, 400000)])
        p = os.path.join(root if i < 3 else rnd.choice(dirs), "f%03d" % i)
        with open(p, "wb") as f:
            f.write(payload((seed, i), size))
        if i % 17 == 0 and (size or empty_xattrs):
            os.setxattr(p, "user.tag", b"file %d" % i)
    os.symlink("f000", os.path.join(root, "s-rel"))
    os.symlink("/nonexistent/target", os.path.join(dirs[3], "s-abs"))
    os.link(os.path.join(root, "f000"), os.path.join(dirs[2], "hard"))
    long = "n" * 200
    with open(os.path.join(dirs[4], long), "wb") as f:
        f.write(b"long name")


def subtree(snap, prefix):
    """Entries of a snapshot below prefix, keyed relative to it (the top
    directory's own entry left out)."""
    out = {}
    pre = prefix.rstrip("/") + "/"
    for p, e in snap.items():
        if p.startswith(pre) and len(p) > len(pre):
            out[p[len(pre) - 1:]] = e
    return out


class Tar:
    name = "tar"

    def setup(self, ctx):
        src = os.path.join(ctx.sdir, "src")
        make_tree(src, 7)
        subprocess.run(["tar", "--xattrs", "--xattrs-include=user.*", "-cf",
                        os.path.join(ctx.sdir, "tree.tar"), "-C", src, "."], check=True)
        ctx.manifest = subtree(states.snapshot(src), "/")
        os.mkdir(os.path.join(ctx.mnt, "tar"))

    @staticmethod
    def worker(mnt, sdir):
        r = len(acked(sdir, "tar.started"))
        while True:
            r += 1
            d = os.path.join(mnt, "tar", "r%04d" % r)
            ack(sdir, "tar.started", str(r))
            os.mkdir(d)
            subprocess.run(["tar", "--xattrs", "--xattrs-include=user.*", "-xf",
                            os.path.join(sdir, "tree.tar"), "-C", d], check=True)
            subprocess.run(["sync", "-f", d], check=True)
            ack(sdir, "tar.acked", str(r))
            # Keep the vault small: drop the round before the previous one.
            old = os.path.join(mnt, "tar", "r%04d" % (r - 2))
            if os.path.exists(old):
                ack(sdir, "tar.removing", str(r - 2))
                shutil.rmtree(old)

    def verify(self, ctx, snap):
        out = []
        removing = set(acked(ctx.sdir, "tar.removing"))
        done = [r for r in acked(ctx.sdir, "tar.acked") if r not in removing]
        for r in done:
            got = subtree(snap.tree, "/tar/r%04d" % int(r))
            if got != ctx.manifest:
                diffs = states.diff(got, ctx.manifest)
                out.append(("LOSS", "tar round %s (synced) differs: %s" % (
                    r, "; ".join(diffs[:3]))))
        return out, "%d synced rounds checked" % len(done)


# --- sqlite ------------------------------------------------------------------------

class Sqlite:
    def __init__(self, mode):
        self.mode = mode
        self.name = "sqlite-" + mode.lower()

    def setup(self, ctx):
        pass

    @staticmethod
    def open(mnt, mode):
        db = sqlite3.connect(os.path.join(mnt, "db-%s.sqlite" % mode.lower()),
                             isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=%s" % mode)
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB, "
                   "crc INTEGER)")
        return db

    @staticmethod
    def worker(mnt, sdir, mode):
        db = Sqlite.open(mnt, mode)
        name = "sqlite-%s.acked" % mode.lower()
        last = db.execute("SELECT max(id) FROM t").fetchone()[0] or 0
        rnd = random.Random(last)
        i = last
        while True:
            batch = 20 if rnd.random() < 0.1 else 1
            db.execute("BEGIN")
            ids = []
            for _ in range(batch):
                i += 1
                body = payload(i, rnd.choice([10, 300, 3000, 9000]))
                db.execute("INSERT INTO t VALUES (?, ?, ?)", (i, body, zlib.crc32(body)))
                ids.append(i)
            db.execute("COMMIT")
            ack(sdir, name, " ".join(map(str, ids)))

    def verify(self, ctx, snap):
        out = []
        path = os.path.join(ctx.mnt, "db-%s.sqlite" % self.mode.lower())
        ids = [int(x) for l in acked(ctx.sdir, "sqlite-%s.acked" % self.mode.lower())
               for x in l.split()]
        if not ids:
            return out, "nothing acknowledged yet"
        db = None
        try:
            db = sqlite3.connect(path, isolation_level=None, timeout=30)
            res = db.execute("PRAGMA integrity_check").fetchall()
            if res != [("ok",)]:
                out.append(("LOSS", "sqlite %s: integrity_check: %s" % (
                    self.mode, "; ".join(r[0] for r in res[:3]))))
            rows = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, body, crc FROM t")}
        except sqlite3.Error as e:
            out.append(("LOSS", "sqlite %s: %s (%d rows were committed)" % (
                self.mode, e, len(ids))))
            return out, ""
        finally:
            if db is not None:
                db.close()  # an open database would keep the mount busy
        missing = [i for i in ids if i not in rows]
        bad = [i for i in ids if i in rows and (rows[i][1] != zlib.crc32(rows[i][0]) or
                                                  rows[i][0] != payload(i, len(rows[i][0])))]
        if missing:
            out.append(("LOSS", "sqlite %s: %d committed rows missing (first %d)" % (
                self.mode, len(missing), missing[0])))
        if bad:
            out.append(("LOSS", "sqlite %s: %d committed rows damaged (first %d)" % (
                self.mode, len(bad), bad[0])))
        return out, "%d committed rows checked" % len(ids)


# --- append + fsync ----------------------------------------------------------------

def record(seq, body):
    head = b"%08d %06d " % (seq, len(body))
    return head + body + b" %08x\n" % zlib.crc32(head + body)


def parse_records(data):
    """(records {seq: body}, error or None) of an append log; a partial last
    record (never acknowledged) is not an error."""
    recs = {}
    pos = 0
    while pos < len(data):
        head = data[pos:pos + 16]
        if len(head) < 16:
            return recs, None
        try:
            seq, n = int(head[:8]), int(head[9:15])
        except ValueError:
            return recs, "garbage at offset %d" % pos
        end = pos + 16 + n + 10
        if end > len(data):
            return recs, None
        body = data[pos + 16:pos + 16 + n]
        if data[pos + 16 + n:end] != b" %08x\n" % zlib.crc32(head + body):
            return recs, "bad checksum at offset %d (record %d)" % (pos, seq)
        recs[seq] = body
        pos = end
    return recs, None


class Append:
    name = "append"
    FILES = ("a", "b", "c")

    def setup(self, ctx):
        os.mkdir(os.path.join(ctx.mnt, "log"))

    @staticmethod
    def worker(mnt, sdir):
        # Each run starts a fresh range of numbers: records written but not
        # acknowledged before a kill keep theirs.
        seq = (len(acked(sdir, "append.started")) + 1) * 1000000
        rnd = random.Random(seq)
        fds = {f: os.open(os.path.join(mnt, "log", f), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
               for f in Append.FILES}
        ack(sdir, "append.started", "x")
        while True:
            seq += 1
            f = Append.FILES[seq % 3]
            body = payload(seq, rnd.choice([1, 37, 500, 4000, 4096, 9000]))
            os.write(fds[f], record(seq, body))
            os.fsync(fds[f])
            ack(sdir, "append.acked", "%s %d" % (f, seq))

    def verify(self, ctx, snap):
        out = []
        want = collections.defaultdict(list)
        for l in acked(ctx.sdir, "append.acked"):
            f, seq = l.split()
            want[f].append(int(seq))
        n = 0
        for f in self.FILES:
            p = os.path.join(ctx.mnt, "log", f)
            try:
                with open(p, "rb") as fh:
                    data = fh.read()
            except OSError as e:
                if want[f]:
                    out.append(("LOSS", "append log %s: %s" % (f, e)))
                continue
            recs, err = parse_records(data)
            if err:
                out.append(("LOSS", "append log %s: %s" % (f, err)))
            for s in want[f]:
                n += 1
                if s not in recs or recs[s] != payload(s, len(recs[s])):
                    out.append(("LOSS", "append log %s: fsync'd record %d missing or "
                                "damaged" % (f, s)))
                    break
        return out, "%d fsync'd records checked" % n


# --- rotation --------------------------------------------------------------------------

class Rotate:
    name = "rotate"

    def setup(self, ctx):
        src = os.path.join(ctx.sdir, "src")
        make_tree(src, 11, nfiles=120, empty_xattrs=False)
        subprocess.run(["cp", "-a", src, os.path.join(ctx.mnt, "tree")], check=True)
        with open(os.path.join(ctx.mnt, "tree", "big"), "wb") as f:
            f.write(payload(99, 3 << 20))
        subprocess.run(["sync", "-f", ctx.mnt], check=True)
        ctx.manifest = subtree(states.snapshot(os.path.join(ctx.mnt, "tree")), "/")

    @staticmethod
    def worker(mnt, sdir):
        while True:
            p = subprocess.run([os.environ["LETHEFS"], "rotate", "--wait", mnt],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if p.returncode != 0:
                return
            ack(sdir, "rotate.acked", "1")

    def verify(self, ctx, snap):
        got = subtree(snap.tree, "/tree")
        if got != ctx.manifest:
            return [("LOSS", "tree under rotation differs: %s" % "; ".join(
                states.diff(got, ctx.manifest)[:3]))], ""
        return [], "%d rotations completed so far" % len(acked(ctx.sdir, "rotate.acked"))


# --- staging expiry --------------------------------------------------------------------

def gone_within(path, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not os.path.lexists(path):
            return True
        time.sleep(0.2)
    return False


class Staging:
    name = "staging"

    def setup(self, ctx):
        os.mkdir(os.path.join(ctx.mnt, "stage"))

    @staticmethod
    def worker(mnt, sdir):
        n = len(acked(sdir, "staging.started"))
        rnd = random.Random(n)
        while True:
            n += 1
            ack(sdir, "staging.started", str(n))
            d = os.path.join(mnt, "stage", "job%04d" % n)
            ttl = rnd.choice([2, 3, 4])
            p = subprocess.run([os.environ["LETHEFS"], "stage", "create", "--ttl", "%ds" % ttl,
                                d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            expires = time.time() + ttl
            if p.returncode != 0:
                if not os.path.isdir(os.path.join(mnt, "stage")):
                    return  # the mount is gone
                continue
            try:
                for i in range(3):
                    with open(os.path.join(d, "f%d" % i), "wb") as f:
                        f.write(payload((n, i), 3000 * (i + 1)))
                        f.flush()
                        os.fsync(f.fileno())
            except OSError as e:
                if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):
                    return
                continue  # expired while being filled
            ack(sdir, "staging.acked", "%d %d" % (n, expires))
            time.sleep(0.2)

    @staticmethod
    def may_vanish(path):
        """Staging directories expire within seconds: the snapshot taken
        right after the remount may list one the daemon is shredding (a
        read error there is no loss). verify below checks, after the
        expiries, that what is left reads back whole."""
        return path.startswith("/stage/")

    def verify(self, ctx, snap):
        out = []
        # Expired directories must be shredded by the remounted daemon.
        time.sleep(4)
        now = time.time()
        present = sorted(os.listdir(os.path.join(ctx.mnt, "stage")))
        expiry = {}
        for l in acked(ctx.sdir, "staging.acked"):
            n, exp = (int(x) for x in l.split())
            name = "job%04d" % n
            expiry[name] = exp
            if name in present and exp < now - 3:
                out.append(("LOSS", "staging %s expired %.0f s ago and is still there" % (
                    name, now - exp)))
        for name in present:
            d = os.path.join(ctx.mnt, "stage", name)
            try:
                files = sorted(os.listdir(d))
            except OSError:
                files = []  # expired since the listing: checked below
            bad = []
            for f in files:
                r = states.read_all(os.path.join(d, f))
                if isinstance(r[0], str):
                    bad.append("staging %s/%s unreadable: %s" % (name, f, r))
            # A directory whose TTL ran out by the reads (the daemon's tick
            # is a second) is being shredded, and its files read EIO: no
            # loss if it is gone within a few seconds. One that had time
            # left, or stays, is a loss. (A directory never acknowledged
            # was made before the kill with a TTL of 4 s at most: expired.)
            if not bad:
                continue
            exp = expiry.get(name)
            if not ((exp is None or exp <= time.time() + 1) and gone_within(d, 5)):
                out.extend(("LOSS", b) for b in bad)
        keys = [k for k in os.listdir(os.path.join(ctx.vault.path, "staging"))
                if k.endswith(".key")]
        if len(keys) > len(present):
            out.append(("LOSS", "%d staging key files for %d live staging directories (a key "
                        "that is never destroyed)" % (len(keys), len(present))))
        return out, "%d staging directories created" % len(acked(ctx.sdir, "staging.acked"))


WORKLOADS = {w.name: w for w in (Tar(), Sqlite("WAL"), Sqlite("DELETE"), Append(), Rotate(),
                                 Staging())}
