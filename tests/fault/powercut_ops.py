# SPDX-License-Identifier: Apache-2.0
"""The operation sweep under power cuts (sweep.py --power-cut; docs/TESTING.md,
"Power cuts in the operation sweep").

The operations, their templates and their before-, after- and middle
states are sweep.py's (operations.py); the fault is the shim's power-cut
mode (faultshim_power.c): at call N of the operation each page written
since its file's last sync, and each such file's length, is kept or put
back as LFS_FAULT_SEED draws, then the process exits 137. Arming is a sync
point: the template (its setup fsync'd everything) counts as on disk.

Two more cut points check what a finished operation promised: for an
operation through the mount, the helper prints operations.DONE when every
step returned and then sets a directory's times again (a counted call),
so the last call number cuts after the operation; for a command (keyslot, passwd,
rekey, shred-expired), LFS_FAULT_CUT_AT_EXIT=1 cuts when it exits with
success (N past its last call).

The promise checked after the remount:
  - every file's contents that were durable before and survive the
    operation are somewhere in the tree, readable (a rename cut midway may
    show either name, never neither);
  - each path is as before, as after or as between two of the operation's
    steps; bytes of a file it had on disk before are as before or as
    written (lost_byte); paths the operation creates may hold anything
    until its sync returned (UNSYNCED, reported only);
  - once the operation returned (and it syncs: operations.Op.syncs), the
    state is the after-state, and the secrets that unlock are the new
    ones; before that the old or the new ones;
  - the vault mounts, rotation settles, the daemon exits 0, `lethefs fsck`
    and `lethefs audit verify` are clean; fsck may report corrupt blocks
    only in files the operation made and had not synced yet (their torn
    pages: FSCK-UNSYNCED, reported only).
Failing classes: UNMOUNTABLE, KEYS, LOSS, FSCK, AUDIT, DAEMON."""

import collections
import json
import os
import shutil
import time

import lfsfault as lf
import operations
import states
from calllog import Call, Names, describe_call

FAILING = ("HARNESS", "UNMOUNTABLE", "KEYS", "LOSS", "FSCK", "AUDIT", "DAEMON")
QUICK_MAX = 8


def log(*a):
    print(*a, flush=True)


def read_log(path):
    """(counted calls, the shim's power-cut lines) of a call log."""
    calls, cut = [], []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) > 2 and fields[1].isdigit():
                    calls.append(Call(line))
                elif len(fields) > 1 and fields[1].startswith("power-cut"):
                    cut.append(" ".join(fields[1:]))
    except FileNotFoundError:
        pass
    return calls, cut


def quick_points(calls, top):
    """Where the most is unsynced: before each sync, right after each
    rename, link or unlink (a name made to depend on data not yet synced),
    and after the last call; at most QUICK_MAX, evenly spread."""
    picks = {c.n for c in calls if c.kind == "fsync"}
    picks |= {c.n + 1 for c in calls if c.kind in ("rename", "link", "unlink")}
    picks = sorted(n for n in picks | {top} if n <= top)
    if len(picks) > QUICK_MAX:
        step = len(picks) / QUICK_MAX
        picks = sorted({picks[int(i * step)] for i in range(QUICK_MAX)} | {top})
    return picks


def contents_index(snap):
    """sha of every readable file's contents -> a path holding them."""
    out = {}
    for p, e in snap.tree.items():
        if e[0] == "file" and not isinstance(e[4][0], str):
            out.setdefault(e[4], p)
    return out


def judge(cur, before, after, middles, done):
    """(which state, [(class, text)]) for the state after a power cut."""
    refs = [after] if done else [before, after] + list(middles)
    names = ["after"] if done else ["before", "after"] + [
        "step %d" % k for k in range(1, len(middles) + 1)]
    for name, r in zip(names, refs):
        if cur.tree == r.tree:
            return name, []
    items = []
    have = contents_index(cur)
    kept = contents_index(after)
    for key, p in contents_index(before).items():
        if key in kept and key not in have:
            items.append(("LOSS", "%s: its durable contents (%d bytes) are nowhere in the "
                          "tree" % (states.short(p), key[0])))
    for p in sorted(set(cur.tree) | set(before.tree) | set(after.tree)):
        c = cur.tree.get(p)
        cands = [r.tree.get(p) for r in refs]
        if c in cands:
            continue
        sp = states.short(p)
        b, a = before.tree.get(p), after.tree.get(p)
        if done:
            items.append(("LOSS", "%s: %s after the operation returned (after: %s)" % (
                sp, states.describe_entry(c, a), states.describe_entry(a, c))))
            continue
        if b is None:
            # Made by the operation, not synced yet: anything goes.
            items.append(("UNSYNCED", "%s: %s" % (sp, states.describe_entry(c))))
            continue
        if c is None:
            items.append(("LOSS", "%s: missing (before: %s; after: %s)" % (
                sp, states.describe_entry(b), states.describe_entry(a))))
            continue
        if c[0] == "file" and b[0] == "file":
            old, now = before.contents.get(p, b""), cur.contents.get(p, b"")
            if isinstance(c[4][0], str):
                at = c[4][2] if len(c[4]) > 2 else 0
                cls = "UNSYNCED" if at >= len(old) else "LOSS"
                items.append((cls, "%s: %s (%d bytes durable before)" % (
                    sp, states.describe_entry(c), len(old))))
                continue
            off = states.lost_byte(old, now, after.contents.get(p))
            if off is not None:
                items.append(("LOSS", "%s: byte %d is neither as before nor as after (%s)" % (
                    sp, off, states.describe_entry(c))))
            else:
                items.append(("INTERMEDIATE", "%s: %s, every byte as before or as after" % (
                    sp, states.describe_entry(c))))
            continue
        if "ERR-" in repr(c):
            items.append(("LOSS", "%s: %s" % (sp, states.describe_entry(c))))
            continue
        items.append(("INTERMEDIATE", "%s: %s (before: %s, after: %s)" % (
            sp, states.describe_entry(c), states.describe_entry(b), states.describe_entry(a))))
    items.sort(key=lambda x: x[0] != "LOSS")
    return None, items


