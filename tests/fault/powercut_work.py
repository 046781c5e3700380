# SPDX-License-Identifier: Apache-2.0
"""The scenarios of the power-cut tests (tests/fault/powercut.py,
docs/TESTING.md "A power cut"): what each writes through the mount before
the shim is armed (ending with an fsync: the bytes the application was
promised), what it writes while armed (nothing synced, or later commits),
and what must read back after the cut and a remount.

Run as a separate process (`powercut_work.py run|verify NAME MNT ACKDIR`)
so that a mount that died or hangs never blocks the driver. `run` prints
"ready" after the synced part and waits for a line on stdin (the driver arms
the shim in between), then prints "done" after the armed part and a marker
file (a counted call after everything, so that the last cut point falls
after the workload's last write), and waits for a last line before it
closes anything (an SQLite close would checkpoint). `verify` prints one JSON
list of findings [class, message]."""

import errno
import json
import os
import random
import sqlite3
import sys
import zlib

MARKER = "powercut.marker"


def payload(tag, n):
    return random.Random(tag).randbytes(n)


def ack(ackdir, text):
    with open(os.path.join(ackdir, "acked"), "a") as f:
        f.write(text + "\n")


def acked(ackdir):
    try:
        with open(os.path.join(ackdir, "acked")) as f:
            return [l for l in f.read().split("\n")[:-1] if l]
    except FileNotFoundError:
        return []


def handshake(word):
    print(word, flush=True)
    sys.stdin.readline()


# --- one file: an fsync'd version, then a change without fsync ----------------------

class FileScenario:
    """The file is written as `old` and fsync'd; then `change` runs (no
    fsync). After the cut every byte of `old` must read back, as it was or,
    where the change rewrote it, as the change wrote it; the length must be
    between the old one and the new one; bytes past the old end may be new
    or zeros (a disk that kept the length and not the page)."""

    def __init__(self, name, old, new, change, what):
        self.name, self.old, self.new, self.change, self.what = name, old, new, change, what

    def run(self, mnt, ackdir):
        path = os.path.join(mnt, "f")
        with open(path, "wb") as f:
            f.write(self.old)
            f.flush()
            os.fsync(f.fileno())
        ack(ackdir, "synced")
        handshake("ready")
        with open(path, "r+b") as f:
            self.change(f)
        handshake_done(mnt)

    def verify(self, mnt, ackdir):
        if "synced" not in acked(ackdir):
            return []
        data, bad = read_blocks(os.path.join(mnt, "f"))
        if data is None:
            return [("LOSS", "f: %s (its %d fsync'd bytes)" % (bad, len(self.old)))]
        out = []
        old, new = self.old, self.new
        lost = [b for b in bad if b * 4096 < len(old)]
        if lost:
            out.append(("LOSS", "f: EIO reading bytes %s, fsync'd" % spans(lost)))
        later = [b for b in bad if b * 4096 >= len(old)]
        if later:
            out.append(("UNSYNCED-EIO", "f: EIO reading bytes %s, written after the fsync"
                        % spans(later)))
        if len(data) < len(old):
            out.append(("LOSS", "f: %d bytes long, %d were fsync'd" % (len(data), len(old))))
        if len(data) > max(len(old), len(new)):
            out.append(("OTHER", "f: %d bytes long, never longer than %d"
                        % (len(data), max(len(old), len(new)))))
        wrong_old, wrong_new = [], []
        for i, c in enumerate(data):
            if bad and i // 4096 in bad:
                continue
            ok = (i < len(old) and c == old[i]) or (i < len(new) and c == new[i]) or \
                (i >= len(old) and c == 0)
            if not ok:
                (wrong_old if i < len(old) else wrong_new).append(i)
        if wrong_old:
            out.append(("LOSS", "f: %d fsync'd bytes differ (first at %d)"
                        % (len(wrong_old), wrong_old[0])))
        if wrong_new:
            out.append(("OTHER", "f: %d bytes past the fsync'd end are neither new nor zero "
                        "(first at %d)" % (len(wrong_new), wrong_new[0])))
        return out


