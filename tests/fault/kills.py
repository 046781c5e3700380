#!/usr/bin/env python3
"""kill -9 of the daemon at random moments under real workloads, with a
verifier of everything that was acknowledged (docs/TESTING.md).

Workloads (each a worker process writing through the mount and logging what
it was told is durable to a file outside the vault):

  tar      GNU tar extracts a tree (files of many sizes, directories,
           symlinks, a hard link, xattrs), then sync; acknowledged: the rounds
           whose sync returned
  sqlite-wal, sqlite-delete
           sqlite3 with journal_mode WAL or DELETE and synchronous=FULL,
           one INSERT per transaction (and some batches); acknowledged: every
           row id whose COMMIT returned
  append   numbered, checksummed records appended to three files, each
           followed by fsync; acknowledged: every record whose fsync returned
  rotate   lethefs rotate --wait in a loop over a tree (data-key rotation);
           acknowledged: the whole tree, written and synced before
  staging  staging directories with TTLs of 1-3 s created and filled in a
           loop while the daemon shreds the expired ones

After each kill: wait for the daemon to exit, fsck (as an administrator
would at once), remount, verify (and for sqlite PRAGMA integrity_check),
unmount, fsck. Exit status: 0 nothing lost, 1 findings, 2 harness error."""

import argparse
import collections
import errno
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lfsfault as lf  # noqa: E402


def log(*a):
    print(*a, flush=True)


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

def make_tree(root, seed, nfiles=160):
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
        if i % 17 == 0:
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
        ctx.manifest = subtree(lf.snapshot(src), "/")
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
                diffs = lf.diff(got, ctx.manifest)
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
        try:
            db = sqlite3.connect(path, isolation_level=None, timeout=30)
            res = db.execute("PRAGMA integrity_check").fetchall()
            if res != [("ok",)]:
                out.append(("LOSS", "sqlite %s: integrity_check: %s" % (
                    self.mode, "; ".join(r[0] for r in res[:3]))))
            rows = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, body, crc FROM t")}
            db.close()
        except sqlite3.Error as e:
            out.append(("LOSS", "sqlite %s: %s" % (self.mode, e)))
            return out, ""
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
        make_tree(src, 11, nfiles=120)
        subprocess.run(["cp", "-a", src, os.path.join(ctx.mnt, "tree")], check=True)
        with open(os.path.join(ctx.mnt, "tree", "big"), "wb") as f:
            f.write(payload(99, 3 << 20))
        subprocess.run(["sync", "-f", ctx.mnt], check=True)
        ctx.manifest = subtree(lf.snapshot(os.path.join(ctx.mnt, "tree")), "/")

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
                lf.diff(got, ctx.manifest)[:3]))], ""
        return [], "%d rotations completed so far" % len(acked(ctx.sdir, "rotate.acked"))


# --- staging expiry --------------------------------------------------------------------

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

    def verify(self, ctx, snap):
        out = []
        # Expired directories must be shredded by the remounted daemon.
        time.sleep(4)
        now = time.time()
        present = sorted(os.listdir(os.path.join(ctx.mnt, "stage")))
        for l in acked(ctx.sdir, "staging.acked"):
            n, exp = (int(x) for x in l.split())
            name = "job%04d" % n
            if name in present and exp < now - 3:
                out.append(("LOSS", "staging %s expired %.0f s ago and is still there" % (
                    name, now - exp)))
        for name in present:
            d = os.path.join(ctx.mnt, "stage", name)
            for f in sorted(os.listdir(d)):
                r = lf.read_all(os.path.join(d, f))
                if isinstance(r[0], str):
                    out.append(("LOSS", "staging %s/%s unreadable: %s" % (name, f, r)))
        keys = [k for k in os.listdir(os.path.join(ctx.vault.path, "staging"))
                if k.endswith(".key")]
        if len(keys) > len(present):
            out.append(("LOSS", "%d staging key files for %d live staging directories (a key "
                        "that is never destroyed)" % (len(keys), len(present))))
        return out, "%d staging directories created" % len(acked(ctx.sdir, "staging.acked"))


WORKLOADS = {w.name: w for w in (Tar(), Sqlite("WAL"), Sqlite("DELETE"), Append(), Rotate(),
                                 Staging())}


def run_worker(name, mnt, sdir):
    w = WORKLOADS[name]
    try:
        if isinstance(w, Sqlite):
            Sqlite.worker(mnt, sdir, w.mode)
        else:
            w.worker(mnt, sdir)
    except (OSError, sqlite3.Error, subprocess.CalledProcessError):
        sys.exit(0)  # the mount died under us: expected


# --- the driver ------------------------------------------------------------------------

class Ctx:
    pass