class PowerSweep:
    """Mixed into sweep.Sweep (see make_power_sweep): the trials and the
    per-operation loop of the power-cut model."""

    def run_op(self, op, v, env=None, nsteps=None):
        if op.kind != "cli" and nsteps is None:
            env = dict(os.environ, LFS_POWERCUT_MARKER="1")
        return super().run_op(op, v, env=env, nsteps=nsteps)

    def power_trial(self, op, tpl, n, seed, before, after, names):
        res = {"op": op.name, "mode": "power-cut", "n": n, "seed": seed, "fired": False,
               "symptoms": [], "cut": []}
        t0 = time.monotonic()
        sym = res["symptoms"]
        v = self.fresh(op, tpl, "trial")
        env = lf.power_env(v, n, seed)
        with self.trial_vault(v, res, t0):
            if op.kind == "cli":
                env["LFS_FAULT_CUT_AT_EXIT"] = "1"
                rc, msg = self.run_op(op, v, env=dict(os.environ, LD_PRELOAD=self.env.shim,
                                                      **env))
                done = rc == 0
                if rc not in (0, 137):
                    sym.append(("DAEMON", "command %s: %s" % (rc, msg[-200:])))
            else:
                v.mount(shim_env=env, opts=self.args.opts)
                rc, msg = self.run_op(op, v)
                done = operations.DONE in msg
                calls, _ = read_log(os.path.join(v.dir, "calls.log"))
                cut = any(c.outcome == "power-cut" for c in calls)
                drc = v.daemon.wait(5 if cut else 0.5)
                if drc is None:
                    v.unmount()
                else:
                    v.crashed()
                    if drc != 137:
                        sym.append(("DAEMON", "daemon %s (expected the cut's exit 137)" %
                                    lf.describe_rc(drc)))
                if not done and rc == 0:
                    sym.append(("HARNESS", "the operation returned without %s" %
                                operations.DONE))
            calls, res["cut"] = read_log(os.path.join(v.dir, "calls.log"))
            at = next((c for c in calls if c.outcome == "power-cut"), None)
            res["fired"] = at is not None or "power-cut-exit" in res["cut"]
            res["done"] = done
            res["call"] = describe_call(at, names) if at else (
                "after the command's exit" if res["fired"] else "not reached")
            if res["fired"]:
                self.check_power(op, v, res, before, after, done, names)
            return res
        return res  # after a harness error

    def check_power(self, op, v, res, before, after, done, names):
        sym = res["symptoms"]
        local = Names()
        local.map = dict(names.map)
        try:
            st = self.state(v, op, local)
        except lf.MountFailed as e:
            sym.append(("UNMOUNTABLE", "vault does not mount: %s; %s" % (e.rc, e.log[-300:])))
            return
        want = [after["unlocks"]] if done else [before["unlocks"], after["unlocks"]]
        if st["unlocks"] not in want:
            sym.append(("KEYS", "secrets that unlock: %s (before: %s, after: %s%s)" % (
                "+".join(st["unlocks"]), "+".join(before["unlocks"]),
                "+".join(after["unlocks"]), ", the command had succeeded" if done else "")))
        if st["rotation"] != "idle":
            sym.append(("DAEMON", "data-key rotation after the remount: %s" % st["rotation"]))
        which, items = judge(st["snap"], before["snap"], after["snap"], after["middles"],
                             done and op.syncs)
        res["state"] = which
        sym += items[:4]
        if st["unmount_rc"] != 0:
            sym.append(("DAEMON", "daemon %s at unmount after the remount" %
                        lf.describe_rc(st["unmount_rc"])))
        label = st["unlocks"][0]
        frc, fout = v.fsck(label)
        if frc != 0:
            # Torn blocks of a file made and not synced yet are what a
            # power cut leaves; fsck is right to call them corrupt.
            new = [p for p in st["snap"].tree if p not in before["snap"].tree]
            bad = [l for l in fout.splitlines() if l.startswith("CORRUPT") and not any(
                l.startswith("CORRUPT %s:" % p) for p in new)]
            cls = "FSCK" if bad or done or not any(
                l.startswith("CORRUPT") for l in fout.splitlines()) else "FSCK-UNSYNCED"
            sym.append((cls, "fsck: exit %d: %s" % (frc, states.summarize_fsck(fout))))
        p = v.run_cli(["audit", "verify", "--passfile", v.passfiles[label], v.path])
        if p.returncode != 0:
            sym.append(("AUDIT", "audit verify: exit %d: %s" % (
                p.returncode, p.stdout.strip()[-200:])))

    def sweep_op(self, op):
        if not op.faults:
            return
        t0 = time.monotonic()
        states.CHUNK = 4096  # a read error's offset to the block
        tpl = self.prepare_template(op)
        before = self.state(self.fresh(op, tpl, "before-" + op.name), op)
        calls, after, names = self.count(op, tpl)
        if op.preserves:
            after["snap"] = before["snap"]
        top = max((c.n for c in calls), default=0)
        ns = list(range(1, top + 1))
        if self.args.n:
            ns = [x for x in ns if x in self.args.n]
        elif self.args.quick:
            ns = quick_points(calls, top)
        if op.kind == "cli" and (not self.args.n or top + 1 in self.args.n):
            ns.append(top + 1)  # after the command's success
        log("%s: %d calls, cut at %d of them%s x %d seeds" % (
            op.name, top, len(ns), " (+ exit)" if op.kind == "cli" else "",
            len(self.args.seeds)))
        if self.args.list_calls:
            for c in calls:
                log("    %3d %s" % (c.n, describe_call(c, names)))
        res = {"op": op.name, "calls": top, "trials": []}
        for n in ns if op.faults else []:
            for seed in self.args.seeds:
                r = self.power_trial(op, tpl, n, seed, before, after, names)
                res["trials"].append(r)
                self.count_power(r)
                bad = [s for s in r["symptoms"] if s[0] in FAILING]
                if bad or (self.args.verbose and r["fired"]):
                    log("  %s %s N=%d seed=%d [%s]%s -> %s: %s" % (
                        "FAIL" if bad else "ok  ", op.name, n, seed, r.get("call", ""),
                        " (returned)" if r.get("done") else "", r.get("state"),
                        " | ".join("%s %s" % s for s in r["symptoms"]) or "-"))
                    if bad:
                        for line in r["cut"]:
                            log("      shim: %s" % line)
        res["seconds"] = round(time.monotonic() - t0, 1)
        self.results.append(res)
        shutil.rmtree(tpl.dir, ignore_errors=True)
        self.vaults.remove(tpl)

    def count_power(self, r):
        t = self.totals
        t["trials"] += 1
        if not r["fired"]:
            t["not reached"] += 1
            return
        t["power cuts"] += 1
        cats = {c for c, _ in r["symptoms"]}
        if cats & set(FAILING):
            t["failing points"] += 1
            t["worst: " + next(c for c in FAILING if c in cats)] += 1