def handshake_done(mnt):
    with open(os.path.join(mnt, MARKER), "wb"):
        pass
    handshake("done")


def read_blocks(path):
    """(contents with unreadable 4 KiB blocks zero-filled, set of their
    indexes), or (None, why) when the file cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        return None, "open: %s" % os.strerror(e.errno)
    data, bad = bytearray(), set()
    try:
        size = os.fstat(fd).st_size
        for b in range((size + 4095) // 4096):
            try:
                chunk = os.pread(fd, 4096, b * 4096)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                chunk = bytes(min(4096, size - b * 4096))
                bad.add(b)
            data += chunk
    finally:
        os.close(fd)
    return bytes(data), bad


def spans(blocks):
    return ",".join("%d-%d" % (b * 4096, b * 4096 + 4095) for b in sorted(blocks))


def _append(data):
    def change(f):
        f.seek(0, os.SEEK_END)
        f.write(data)
    return change


def _pwrite(off, data):
    def change(f):
        f.flush()
        os.pwrite(f.fileno(), data, off)
    return change


def _pivot():
    old, more = payload("a-old", 100), payload("a-new", 5000)
    return FileScenario("pivot", old, old + more, _append(more),
                        "100 bytes fsync'd, 5,000 appended (the pivot re-sealed in place)")


def _pg_wal():
    old = payload("b-old", 8192)
    new = old[:4000] + payload("b-new", 4192)
    return FileScenario("pg-wal", old, new, _pwrite(0, new),
                        "8,192 bytes fsync'd, all rewritten, the first 4,000 identical "
                        "(PostgreSQL's WAL page)")


def _rewrite():
    old = payload("c-old", 4196)
    mid = payload("c-new", 200)
    new = old[:4000] + mid + old[4200:]
    return FileScenario("rewrite", old, new, _pwrite(4000, mid),
                        "4,196 bytes fsync'd, bytes 4,000-4,199 rewritten (block 0 in place "
                        "under a kind-7 record; block 1, 4 bytes longer, a tail update)")


def _rotate_change(f):
    # The rotation re-seals the file's blocks in place under the new data
    # key; the daemon may die in it (the cut), which the command reports.
    f.flush()
    import subprocess
    subprocess.run([os.environ["LETHEFS"], "rotate", "--wait", os.path.dirname(f.name)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


def _rotate():
    old = payload("d-old", 14000)
    return FileScenario("rotate", old, old, _rotate_change,
                        "14,000 bytes fsync'd, then a key rotation re-seals its four "
                        "blocks in place (each spans two pages)")


# --- a record left on disk after its update and an fsync ---------------------------

def synced_steps(mnt, ackdir, old, synced, last):
    """f written as old and fsync'd before the shim is armed; armed: each
    (offset, bytes) of synced written and fsync'd in turn, acknowledged,
    then last (offset, bytes) written without an fsync."""
    fd = os.open(os.path.join(mnt, "f"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, old, 0)
        os.fsync(fd)
        handshake("ready")
        for off, data in synced:
            os.pwrite(fd, data, off)
            os.fsync(fd)
        ack(ackdir, "synced")
        os.pwrite(fd, last[1], last[0])
    finally:
        os.close(fd)
    handshake_done(mnt)

class StaleRecord:
    """100 bytes fsync'd before the shim is armed; armed: 12,288 bytes
    appended (a growth whose pivot, block 0, holds fsync'd bytes: with
    -o powersafe its record is synced, and its clearing is not) and
    fsync'd; then block 1 rewritten whole with other bytes (no fsync'd
    byte kept: the cheap order). After the cut, every fsync'd byte outside
    block 1 must read back: a record of the growth that the disk kept must
    not undo it because block 1's rewrite was torn."""
    name = "stale-record"
    what = ("100 bytes fsync'd; 12,288 appended and fsync'd; block 1 rewritten whole: "
            "the growth's record must not undo the fsync'd append")

    def __init__(self):
        self.old = payload("s-old", 100)
        self.more = payload("s-more", 12288)
        self.blk1 = payload("s-blk1", 4096)

    def run(self, mnt, ackdir):
        synced_steps(mnt, ackdir, self.old, [(len(self.old), self.more)], (4096, self.blk1))

    @staticmethod
    def fsck_allows(out):
        """fsck may report block 1, torn by its rewrite (a rewrite that
        changes every byte of a block takes the cheap order), nothing else."""
        return "1 corrupt block(s) or header, first at block 1" in out and \
            "checked: 1 problem(s)" in out

    def verify(self, mnt, ackdir):
        synced = self.old + self.more
        if "synced" not in acked(ackdir):
            return []
        data, bad = read_blocks(os.path.join(mnt, "f"))
        if data is None:
            return [("LOSS", "f: %s (its %d fsync'd bytes)" % (bad, len(synced)))]
        out = []
        if len(data) < len(synced):
            out.append(("LOSS", "f: %d bytes long, %d were fsync'd" % (len(data), len(synced))))
        lost = sorted(b for b in bad if b != 1)
        if lost:
            out.append(("LOSS", "f: EIO reading bytes %s, fsync'd" % spans(lost)))
        if 1 in bad:
            out.append(("UNSYNCED-EIO", "f: block 1 (rewritten whole after the fsync) EIO"))
        new = synced[:4096] + self.blk1 + synced[8192:]
        wrong = [i for i in range(min(len(data), len(synced))) if i // 4096 not in bad and
                 data[i] != synced[i] and not (i // 4096 == 1 and data[i] == new[i])]
        if wrong:
            out.append(("LOSS", "f: %d fsync'd bytes differ (first at %d)"
                        % (len(wrong), wrong[0])))
        return out


class StaleImage:
    """8,192 bytes fsync'd before the shim is armed; armed: block 0
    rewritten with its first 4,000 bytes unchanged (v1: the durable order,
    its record synced, its clearing not) and fsync'd; block 0 rewritten
    whole with other bytes (v2, the cheap order) and fsync'd; then whole
    once more (v3, no fsync). After the cut block 0 must read as v2 or v3
    (or EIO: a torn v3), never as v1, which the record of v1's rewrite,
    still on disk, would put back over a torn block: older data than the
    last fsync, served as if current."""
    name = "stale-image"
    what = ("8,192 bytes fsync'd; block 0 rewritten keeping 4,000 bytes, fsync; "
            "rewritten whole, fsync; rewritten whole: never the first rewrite back")

    def __init__(self):
        self.old = payload("i-old", 8192)
        self.v1 = self.old[:4000] + payload("i-v1", 96)
        self.v2 = payload("i-v2", 4096)
        self.v3 = payload("i-v3", 4096)

    def run(self, mnt, ackdir):
        synced_steps(mnt, ackdir, self.old, [(0, self.v1), (0, self.v2)], (0, self.v3))

    @staticmethod
    def fsck_allows(out):
        """fsck may report block 0, torn by v3 (the cheap order)."""
        return "1 corrupt block(s) or header, first at block 0" in out and \
            "checked: 1 problem(s)" in out

    def verify(self, mnt, ackdir):
        if "synced" not in acked(ackdir):
            return []
        data, bad = read_blocks(os.path.join(mnt, "f"))
        if data is None:
            return [("LOSS", "f: %s" % bad)]
        out = []
        if len(data) != 8192:
            out.append(("LOSS", "f: %d bytes long, 8192 were fsync'd" % len(data)))
        if 1 in bad:
            out.append(("LOSS", "f: EIO reading bytes 4096-8191, fsync'd"))
        elif data[4096:8192] != self.old[4096:8192]:
            out.append(("LOSS", "f: bytes 4096-8191 differ from what was fsync'd"))
        if 0 in bad:
            out.append(("UNSYNCED-EIO", "f: block 0 (rewritten after the last fsync) EIO"))
        elif data[:4096] == self.v1:
            out.append(("LOSS", "f: block 0 reads as the rewrite before the last fsync "
                        "(an older version served as current)"))
        elif data[:4096] not in (self.v2, self.v3):
            out.append(("LOSS", "f: block 0 is neither what was fsync'd nor written after"))
        return out


# --- SQLite in WAL mode ---------------------------------------------------------------

class SqliteWal:
    """journal_mode=WAL, synchronous=FULL: PREPARE commits before the
    shim is armed, ARMED commits after (the cut falls in one of them or
    after them). Every row whose COMMIT returned must be there and intact,
    and PRAGMA integrity_check must say ok."""
    name = "sqlite-wal"
    what = "SQLite WAL, synchronous=FULL: 4 commits, then 3 more during which the power goes"
    PREPARE, ARMED = 4, 3

    @staticmethod
    def body(i):
        return payload("row-%d" % i, (700, 2500, 4100, 300)[i % 4])

    def run(self, mnt, ackdir):
        path = os.path.join(mnt, "db.sqlite")
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB, crc INTEGER)")
        # Closing checkpoints and syncs the database file: else its first
        # pages sit in the kernel's FUSE cache and reach the daemon when the
        # kernel's writeback timer fires, at a call number no run repeats.
        db.close()
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA synchronous=FULL")
        i = 0
        for commit in range(self.PREPARE + self.ARMED):
            if commit == self.PREPARE:
                handshake("ready")
            db.execute("BEGIN")
            ids = []
            for _ in range(2):
                i += 1
                db.execute("INSERT INTO t VALUES (?, ?, ?)",
                           (i, self.body(i), zlib.crc32(self.body(i))))
                ids.append(i)
            db.execute("COMMIT")
            ack(ackdir, " ".join(map(str, ids)))
        handshake_done(mnt)
        db.close()

    def verify(self, mnt, ackdir):
        ids = [int(x) for line in acked(ackdir) for x in line.split()]
        if not ids:
            return []
        out = []
        db = None
        try:
            db = sqlite3.connect(os.path.join(mnt, "db.sqlite"), isolation_level=None)
            res = db.execute("PRAGMA integrity_check").fetchall()
            if res != [("ok",)]:
                out.append(("LOSS", "integrity_check: %s" % "; ".join(r[0] for r in res[:3])))
            rows = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, body, crc FROM t")}
        except sqlite3.Error as e:
            return out + [("LOSS", "sqlite: %s (%d rows were committed)" % (e, len(ids)))]
        finally:
            if db is not None:
                db.close()  # an open database would keep the mount busy
        missing = [i for i in ids if i not in rows]
        bad = [i for i in ids if i in rows and rows[i][0] != self.body(i)]
        if missing:
            out.append(("LOSS", "%d of %d committed rows missing (ids %s)"
                        % (len(missing), len(ids), ",".join(map(str, missing[:8])))))
        if bad:
            out.append(("LOSS", "%d committed rows damaged (first id %d)" % (len(bad), bad[0])))
        return out


SCENARIOS = {s.name: s for s in (_pivot(), _pg_wal(), _rewrite(), SqliteWal(),
                                  StaleRecord(), StaleImage(), _rotate())}


def unreadable(mnt):
    """Other files of the tree (the SQLite database, its WAL) that fail to
    read: reported (a cut may leave unsynced data unreadable), though only
    the scenario's own checks decide what was lost."""
    out = []
    for d, _, files in os.walk(mnt):
        for n in files:
            p = os.path.join(d, n)
            if p == os.path.join(mnt, "f"):
                continue
            _, bad = read_blocks(p)
            if bad:
                out.append(("EIO", "%s: %s" % (os.path.relpath(p, mnt), bad
                            if isinstance(bad, str) else "EIO at bytes " + spans(bad))))
    return out


def main():
    cmd, name, mnt, ackdir = sys.argv[1:5]
    s = SCENARIOS[name]
    if cmd == "run":
        try:
            s.run(mnt, ackdir)
        except (OSError, sqlite3.Error) as e:
            print("stopped: %s" % e, flush=True)  # the power went under us: expected
        return 0
    findings = s.verify(mnt, ackdir) + unreadable(mnt)
    print(json.dumps(findings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