class Kills:
    def __init__(self, args):
        self.args = args
        self.env = lf.Env(args.build)
        os.environ["LETHEFS"] = self.env.lethefs
        self.root = lf.new_root("lfsft-kills.")
        self.vaults = []
        self.totals = collections.Counter()
        self.findings = []
        self.rnd = random.Random(args.seed)

    def new_ctx(self, w, gen):
        ctx = Ctx()
        ctx.vault = lf.Vault(self.env, self.root, "%s-%d" % (w.name, gen))
        self.vaults.append(ctx.vault)
        ctx.vault.init()
        ctx.mnt = ctx.vault.mnt
        ctx.sdir = os.path.join(ctx.vault.dir, "state")
        os.mkdir(ctx.sdir)
        ctx.vault.mount(opts=self.args.opts)
        os.mkdir(os.path.join(ctx.mnt, "keep"))
        ctx.keep = os.path.join(ctx.mnt, "keep", "base")
        with open(ctx.keep, "wb") as f:
            f.write(payload(1, 50004))
            f.flush()
            os.fsync(f.fileno())
        w.setup(ctx)
        subprocess.run(["sync", "-f", ctx.mnt], check=True)
        return ctx

    def round(self, w, ctx, i):
        """One kill; returns (symptoms, note, the vault is still usable)."""
        v = ctx.vault
        worker = subprocess.Popen([sys.executable, os.path.abspath(__file__), "worker", w.name,
                                   ctx.mnt, ctx.sdir], stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(ctx.sdir, "worker.err"), "a"))
        time.sleep(self.rnd.uniform(self.args.min_delay, self.args.max_delay))
        rc_before = worker.poll()
        v.kill9()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        self.totals["kills"] += 1
        sym = []
        if rc_before not in (None, 0):
            sym.append(("HARNESS", "worker exited %s before the kill" % rc_before))
        frc, fout = v.fsck()
        if frc != 0:
            sym.append(("FSCK-EARLY", "fsck right after the kill: exit %d: %s" % (
                frc, summarize(fout))))
        try:
            v.mount(opts=self.args.opts)
        except lf.MountFailed as e:
            sym.append(("UNMOUNTABLE", "vault does not mount after the kill: %s; %s" % (
                e.rc, e.log[-200:])))
            return sym, "", False
        snap = lf.Snap(ctx.mnt)
        if lf.read_all(ctx.keep)[0] != 50004 or snap.contents.get("/keep/base") != \
                payload(1, 50004):
            sym.append(("LOSS", "/keep/base (fsync'd at the start) changed or unreadable"))
        unreadable = [p for p in lf.has_read_errors(snap.tree)]
        try:
            out, note = w.verify(ctx, snap)
        except Exception as e:
            traceback.print_exc()
            out, note = [("HARNESS", "verifier failed: %s" % e)], ""
        sym += out
        if unreadable:
            sym.append(("LOSS", "%d unreadable paths: %s" % (
                len(unreadable), ", ".join(lf.short(p, 50) for p in unreadable[:4]))))
        urc = v.unmount()
        if urc != 0:
            sym.append(("DAEMON", "daemon %s at unmount" % lf.describe_rc(urc)))
        frc, fout = v.fsck()
        if frc != 0:
            sym.append(("FSCK", "fsck after remount: exit %d: %s" % (frc, summarize(fout))))
        try:
            v.mount(opts=self.args.opts)
        except lf.MountFailed as e:
            sym.append(("UNMOUNTABLE", "second remount fails: %s" % e.rc))
            return sym, note, False
        return sym, note, True

    def run(self):
        for name in self.args.workloads:
            w = WORKLOADS[name]
            gen = 0
            ctx = self.new_ctx(w, gen)
            for i in range(1, self.args.rounds + 1):
                sym, note, usable = self.round(w, ctx, i)
                if sym:
                    worst = min(sym, key=lambda s: CATS.index(s[0]))[0]
                    self.totals["worst: " + worst] += 1
                    self.findings.append((name, i, sym))
                    log("  FAIL %s kill %d: %s" % (name, i, " | ".join("%s %s" % s for s in sym)))
                elif self.args.verbose:
                    log("  ok   %s kill %d: %s" % (name, i, note))
                if not usable:
                    ctx.vault.cleanup()
                    gen += 1
                    ctx = self.new_ctx(w, gen)
            ctx.vault.unmount()
            log("%s: %d kills done" % (name, self.args.rounds))

    def cleanup(self):
        for v in self.vaults:
            v.cleanup()
        if not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)


CATS = ["HARNESS", "UNMOUNTABLE", "LOSS", "FSCK", "DAEMON", "FSCK-EARLY"]


def summarize(out):
    lines = [l for l in out.splitlines() if l.startswith("CORRUPT")] or \
        [l for l in out.splitlines() if l.strip()][-2:]
    s = "; ".join(l[:120] for l in lines[:3])
    return s + ("; ... (%d items)" % len(lines) if len(lines) > 3 else "")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "worker":
        run_worker(sys.argv[2], sys.argv[3], sys.argv[4])
        return 0
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated, from: " + ", ".join(WORKLOADS))
    ap.add_argument("--rounds", type=int, default=12, help="kills per workload")
    ap.add_argument("--min-delay", type=float, default=0.3)
    ap.add_argument("--max-delay", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--opts", default=None, help="mount options, e.g. no_writeback_cache")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", help="write the totals and findings to this file")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    args.workloads = [w for w in args.workloads.split(",") if w]
    for w in args.workloads:
        if w not in WORKLOADS:
            ap.error("unknown workload %s" % w)
    if os.geteuid() != 0:
        print("run as root (FUSE mounts)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    k = Kills(args)
    t0 = time.monotonic()
    rc = 0
    try:
        k.run()
    except Exception:
        traceback.print_exc()
        rc = 2
    finally:
        k.cleanup()
    t = k.totals
    losses = sum(t["worst: " + c] for c in ("UNMOUNTABLE", "LOSS", "FSCK"))
    log("")
    log("random kills: %d kills of the daemon over %s in %.0f s (seed %d, mount options: %s)" % (
        t["kills"], ",".join(args.workloads), time.monotonic() - t0, args.seed,
        args.opts or "default"))
    for c in CATS:
        if t["worst: " + c]:
            log("  worst symptom %-12s %d" % (c, t["worst: " + c]))
    log("  %-40s %d" % ("losses (unmountable, data, fsck)", losses))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"totals": dict(t), "seed": args.seed, "mount_options": args.opts,
                       "workloads": args.workloads, "rounds": args.rounds,
                       "findings": [{"workload": w, "kill": i, "symptoms": sym}
                                    for w, i, sym in k.findings]}, f, indent=1)
    if rc == 0 and k.findings:
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
