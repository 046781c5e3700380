#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""lethefs load-and-fault soak (make soak; docs/TESTING.md).

Parallel writers (appends with truncates, in-place block rewrites, SQLite in
WAL and rollback-journal mode, create/rename/delete with directory fsyncs)
and verifying readers run against one mounted vault while the driver
rotates its data keys, locks and unlocks it, lets staging directories
expire, and kills the daemon with SIGKILL. After every kill: fsck of the
unmounted vault, a remount (with or without the writeback cache), and a
check of every acknowledged byte. At the end: fsck, audit verify, and a
report of the figures. Exit 0 when nothing was lost and nothing went wrong,
1 otherwise, 2 on bad arguments."""

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gate as gatemod  # noqa: E402
import report  # noqa: E402
import vaultctl  # noqa: E402
import workers  # noqa: E402


def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=3600, help="how long to run (default 3600)")
    p.add_argument("--lethefs", default=os.path.join(here, "..", "..", "build", "lethefs"))
    p.add_argument("--workdir", help="directory for the vault (default: a new one under build/)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--appenders", type=int, default=3)
    p.add_argument("--blockwriters", type=int, default=2)
    p.add_argument("--namespaces", type=int, default=2)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--kill-every", type=float, default=90, help="mean seconds between kills")
    p.add_argument("--rotate-every", type=float, default=240)
    p.add_argument("--lock-every", type=float, default=180)
    p.add_argument("--stage-every", type=float, default=120)
    p.add_argument("--report", help="write the report (Markdown) here as well")
    p.add_argument("--json", help="write the figures as JSON here")
    return p.parse_args()


class Soak:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed if args.seed is not None else random.randrange(1 << 31)
        self.rnd = random.Random(self.seed)
        self.start = time.monotonic()
        self.findings = gatemod.Findings(self.start)
        self.gate = gatemod.Gate()
        build = os.path.join(os.path.dirname(os.path.abspath(args.lethefs)))
        self.workdir = args.workdir or tempfile.mkdtemp(prefix="soak-", dir=build)
        self.vault = vaultctl.Vault(os.path.abspath(args.lethefs), self.workdir)
        self.figures = {"seed": self.seed, "kills": 0, "kills_during_rotation": 0,
                        "remounts_writeback": 0, "remounts_no_writeback": 0,
                        "recovery_seconds": [], "fsck_runs": 0, "fsck_pending": 0,
                        "rotations_started": 0, "rotations_completed": 0, "lock_cycles": 0,
                        "stages_created": 0, "stage_expiries_verified": 0, "losses": 0}
        self.stages = []
        self.writeback = True
        self.stage_seq = 0
        self.rotation_seen = 0

    # --- set-up ---------------------------------------------------------------

    def setup(self):
        self.vault.init()
        self.mount()
        mnt = self.vault.mnt
        for d in ("append", "blocks", "db", "stage"):
            os.mkdir(os.path.join(mnt, d))
        a = self.args
        self.writers = []
        for i in range(a.appenders):
            self.writers.append(workers.Appender("append%d" % i, self, self.rnd.random(), i))
        for i in range(a.blockwriters):
            w = workers.BlockWriter("blocks%d" % i, self, self.rnd.random(), i)
            w.create()
            self.writers.append(w)
        for mode in ("WAL", "DELETE"):
            self.writers.append(workers.SqliteWorker("sqlite-" + mode.lower(), self,
                                                     self.rnd.random(), mode))
        for i in range(a.namespaces):
            w = workers.NamespaceWorker("names%d" % i, self, self.rnd.random(), i)
            w.create()
            self.writers.append(w)
        checked = [w for w in self.writers if hasattr(w, "live_check")]
        self.readers = [workers.Reader("reader%d" % i, self, self.rnd.random(), checked)
                        for i in range(a.readers)]
        self.all_workers = self.writers + self.readers

    def mount(self):
        opts = "no_writeback_cache" if self.rnd.random() < 0.3 else ""
        self.figures["remounts_no_writeback" if opts else "remounts_writeback"] += 1
        self.writeback = not opts  # read by the live checks (workers.py)
        took = self.vault.mount(opts)
        st = self.vault.status()
        if st is None:
            self.findings.add("driver", "status does not answer after mount")
        return took

    def names(self):
        return [w.name for w in self.all_workers]

    def park_all(self, why):
        if not self.gate.wait_parked(self.names(), 120):
            self.findings.add("driver", "workers did not stop for %s within 120 s: %s" %
                              (why, ", ".join(self.gate.stragglers(self.names()))))
            return False
        return True

    def verify_all(self, when):
        for w in self.writers:
            for problem in w.verify():
                self.figures["losses"] += 1
                self.findings.add(w.name, "%s: %s" % (when, problem))
        for w in self.writers:
            try:
                w.reconcile()
            except OSError as e:
                self.findings.add(w.name, "%s: reconcile failed: %r" % (when, e))

    # --- events ---------------------------------------------------------------

    def kill(self):
        st = self.vault.status() or {}
        rotating = st.get("rotation_state") not in (None, "idle")
        self.gate.close(disruption=True)
        self.vault.kill()
        self.figures["kills"] += 1
        self.figures["kills_during_rotation"] += rotating
        t0 = time.monotonic()
        self.park_all("a kill")
        problem = self.vault.unmount()
        if problem:
            self.findings.add("driver", "after kill %d: %s" % (self.figures["kills"], problem))
        self.check_fsck("after kill %d" % self.figures["kills"], pending_ok=True)
        self.mount()
        self.figures["recovery_seconds"].append(time.monotonic() - t0)
        self.verify_all("after kill %d" % self.figures["kills"])
        self.gate.reopen()

    def check_fsck(self, when, pending_ok):
        rc, corrupt, pending = self.vault.fsck()
        self.figures["fsck_runs"] += 1
        self.figures["fsck_pending"] += len(pending)
        for line in corrupt[:20]:
            self.findings.add("fsck", "%s: %s" % (when, line))
        if pending and not pending_ok:
            self.findings.add("fsck", "%s: %d records still pending" % (when, len(pending)))

    def lock_cycle(self):
        self.gate.close()
        if not self.park_all("a lock"):
            self.gate.reopen()
            return
        rc, _, err = self.vault.lock()
        if rc != 0:
            self.findings.add("driver", "lock refused (%d): %s" % (rc, err.strip()))
        else:
            try:
                os.stat(os.path.join(self.vault.mnt, "append"))
                self.findings.add("driver", "a locked volume answered stat")
            except PermissionError:
                pass
            except OSError as e:
                self.findings.add("driver", "a locked volume answered %r, not EACCES" % e)
            time.sleep(self.rnd.uniform(0, 3))
            rc, _, err = self.vault.unlock()
            if rc != 0:
                self.findings.add("driver", "unlock failed (%d): %s" % (rc, err.strip()))
            self.figures["lock_cycles"] += 1
        self.verify_all("after lock cycle %d" % self.figures["lock_cycles"])
        self.gate.reopen()

    def rotate(self):
        rc, _, err = self.vault.rotate()
        if rc == 0:
            self.figures["rotations_started"] += 1
        elif rc not in (13, 14):
            self.findings.add("driver", "rotate failed (%d): %s" % (rc, err.strip()))
        return rc == 0

    def poll_rotation(self):
        st = self.vault.status()
        if not st:
            return
        done = st.get("rotation_completed", 0)
        if done and done != self.rotation_seen:
            self.rotation_seen = done
            self.figures["rotations_completed"] += 1
        if st.get("rotation_errors"):
            self.findings.add("driver", "rotation reports %d errors" % st["rotation_errors"])

    def stage_create(self):
        self.stage_seq += 1
        path = os.path.join(self.vault.mnt, "stage", "s%d" % self.stage_seq)
        os.mkdir(path)
        ttl = self.rnd.randrange(5, 40)
        rc, out, err = self.vault.stage_create(path, ttl)
        if rc != 0:
            self.findings.add("staging", "stage create failed (%d): %s" % (rc, err.strip()))
            return
        sid = out.split("staging ")[-1].split(",")[0].strip()
        for i in range(self.rnd.randrange(1, 5)):
            with open(os.path.join(path, "export%d.csv" % i), "wb") as f:
                f.write(os.urandom(self.rnd.randrange(1, 200000)))
                f.flush()
                os.fsync(f.fileno())
        self.stages.append((time.monotonic() + ttl, path, sid))
        self.figures["stages_created"] += 1

    def stage_check(self, grace=15):
        due = [s for s in self.stages if time.monotonic() > s[0] + grace]
        if not due:
            return
        ids = self.vault.stage_ids()
        for s in due:
            self.stages.remove(s)
            expires, path, sid = s
            late = time.monotonic() - expires
            if os.path.lexists(path):
                self.findings.add("staging", "%s still there %.0f s after its expiry" % (path, late))
            elif ids is not None and sid in ids:
                self.findings.add("staging", "staging %s still listed %.0f s after expiry" %
                                  (sid, late))
            else:
                self.figures["stage_expiries_verified"] += 1

    # --- the run --------------------------------------------------------------

    def run(self):
        a = self.args
        end = self.start + a.seconds
        for w in self.all_workers:
            w.start()
        now = time.monotonic()
        nxt = {"kill": now + self.rnd.expovariate(1 / a.kill_every),
               "rotate": now + self.rnd.uniform(5, a.rotate_every),
               "lock": now + self.rnd.uniform(5, a.lock_every),
               "stage": now + self.rnd.uniform(1, a.stage_every / 4)}
        every = {"kill": a.kill_every, "rotate": a.rotate_every, "lock": a.lock_every,
                 "stage": a.stage_every}
        last_progress = now
        while time.monotonic() < end:
            time.sleep(0.5)
            now = time.monotonic()
            for event in sorted(nxt, key=nxt.get):
                if nxt[event] > now:
                    continue
                if event == "rotate" and self.rotate() and self.rnd.random() < 0.5:
                    # Half the rotations get a kill while they convert.
                    nxt["kill"] = min(nxt["kill"], now + self.rnd.uniform(0.1, 2))
                elif event == "kill":
                    self.kill()
                elif event == "lock":
                    self.lock_cycle()
                elif event == "stage":
                    self.stage_create()
                nxt[event] = time.monotonic() + self.rnd.expovariate(1 / every[event])
            self.poll_rotation()
            self.stage_check()
            if now - last_progress > 60:
                last_progress = now
                print(report.progress_line(self), flush=True)
        self.finish()

    def finish(self):
        self.gate.close()
        self.park_all("the end")
        self.verify_all("at the end")
        for _ in range(240):  # let a running rotation complete
            st = self.vault.status() or {}
            if st.get("rotation_state", "idle") == "idle":
                break
            time.sleep(0.5)
        self.poll_rotation()
        while self.stages:
            time.sleep(1)
            self.stage_check(grace=10)
        self.gate.stop()
        for w in self.all_workers:
            w.join(60)
        problem = self.vault.unmount(lazy_ok=True)
        if problem:
            self.findings.add("driver", "final unmount: %s" % problem)
        self.check_fsck("at the end", pending_ok=False)
        rc, out, err = self.vault.audit_verify()
        if rc != 0:
            self.findings.add("audit", "audit verify (%d): %s" % (rc, (out + err).strip()[-300:]))
        self.figures["elapsed_seconds"] = time.monotonic() - self.start

    def cleanup(self):
        if not self.figures.get("elapsed_seconds") and getattr(self, "start", None):
            self.figures["elapsed_seconds"] = time.monotonic() - self.start  # aborted
        if vaultctl.mounted(self.vault.mnt):
            self.vault.unmount(lazy_ok=True)
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main():
    args = parse_args()
    if not os.access(args.lethefs, os.X_OK):
        print("soak: %s is not an executable (run make first)" % args.lethefs, file=sys.stderr)
        return 2
    soak = Soak(args)
    print("soak: %.0f s, seed %d, work directory %s" % (args.seconds, soak.seed, soak.workdir),
          flush=True)
    try:
        soak.setup()
        soak.run()
    except Exception as e:  # a crash of the soak itself is a finding too
        soak.findings.add("driver", "soak aborted: %r at %s" % (e, " <- ".join(
            "%s:%d" % (f.filename.split("/")[-1], f.lineno)
            for f in reversed(traceback.extract_tb(e.__traceback__)))))
        soak.gate.stop()
    finally:
        text = report.render(soak)
        print(text)
        if args.report:
            with open(args.report, "w") as f:
                f.write(text)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report.figures(soak), f, indent=1)
        soak.cleanup()
    return 1 if len(soak.findings) else 0


if __name__ == "__main__":
    sys.exit(main())
