#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Crash and full-disk sweep (docs/TESTING.md).

For each operation: build a template vault (BASE data + the operation's
setup, all fsync'd), record its plaintext state (before), run the operation
once with the shim counting the backing-store calls it makes and record the
state it leaves (after). Then, for every mode and every call number N, on a
fresh copy of the template:

  crash-before / crash-after  the daemon (or CLI) _exits at call N, before or
                              after performing it
  enospc                      the disk is full from call N on: calls that
                              allocate fail with ENOSPC (overwrites of
                              allocated ranges and opens of existing files
                              still work, as on ext4 or tmpfs)
  enospc-short                the same, but the first extending write at or
                              after N performs half its bytes first
  enospc-strict               every allocating call fails from N on,
                              overwrites included (copy-on-write storage)
  eio                         call N fails with EIO (once)
  eio-from                    every call fails with EIO from N on
  edquot                      as enospc, with EDQUOT
  fullfs                      no shim: the vault lives on a small tmpfs with
                              only N-1 pages left free when the operation runs

and check the invariant: after a crash the vault mounts, its state is the
before-state or the after-state (which includes every byte fsync'd before the
operation), and fsck exits 0, both before and after the remount; after an
injected error the daemon stays alive, the state read through the live mount
is before or after, the daemon exits 0 at unmount, and the same holds after
a remount.

Exit status: 0 no finding, 1 findings, 2 the harness itself failed."""

import argparse
import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fullfs  # noqa: E402
import lfsfault as lf  # noqa: E402
import states  # noqa: E402
import operations  # noqa: E402
import powercut_ops  # noqa: E402
from calllog import Names, describe_call, read_calls  # noqa: E402
from sampling import full_sweep, sample  # noqa: E402

ALL_MODES = ["crash-before", "crash-after", "enospc", "enospc-short", "enospc-strict", "eio",
             "eio-from", "edquot", "fullfs"]
DEFAULT_MODES = ["crash-before", "crash-after", "enospc", "enospc-short", "eio", "fullfs"]

# mode -> (shim mode, errno, kinds counted, spare what a full disk allows)
SHIM = {
    "crash-before": ("crash-before", None, None, False),
    "crash-after": ("crash-after", None, None, False),
    "enospc": ("fail-from", "ENOSPC", lf.ALLOC_KINDS, True),
    "enospc-short": ("short-write", "ENOSPC", "write", True),
    "enospc-strict": ("fail-from", "ENOSPC", lf.ALLOC_KINDS, False),
    "eio": ("fail-once", "EIO", None, False),
    "eio-from": ("fail-from", "EIO", None, False),
    "edquot": ("fail-from", "EDQUOT", lf.ALLOC_KINDS, True),
}


def log(*a):
    print(*a, flush=True)


class Sweep:
    def __init__(self, args):
        self.args = args
        self.env = lf.Env(args.build)
        os.environ["LETHEFS"] = self.env.lethefs
        self.root = lf.new_root()
        if args.backing == "tmpfs" and not args.keep:
            # fsync on a shared disk costs milliseconds; the crash model (a
            # process dying, the page cache surviving) does not depend on it.
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2g,mode=0700", "tmpfs",
                            self.root], check=True)
        self.results = []
        self.totals = collections.Counter()
        self.vaults = []
        # Without the writeback cache (no_writeback_cache, and shared,
        # which turns it off) one write() reaches the daemon as several
        # requests: a crash between them may keep the first ones.
        opts = (args.opts or "").split(",")
        self.torn = "no_writeback_cache" in opts or "shared" in opts

    def vault(self, name, base=None):
        v = lf.Vault(self.env, base or self.root, name)
        self.vaults.append(v)
        return v

    def cleanup(self):
        for v in self.vaults:
            v.cleanup()
        for op in operations.OPS:
            fb = os.path.join(self.root, "fullfs-" + op.name)
            if os.path.ismount(fb):
                subprocess.run(["umount", fb])
            if os.path.exists(fb + ".img"):
                os.unlink(fb + ".img")
        if os.path.ismount(self.root) and not self.args.keep:
            subprocess.run(["umount", self.root])
        if not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- states -------------------------------------------------------------------
    def state(self, v, op, names=None):
        """(which probe secrets unlock, snapshot through a clean mount), or
        raises MountFailed. For mount operations only the snapshot counts.
        With names, the vault's current backing names are learnt."""
        unlocks = tuple(p for p in op.probes if v.unlocks(p)) if op.kind == "cli" else ("pass",)
        if not unlocks:
            raise lf.MountFailed("no secret unlocks", "")
        v.mount(label=unlocks[0], opts=self.args.opts)
        try:
            # A remount resumes an interrupted rotation: judge the state it
            # ends in (reads racing the rotation are a finding of their own,
            # the rotate operation and 30-faults.bats).
            rotation = v.rotation_settled()
            snap = states.Snap(v.mnt)
            if names:
                names.learn(v.path, v.mnt)
        finally:
            rc = v.unmount()
        return {"unlocks": unlocks, "snap": snap, "unmount_rc": rc, "rotation": rotation}

    def prepare_template(self, op):
        tpl = self.vault("tpl-" + op.name)
        tpl.init()
        tpl.mount(opts=self.args.opts)
        try:
            op.setup(tpl.mnt)
        finally:
            tpl.unmount()
        if op.vsetup:
            op.vsetup(tpl)
        return tpl

    def fresh(self, op, tpl, name, base=None):
        v = self.vault(name, base)
        v.copy_from(tpl)
        if op.prepare:
            op.prepare(v.path)
        return v

    def shim_env(self, v, mode, n, kinds=None):
        e = {"LFS_FAULT_VAULT": v.path, "LFS_FAULT_ARM": os.path.join(v.dir, "armed"),
             "LFS_FAULT_LOG": os.path.join(v.dir, "calls.log")}
        if mode:
            smode, err, k, spare = SHIM[mode]
            e["LFS_FAULT_MODE"] = smode
            if spare:
                e["LFS_FAULT_SPARE"] = "1"
            e["LFS_FAULT_AT"] = str(n)
            if err:
                e["LFS_FAULT_ERRNO"] = err
            kinds = k
        if kinds:
            e["LFS_FAULT_KINDS"] = kinds
        return e

    def run_op(self, op, v, env=None, nsteps=None):
        """Runs the operation (armed) and returns (exit status, message); the
        status is "timeout" when it did not finish in --op-timeout seconds
        (it is then killed with its whole process group)."""
        arm = os.path.join(v.dir, "armed")
        open(arm, "w").close()
        if op.kind == "cli":
            cmd = [self.env.lethefs] + op.cli(v)
        else:
            cmd = [sys.executable, os.path.join(lf.HERE, "operations.py"), "run", op.name,
                   v.mnt] + ([str(nsteps)] if nsteps else [])
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             errors="replace", env=env, start_new_session=True)
        timeout = op.timeout or self.args.op_timeout
        try:
            out, _ = p.communicate(timeout=timeout)
            return p.returncode, out.strip()[-300:]
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            return "timeout", "did not finish in %d s" % timeout
        finally:
            os.unlink(arm)

    # --- the count run ---------------------------------------------------------------
    def count(self, op, tpl):
        v = self.fresh(op, tpl, "count-" + op.name)
        names = Names()
        env = self.shim_env(v, None, 0)
        rc = msg = None
        if op.kind == "cli":
            rc, msg = self.run_op(op, v, env=dict(os.environ, LD_PRELOAD=self.env.shim, **env))
        else:
            v.mount(shim_env=env, opts=self.args.opts)
            names.learn(v.path, v.mnt)
            rc, msg = self.run_op(op, v)
            names.learn(v.path, v.mnt)
            urc = v.unmount()
            if urc != 0:
                raise RuntimeError("%s: daemon %s at unmount after a clean run" %
                                   (op.name, lf.describe_rc(urc)))
        if rc != 0:
            raise RuntimeError("%s: the operation fails without faults: %s %s" %
                               (op.name, rc, msg))
        calls = read_calls(os.path.join(v.dir, "calls.log"))
        after = self.state(v, op)
        after["middles"] = []
        for k in range(1, len(op.steps)):
            m = self.fresh(op, tpl, "middle-%s-%d" % (op.name, k))
            m.mount(opts=self.args.opts)
            rc, msg = self.run_op(op, m, nsteps=k)
            m.unmount()
            if rc != 0:
                raise RuntimeError("%s: step %d fails: %s" % (op.name, k, msg))
            after["middles"].append(self.state(m, op)["snap"])
            shutil.rmtree(m.dir)
            self.vaults.remove(m)
        if op.kind == "cli":
            # Names of an unmounted vault: learn them from the after-state.
            v.mount(label=after["unlocks"][0], opts=self.args.opts)
            names.learn(v.path, v.mnt)
            v.unmount()
        shutil.rmtree(v.dir)
        self.vaults.remove(v)
        return calls, after, names

    # --- one trial ---------------------------------------------------------------
    @contextlib.contextmanager
    def trial_vault(self, v, res, t0):
        """Around a trial on vault v: an exception of the harness becomes a
        HARNESS symptom of res, and v is removed whatever happened."""
        try:
            yield v
        except Exception as e:
            traceback.print_exc()
            res["symptoms"].append(("HARNESS", "harness error: %s" % e))
        finally:
            v.cleanup()
            self.vaults.remove(v)
            shutil.rmtree(v.dir, ignore_errors=True)
            res["seconds"] = round(time.monotonic() - t0, 2)

    def trial(self, op, tpl, mode, n, before, after, names, calls_by_n):
        """Runs the operation on a fresh copy with fault (mode, n) and checks
        the invariant. Returns a result dict; its symptoms are (category,
        text) pairs (states.CATEGORIES)."""
        res = {"op": op.name, "mode": mode, "n": n, "fired": True, "symptoms": []}
        t0 = time.monotonic()
        sym = res["symptoms"]
        base = None
        if mode == "fullfs":
            base = os.path.join(self.root, "fullfs-" + op.name)
            if not os.path.isdir(base):
                os.makedirs(base)
                fullfs.mount_small_fs(base, self.args.fullfs_mb, self.args.fullfs_fs)
        v = self.fresh(op, tpl, "trial", base)
        filler = os.path.join(base, "filler") if base else None
        with self.trial_vault(v, res, t0):
            env = None if mode == "fullfs" else self.shim_env(v, mode, n)
            crash = mode.startswith("crash")
            if op.kind == "cli":
                full_env = dict(os.environ, LD_PRELOAD=self.env.shim, **env) if env else None
                if filler:
                    fullfs.fill(base, n)
                rc, msg = self.run_op(op, v, env=full_env)
                res["op_result"] = rc
                if rc == "timeout":
                    sym.append(("DAEMON", "the command hung: %s" % msg))
                if filler:
                    os.unlink(filler)
                if crash and rc not in (0, 137):
                    sym.append(("DAEMON", "command %s instead of the injected crash: %s" %
                                (describe(rc), msg)))
                elif not crash and isinstance(rc, int) and rc < 0:
                    sym.append(("DAEMON", "command %s on the injected error" % describe(rc)))
            else:
                v.mount(shim_env=env, opts=self.args.opts)
                if filler:
                    fullfs.fill(base, n)
                rc, msg = self.run_op(op, v)
                res["op_result"] = rc
                d = v.daemon
                if rc == "timeout":
                    sym.append(("DAEMON", "the operation hung: %s; daemon log: %s" % (
                        msg, d.log_tail(2)[-300:])))
                crashed_in_log = any(c.outcome.startswith("crash") for c in
                                     read_calls(os.path.join(v.dir, "calls.log")))
                if crash:
                    drc = d.wait(5 if crashed_in_log else 0.3)
                    if drc is None:
                        v.unmount()  # the operation made fewer calls this time
                    else:
                        v.crashed()
                        if drc != 137:
                            sym.append(("DAEMON", "daemon %s (expected the injected _exit)"
                                        % lf.describe_rc(drc)))
                elif not d.alive():
                    sym.append(("DAEMON", "daemon died on the injected error: %s; log: %s" %
                                (lf.describe_rc(d.wait(1)), d.log_tail(3))))
                    v.crashed()
                else:
                    live = states.Snap(v.mnt)
                    which, items = states.judge(live, before["snap"], after["snap"],
                                                after["middles"], self.torn)
                    if which is None:
                        sym.append(("LIVE", "live mount after the error (operation %s): %s" % (
                            "succeeded" if rc == 0 else "failed", "; ".join(
                                t for _, t in items[:3]))))
                    if filler:
                        os.unlink(filler)
                    urc = v.unmount()
                    if urc != 0:
                        sym.append(("DAEMON", "daemon %s at unmount after the error%s" % (
                            lf.describe_rc(urc), "; threads: " + v.hang if v.hang else "")))
                if filler and os.path.exists(filler):
                    os.unlink(filler)
            trial_calls = read_calls(os.path.join(v.dir, "calls.log"))
            call = calls_by_n.get(n)
            for c in trial_calls:
                if c.outcome.startswith(("crash", "inject", "short")):
                    call = c
                    break
            res["call"] = describe_call(call, names) if env else \
                "%d free page(s)" % (n - 1)
            if env:
                res["fired"] = any(c.outcome.startswith(("crash", "inject", "short"))
                                   for c in trial_calls)
            if not res["fired"]:
                return res
            self.check_after(op, v, res, before, after, crash or op.kind == "cli", names,
                             call if env else None)
            return res
        return res  # after a harness error

    def check_after(self, op, v, res, before, after, early_fsck, names, call):
        """The invariant after the fault: fsck (as an administrator would run
        it at once), remount, state, clean unmount, fsck."""
        sym = res["symptoms"]
        local = Names()
        local.map = dict(names.map)
        if early_fsck:
            label = next((p for p in op.probes if v.unlocks(p)), None)
            if label is None:
                sym.append(("UNMOUNTABLE", "no secret unlocks the vault any more"))
                return
            frc, fout = v.fsck(label)
            if frc != 0:
                sym.append(("FSCK-EARLY", "fsck right after the fault: exit %d: %s" % (
                    frc, states.summarize_fsck(fout))))
        try:
            st = self.state(v, op, local)
        except lf.MountFailed as e:
            sym.append(("UNMOUNTABLE", "vault does not mount: %s; %s" % (e.rc, e.log[-300:])))
            return
        finally:
            if call is not None:
                res["call"] = describe_call(call, local)
        if st["rotation"] != "idle":
            sym.append(("DAEMON", "data-key rotation after the remount: %s" % st["rotation"]))
        if st["unlocks"] not in (before["unlocks"], after["unlocks"]):
            sym.append(("KEYS", "secrets that unlock: %s (before: %s, after: %s)" % (
                "+".join(st["unlocks"]), "+".join(before["unlocks"]),
                "+".join(after["unlocks"]))))
        which, items = states.judge(st["snap"], before["snap"], after["snap"], after["middles"],
                                   self.torn)
        res["state"] = which
        for sev, text in items[:4]:
            sym.append((sev, "after remount: " + text))
        if len(items) > 4:
            sym.append((items[4][0], "after remount: ... %d paths differ" % len(items)))
        if st["unmount_rc"] != 0:
            sym.append(("DAEMON", "daemon %s at unmount after the remount%s" % (
                lf.describe_rc(st["unmount_rc"]), "; threads: " + v.hang if v.hang else "")))
        frc, fout = v.fsck(st["unlocks"][0])
        if frc != 0:
            sym.append(("FSCK", "fsck after remount: exit %d: %s" % (frc, states.summarize_fsck(fout))))

    # --- per operation ----------------------------------------------------------------
    def sweep_op(self, op):
        t0 = time.monotonic()
        tpl = self.prepare_template(op)
        before = self.state(self.fresh(op, tpl, "before-" + op.name), op)
        calls, after, names = self.count(op, tpl)
        clean = None
        if op.preserves and before["snap"].tree != after["snap"].tree:
            # A bug without any fault: every trial would be judged against a
            # wrong after-state, so say it first.
            clean = {"op": op.name, "mode": "no-fault", "n": 0, "fired": True,
                     "call": "the operation run without faults",
                     "symptoms": [("LOSS", "changes the plaintext it must keep: " + t)
                                  for t in states.diff(after["snap"].tree,
                                                   before["snap"].tree)[:4]]}
            log("  FAIL %s without any fault: %s" % (op.name, " | ".join(
                t for _, t in clean["symptoms"])))
        if op.preserves:
            after["snap"] = before["snap"]  # the only right after-state
        by_kind = collections.Counter(c.kind for c in calls)
        log("%s: %d calls (%s)" % (op.name, len(calls),
                                  ", ".join("%s %d" % kv for kv in sorted(by_kind.items()))))
        if self.args.list_calls:
            for c in calls:
                log("    %3d %s%s" % (c.n, describe_call(c, names),
                                      "" if c.outcome == "ok" else " [%s]" % c.outcome))
        res = {"op": op.name, "note": op.note, "calls": len(calls), "by_kind": dict(by_kind),
               "call_list": ["%d %s" % (c.n, describe_call(c, names)) for c in calls],
               "trials": [clean] if clean else []}
        if clean:
            self.totals["worst: LOSS"] += 1
            self.totals["failing points"] += 1
        for mode in self.args.modes if op.faults else []:
            if mode in SHIM:
                kinds = SHIM[mode][2]
                sel = [c for c in calls if not kinds or c.kind in kinds.split(",")]
                ns = list(range(1, len(sel) + 1))
                calls_by_n = {i + 1: c for i, c in enumerate(sel)}
            else:
                ns = list(range(1, fullfs.pages_for(calls, self.args.max_pages) + 2))
                calls_by_n = {}
            if self.args.n:
                ns = [x for x in ns if x in self.args.n]
            if self.args.max_n and len(ns) > self.args.max_n and not full_sweep():
                step = len(ns) / self.args.max_n
                ns = sorted({ns[int(i * step)] for i in range(self.args.max_n)} | {ns[-1]})
            if self.args.sample > 1:
                every = len(ns)
                ns = sample(ns, self.args.sample, calls_by_n)
                log("  %s: %d of %d call numbers (the first and last, every %d-th, the first "
                    "of each kind)" % (mode, len(ns), every, self.args.sample))
            for n in ns:
                r = self.trial(op, tpl, mode, n, before, after, names, calls_by_n)
                res["trials"].append(r)
                self.count_trial(r, mode)
                if r["symptoms"]:
                    log("  FAIL %s %s N=%d [%s] -> %s: %s" % (
                        op.name, mode, n, r.get("call", ""), r.get("state"),
                        " | ".join("%s %s" % cs for cs in r["symptoms"])))
                elif self.args.verbose:
                    log("  ok   %s %s N=%d [%s] -> %s (%.1f s)" % (
                        op.name, mode, n, r.get("call", ""),
                        r.get("state") if r["fired"] else "not reached", r["seconds"]))
        res["seconds"] = round(time.monotonic() - t0, 1)
        self.results.append(res)
        shutil.rmtree(tpl.dir, ignore_errors=True)
        self.vaults.remove(tpl)
        fb = os.path.join(self.root, "fullfs-" + op.name)
        if os.path.isdir(fb):
            subprocess.run(["umount", fb])
            os.rmdir(fb)
            if os.path.exists(fb + ".img"):
                os.unlink(fb + ".img")

    def count_trial(self, r, mode):
        t = self.totals
        t["trials"] += 1
        if not r["fired"]:
            t["not reached"] += 1
            return
        if mode.startswith("crash"):
            t["crashes injected"] += 1
        elif mode == "fullfs":
            t["full-disk points (small fs)"] += 1
        elif mode.startswith("enospc") or mode == "edquot":
            t["ENOSPC/EDQUOT points"] += 1
        else:
            t["EIO points"] += 1
        cats = {c for c, _ in r["symptoms"]}
        if cats:
            t["failing points"] += 1
            worst = next(c for c in states.CATEGORIES if c in cats)
            t["worst: " + worst] += 1


