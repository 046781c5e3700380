#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Power cuts at every backing-store call of small workloads, with a check
of every byte the application fsync'd (docs/TESTING.md, "A power cut").

For each scenario (tests/fault/powercut_work.py) and each call number N of
its unsynced part and each seed: a copy of a fresh vault is mounted with the
fault shim in power-cut mode; the workload writes and fsyncs its first part
unarmed, the shim is armed (everything written before counts as on disk),
the workload goes on; before call N the shim keeps or puts back each page
written since its file's last sync, and each such file's length (the seed
draws which), and the daemon exits. The vault is then remounted (recovery
runs), every fsync'd byte must read back, the daemon must exit 0 at unmount
and `lethefs fsck` must be clean.

Classes: LOSS (fsync'd bytes unreadable, different or missing; a committed
SQLite row missing or integrity_check failing), UNMOUNTABLE, DAEMON
(unmount status not 0), FSCK; reported but not failing: UNSYNCED-EIO (bytes
of the scenario's file written after its last fsync unreadable), EIO
(another file of the tree unreadable; the scenario's own check decides
what was lost), OTHER (past the fsync'd end, bytes neither written nor
zero; a file longer than written).

Against another build: --build DIR takes lethefs and the shim from DIR;
LETHEFS=/path/to/lethefs overrides the binary alone (the shim of this tree
with another tree's daemon).

Exit status: 0 when no trial fails, 1 with findings, 2 on a harness error."""

import argparse
import collections
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lfsfault as lf  # noqa: E402
from powercut_work import SCENARIOS  # noqa: E402

FAILING = ("UNMOUNTABLE", "LOSS", "DAEMON", "FSCK")
QUICK_MAX = 4
WORK = os.path.join(lf.HERE, "powercut_work.py")


class HarnessError(Exception):
    pass


def log(*a):
    print(*a, flush=True)


class Worker:
    """powercut_work.py run: a handshake over its stdin and stdout."""

    def __init__(self, scen, mnt, ackdir):
        self.p = subprocess.Popen([sys.executable, WORK, "run", scen, mnt, ackdir],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.buf = b""

    def wait_word(self, timeout):
        """The next line the worker prints ("" at its end or on timeout:
        the power went, or it hangs)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
                return ""
            chunk = os.read(self.p.stdout.fileno(), 4096)
            if not chunk:
                return ""
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").strip()

    def go(self):
        try:
            self.p.stdin.write(b"go\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass  # it stopped already (the power went): nothing to tell

    def finish(self, timeout=30):
        self.go()
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        rest = self.p.stdout.read() or b""
        return (self.buf + rest).decode(errors="replace").strip()[-300:]


class PowerCut:
    def __init__(self, args):
        self.args = args
        self.env = lf.Env(args.build)
        os.environ["LETHEFS"] = self.env.lethefs
        self.root = lf.new_root(prefix="powercut-")
        self.tmpfs = args.backing == "tmpfs"
        if self.tmpfs:
            # The model works on the page cache of any file system; a private
            # tmpfs keeps thousands of fsyncs and copies off the shared disk.
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1g,mode=0700", "tmpfs",
                            self.root], check=True)
        self.vaults = []
        self.tpl = self.vault("tpl")
        self.tpl.init()
        self.ntrial = 0

    def vault(self, name):
        v = lf.Vault(self.env, self.root, name)
        self.vaults.append(v)
        return v

    def cleanup(self):
        for v in self.vaults:
            v.cleanup()
        if self.args.keep:
            log("kept: %s%s (umount it, then remove it)" % (
                self.root, " (a tmpfs)" if self.tmpfs else ""))
            return
        if self.tmpfs and subprocess.run(["umount", self.root]).returncode != 0:
            log("could not unmount %s" % self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def calls(self, v):
        """(the highest call number logged, the lines the cut wrote, the
        numbers of the sync calls, every counted call as logged)."""
        top, cut, syncs, every = 0, [], [], []
        try:
            with open(os.path.join(v.dir, "calls.log")) as f:
                for line in f:
                    fields = line.rstrip("\n").split("\t")
                    if len(fields) > 2 and fields[1].isdigit():
                        top = max(top, int(fields[1]))
                        every.append(" ".join(fields[1:6]))
                        if fields[2] == "fsync":
                            syncs.append(int(fields[1]))
                    elif len(fields) > 1 and fields[1].startswith("power-cut"):
                        cut.append("\t".join(fields[1:]))
        except FileNotFoundError:
            pass
        return top, cut, syncs, every

    def trial(self, scen, n, seed):
        """One run; n = 0 counts the calls. Returns a result dict."""
        self.ntrial += 1
        v = self.vault("t%d" % self.ntrial)
        v.copy_from(self.tpl)
        ackdir = os.path.join(v.dir, "ack")
        os.makedirs(ackdir)
        res = {"scenario": scen, "n": n, "seed": seed, "cut": False, "findings": []}
        try:
            self.run_workload(v, scen, n, seed, ackdir, res)
            if res["cut"]:
                self.check(v, scen, ackdir, res)
        finally:
            v.cleanup()
            self.vaults.remove(v)
            if not self.args.keep:
                shutil.rmtree(v.dir, ignore_errors=True)
        return res

    def run_workload(self, v, scen, n, seed, ackdir, res):
        v.mount(shim_env=lf.power_env(v, n, seed), opts=self.args.opts)
        w = Worker(scen, v.mnt, ackdir)
        arm = os.path.join(v.dir, "armed")
        try:
            if w.wait_word(60) != "ready":
                raise HarnessError("%s: the unarmed part failed: %s" % (scen, w.finish()))
            open(arm, "w").close()
            w.go()
            word = w.wait_word(60)
            if word not in ("done", "") and not word.startswith("stopped"):
                raise HarnessError("%s: worker said %r" % (scen, word))
            # The call at N may come from the daemon's own work after the
            # worker's last request (a release): give it a moment.
            for _ in range(10):
                if not v.daemon.alive():
                    break
                time.sleep(0.05)
            res["top"], res["cutlog"], res["syncs"], calls = self.calls(v)
            if n == 0:
                res["calls"] = calls  # the numbering the trials cut in
            if v.daemon.alive():
                w.finish()
                rc = v.unmount()
                os.unlink(arm)
                if rc == 137:
                    # Call N came from the unmount's own writeback (pages the
                    # kernel had cached, an SQLite close): still a cut.
                    res["cut"] = True
                    res["top"], res["cutlog"], res["syncs"], _ = self.calls(v)
                elif rc != 0:
                    res["findings"].append(("DAEMON", "unmount without a cut: %s%s" % (
                        lf.describe_rc(rc), " " + v.hang if v.hang else "")))
                return
            rc = v.crashed()
            w.finish()
            os.unlink(arm)
            if rc == 99:
                raise HarnessError("%s: N=%d: the shim's pre-images went over its bound "
                                   "(LFS_FAULT_POWER_MAX_MB)" % (scen, n))
            if rc != 137:
                res["findings"].append(("DAEMON", "died with %s before the cut"
                                        % lf.describe_rc(rc)))
            res["cut"] = True
        finally:
            if w.p.poll() is None:
                w.finish(5)

    def check(self, v, scen, ackdir, res):
        f = res["findings"]
        try:
            v.mount(opts=self.args.opts)
        except lf.MountFailed as e:
            f.append(("UNMOUNTABLE", "remount: %s: %s" % (e.rc, e.log)))
            return
        try:
            p = subprocess.run([sys.executable, WORK, "verify", scen, v.mnt, ackdir],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=120)
            try:
                f += [tuple(x) for x in json.loads(p.stdout.strip().splitlines()[-1])]
            except (ValueError, IndexError):
                raise HarnessError("verify: %s" % p.stdout[-300:])
        except subprocess.TimeoutExpired:
            f.append(("DAEMON", "reading the remounted vault hung"))
        finally:
            rc = v.unmount()
        if rc != 0:
            f.append(("DAEMON", "unmount after the remount: %s" % lf.describe_rc(rc)))
        rc, out = v.fsck()
        allows = getattr(SCENARIOS[scen], "fsck_allows", None)
        if rc != 0 and not (allows and allows(out)):
            lines = [l for l in out.splitlines() if l.strip()]
            f.append(("FSCK", "fsck exit %d: %s" % (rc, " | ".join(lines[-3:]))))

    def sweep(self, scen):
        count = self.trial(scen, 0, 0)
        if count["findings"]:
            raise HarnessError("%s: fails without a cut: %s" % (scen, count["findings"]))
        top = count.get("top", 0)
        if top == 0:
            raise HarnessError("%s: no call counted while armed" % scen)
        ns = [n for n in (self.args.n or range(1, top + 1)) if n <= top]
        if self.args.quick:
            # Where the most is in the page cache and nothing synced yet:
            # before each sync (an SQLite commit's fsync) and the last call
            # (after every write of the workload); at most QUICK_MAX of them,
            # spread evenly, the last always.
            picks = sorted(set(count["syncs"]) | {top})
            if len(picks) > QUICK_MAX:
                step = len(picks) / QUICK_MAX
                picks = sorted({picks[int(i * step)] for i in range(QUICK_MAX)} | {top})
            ns = picks
        results = [count]
        for n in ns:
            for seed in self.args.seeds:
                r = self.trial(scen, n, seed)
                results.append(r)
                cls = sorted({c for c, _ in r["findings"]})
                if self.args.verbose or set(cls) & set(FAILING):
                    log("  %s N=%d seed=%d: %s%s" % (
                        scen, n, seed, ",".join(cls) or ("ok" if r["cut"] else "no cut"),
                        "".join("\n      %s %s" % x for x in r["findings"])))
                    if set(cls) & set(FAILING):
                        for line in r.get("cutlog", []):
                            log("      shim: %s" % line)
        return top, results


def summarise(scen, top, results):
    cut = [r for r in results if r["cut"]]
    failed = [r for r in cut if {c for c, _ in r["findings"]} & set(FAILING)]
    lost = [r for r in cut if any(c == "LOSS" for c, _ in r["findings"])]
    classes = collections.Counter(c for r in cut for c in {c for c, _ in r["findings"]})
    per_n = collections.Counter(r["n"] for r in lost)
    line = "%s: %d calls, %d trials cut, %d lost fsync'd data, %d failed%s" % (
        scen, top, len(cut), len(lost), len(failed),
        " (%s)" % ", ".join("%s %d" % kv for kv in sorted(classes.items())) if classes else "")
    if per_n:
        line += "\n  lost at N (trials): %s" % " ".join(
            "%d(%d)" % kv for kv in sorted(per_n.items()))
    if failed:
        r = failed[0]
        line += "\n  e.g. N=%d seed=%d: %s" % (r["n"], r["seed"], "; ".join(
            "%s %s" % x for x in r["findings"]))
    return line, bool(failed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"),
                    help="build directory (faultshim.so; lethefs unless $LETHEFS)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="comma-separated, of: %s" % ", ".join(SCENARIOS))
    ap.add_argument("--seeds", default="1-4", help="seeds, e.g. 1-4,9 (default 1-4)")
    ap.add_argument("--n", help="call numbers to cut at (default: every one)")
    ap.add_argument("--quick", action="store_true",
                    help="cut only before the syncs and at the last call (at most %d)"
                    % QUICK_MAX)
    ap.add_argument("--opts", help="mount options (-o)")
    ap.add_argument("--backing", choices=("tmpfs", "disk"), default="tmpfs")
    ap.add_argument("--json", help="write every result here")
    ap.add_argument("--keep", action="store_true", help="keep each trial's directory")
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.list:
        for s in SCENARIOS.values():
            print("%-11s %s" % (s.name, s.what))
        return 0
    args.seeds = lf.parse_list(args.seeds)
    args.n = lf.parse_list(args.n) if args.n else None
    names = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        ap.error("unknown scenario %s (--list)" % ", ".join(unknown))
    if os.geteuid() != 0:
        print("powercut.py mounts FUSE and tmpfs file systems: run it as root", file=sys.stderr)
        return 2
    pc = PowerCut(args)
    everything, lines, bad = [], [], False
    t0 = time.monotonic()
    try:
        for scen in names:
            top, results = pc.sweep(scen)
            everything += results
            line, failed = summarise(scen, top, results)
            bad |= failed
            lines.append(line)
            log(line)
    except HarnessError as e:
        log("harness error: %s" % e)
        return 2
    finally:
        pc.cleanup()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(everything, f, indent=1)
    log("power-cut sweep (%s, seeds %s) in %.0f s:\n%s" % (
        os.environ["LETHEFS"], ",".join(map(str, args.seeds)), time.monotonic() - t0,
        "\n".join(lines)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