def summary(results):
    """One line per operation: cuts, failing cuts by class."""
    lines = []
    for res in results:
        cut = [r for r in res["trials"] if r["fired"]]
        cls = collections.Counter()
        ns = set()
        for r in cut:
            bad = {c for c, _ in r["symptoms"] if c in FAILING}
            for c in bad:
                cls[c] += 1
            if bad:
                ns.add(r["n"])
        failed = sum(1 for r in cut if {c for c, _ in r["symptoms"]} & set(FAILING))
        lines.append("%-26s %4d calls %5d cuts %4d failing%s" % (
            res["op"], res["calls"], len(cut), failed,
            " (%s; N %s)" % (", ".join("%s %d" % kv for kv in sorted(cls.items())),
                              ",".join(map(str, sorted(ns)))) if failed else ""))
    return lines


def make(sweep_class, args):
    """The sweep object for --power-cut: --seeds parsed, -o powersafe unless
    --opts says otherwise (--opts default: none)."""
    args.seeds = lf.parse_list(args.seeds)
    if args.opts is None:
        args.opts = "powersafe"
    elif args.opts == "default":
        args.opts = None
    return type("PowerCutSweep", (PowerSweep, sweep_class), {})(args)


def report(s, args, seconds):
    """Prints the totals and one line per operation, writes --json; the
    exit status (1 when a cut failed)."""
    t = s.totals
    log("power-cut sweep: %d operations, %d trials, %d cuts, %d failing, seeds %s, in %.0f s "
        "(mount options: %s)" % (len(s.results), t["trials"], t["power cuts"],
                                 t["failing points"], ",".join(map(str, args.seeds)), seconds,
                                 args.opts))
    for line in summary(s.results):
        log("  " + line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"totals": dict(t), "mount_options": args.opts, "ops": s.results}, f,
                      indent=1)
    return 1 if t["failing points"] or t["worst: HARNESS"] else 0