def describe(rc):
    return lf.describe_rc(rc) if isinstance(rc, int) else str(rc)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--ops", default="all",
                    help="comma-separated operation names, 'all' or 'quick'")
    ap.add_argument("--modes", default=",".join(DEFAULT_MODES),
                    help="comma-separated, from: " + ", ".join(ALL_MODES) +
                    "; 'none': only the run without faults")
    ap.add_argument("--n", default="", help="only these call numbers (comma-separated)")
    ap.add_argument("--max-n", type=int, default=0,
                    help="at most this many call numbers per mode (evenly spread; ignored "
                    "when LETHEFS_FULL_SWEEP=1)")
    ap.add_argument("--sample", type=int, default=0, metavar="K",
                    help="a representative subset per mode: the first and last call, every "
                    "K-th, and the first of each distinct kind of call (ignored when "
                    "LETHEFS_FULL_SWEEP=1)")
    ap.add_argument("--max-pages", type=int, default=40,
                    help="fullfs: most free pages tried")
    ap.add_argument("--fullfs-mb", type=int, default=16)
    ap.add_argument("--fullfs-fs", choices=("tmpfs", "ext4"), default="tmpfs",
                    help="fullfs: the small file system (ext4: on a loop device)")
    ap.add_argument("--opts", default=None, help="mount options, e.g. no_writeback_cache")
    ap.add_argument("--backing", choices=("tmpfs", "disk"), default="tmpfs",
                    help="where the vaults live: a private tmpfs (default) or /tmp")
    ap.add_argument("--op-timeout", type=int, default=60)
    ap.add_argument("--json", help="write every result to this file")
    ap.add_argument("--list-calls", action="store_true", help="print each operation's calls")
    ap.add_argument("--count-only", action="store_true",
                    help="count and list the calls of each operation, inject nothing")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (implies --backing disk)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--list-ops", action="store_true")
    ap.add_argument("--power-cut", action="store_true",
                    help="power cuts instead of --modes (powercut_ops.py); mount options "
                    "default to powersafe (--opts default: none)")
    ap.add_argument("--seeds", default="1-4", help="--power-cut: seeds, e.g. 1-4,9")
    ap.add_argument("--quick", action="store_true",
                    help="--power-cut: cut only before each sync, after each rename, link "
                    "or unlink and at the end (at most %d), and after a command's exit"
                    % powercut_ops.QUICK_MAX)
    args = ap.parse_args()
    if args.list_ops:
        for o in operations.OPS:
            print("%-26s %-5s %s%s" % (o.name, o.kind, o.note, " [quick]" if o.quick else ""))
        return 0
    args.modes = [m for m in args.modes.split(",") if m and m != "none"]
    for m in args.modes:
        if m not in ALL_MODES:
            ap.error("unknown mode %s" % m)
    args.n = {int(x) for x in args.n.split(",") if x}
    if args.count_only:
        args.modes = []
        args.list_calls = True
    if args.ops == "all":
        ops = operations.OPS
    elif args.ops == "quick":
        ops = [o for o in operations.OPS if o.quick]
    else:
        ops = []
        for name in args.ops.split(","):
            if name not in operations.BY_NAME:
                ap.error("unknown operation %s (see --list-ops)" % name)
            ops.append(operations.BY_NAME[name])
    # A terminated sweep still unmounts what it mounted (finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    if os.geteuid() != 0:
        print("the sweep mounts FUSE and tmpfs file systems: run it as root", file=sys.stderr)
        return 2
    s = powercut_ops.make(Sweep, args) if args.power_cut else Sweep(args)
    t0 = time.monotonic()
    rc = 0
    try:
        for op in ops:
            try:
                s.sweep_op(op)
            except Exception as e:
                traceback.print_exc()
                log("HARNESS ERROR in %s: %s" % (op.name, e))
                s.totals["worst: HARNESS"] += 1
                rc = 2
    finally:
        s.cleanup()
    t = s.totals
    log("")
    if args.power_cut:
        return rc or powercut_ops.report(s, args, time.monotonic() - t0)
    log("fault sweep: %d operations, %d trials in %.0f s (mount options: %s)" % (
        len(s.results), t["trials"], time.monotonic() - t0, args.opts or "default"))
    for k in ("crashes injected", "ENOSPC/EDQUOT points", "EIO points",
              "full-disk points (small fs)", "not reached", "failing points"):
        log("  %-40s %d" % (k, t[k]))
    for c in states.CATEGORIES:
        if t["worst: " + c]:
            log("    worst symptom %-13s %5d  (%s)" % (c, t["worst: " + c], states.CATEGORY_HELP[c]))
    losses = sum(t["worst: " + c] for c in ("UNMOUNTABLE", "KEYS", "LOSS", "FSCK"))
    log("  %-40s %d" % ("losses (unmountable, keys, data, fsck)", losses))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"totals": dict(t), "mount_options": args.opts,
                       "fullfs_fs": args.fullfs_fs, "ops": s.results}, f, indent=1)
    if rc == 0 and (t["failing points"] or t["worst: HARNESS"]):
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
