#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lfsfault as lf  # noqa: E402
import states  # noqa: E402
from workloads import WORKLOADS, Sqlite, payload  # noqa: E402


def log(*a):
    print(*a, flush=True)


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
        if v.daemon and v.daemon.alive():
            os.kill(v.daemon.proc.pid, signal.SIGKILL)
        # The worker goes before the dead mount does: while it stays, its
        # calls fail (ENOTCONN); once removed, they would create files in
        # the bare mountpoint (a SQLite journal), which the next mount then
        # refuses as not empty.
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        v.crashed()
        self.totals["kills"] += 1
        sym = []
        if rc_before not in (None, 0):
            sym.append(("HARNESS", "worker exited %s before the kill" % rc_before))
        frc, fout = v.fsck()
        if frc != 0:
            sym.append(("FSCK-EARLY", "fsck right after the kill: exit %d: %s" % (
                frc, states.summarize_fsck(fout))))
        try:
            v.mount(opts=self.args.opts)
        except lf.MountFailed as e:
            sym.append(("UNMOUNTABLE", "vault does not mount after the kill: %s; %s" % (
                e.rc, e.log[-200:])))
            return sym, "", False
        snap = states.Snap(ctx.mnt)
        if states.read_all(ctx.keep)[0] != 50004 or snap.contents.get("/keep/base") != \
                payload(1, 50004):
            sym.append(("LOSS", "/keep/base (fsync'd at the start) changed or unreadable"))
        # What a workload says may vanish at any moment (staging
        # directories past their expiry, shredded by the remounted daemon
        # while the snapshot lists them) is its own verify's to check.
        vanish = getattr(w, "may_vanish", lambda p: False)
        unreadable = [p for p in states.has_read_errors(snap.tree) if not vanish(p)]
        try:
            out, note = w.verify(ctx, snap)
        except Exception as e:
            traceback.print_exc()
            out, note = [("HARNESS", "verifier failed: %s" % e)], ""
        sym += out
        if unreadable:
            sym.append(("LOSS", "%d unreadable paths: %s" % (
                len(unreadable), ", ".join(states.short(p, 50) for p in unreadable[:4]))))
        urc = v.unmount()
        if urc != 0:
            sym.append(("DAEMON", "daemon %s at unmount" % lf.describe_rc(urc)))
        frc, fout = v.fsck()
        if frc != 0:
            sym.append(("FSCK", "fsck after remount: exit %d: %s" % (frc, states.summarize_fsck(fout))))
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
                    worst = min(sym, key=lambda s: states.CATEGORIES.index(s[0]))[0]
                    self.totals["worst: " + worst] += 1
                    self.findings.append((name, i, sym))
                    log("  FAIL %s kill %d: %s" % (name, i, " | ".join("%s %s" % s for s in sym)))
                elif self.args.verbose:
                    log("  ok   %s kill %d: %s" % (name, i, note))
                # Damage stays in a vault: start the next kill on a fresh
                # one, so that every finding is a kill of its own.
                if not usable or any(c in ("UNMOUNTABLE", "KEYS", "LOSS", "FSCK")
                                     for c, _ in sym):
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
    for c in states.CATEGORIES:
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
