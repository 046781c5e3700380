#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Turns the JSON of one or more sweeps (sweep.py --json) and kill runs
(kills.py --json) into a Markdown work list: per operation its calls, and
every failing point with the call it hit and its symptoms; points with the
same symptoms are grouped. When two sweeps hold the same operation and mode
(same mount options and file system), the later file's results are used.

Usage: report.py [--title T] [--calls] SWEEP.json [...] > KNOWN-FAILURES.md"""

import argparse
import collections
import json
import re
import sys

CATEGORIES = ["HARNESS", "UNMOUNTABLE", "KEYS", "LOSS", "FSCK", "DAEMON", "INTERMEDIATE",
              "FSCK-EARLY", "LIVE"]
MODES = ["no-fault", "crash-before", "crash-after", "enospc", "enospc-short", "enospc-strict",
         "eio", "eio-from", "edquot", "fullfs"]


def ranges(ns):
    ns = sorted(ns)
    out = []
    i = 0
    while i < len(ns):
        j = i
        while j + 1 < len(ns) and ns[j + 1] == ns[j] + 1:
            j += 1
        out.append(str(ns[i]) if i == j else "%d-%d" % (ns[i], ns[j]))
        i = j + 1
    return ",".join(out)


def signature(sym):
    """Symptoms with the parts that vary between trials (random backing
    names, temporary names, hashes) blurred, for grouping."""
    text = " | ".join("%s %s" % (c, t) for c, t in sym)
    text = re.sub(r"<backing name [^>]*>", "<backing name>", text)
    text = re.sub(r"\.lethefs\.tmp\.[0-9a-f]+", ".lethefs.tmp.X", text)
    text = re.sub(r"/[A-Za-z0-9_-]{18}\.\.\.", "/<enc>", text)
    text = re.sub(r"\b[0-9a-f]{8,16}\b", "#", text)
    return text


def worst(sym):
    cats = {c for c, _ in sym}
    return next((c for c in CATEGORIES if c in cats), "")


LOSS_CLASSES = ("UNMOUNTABLE", "KEYS", "LOSS", "FSCK")


def summary(files):
    t = collections.Counter()
    for f in files:
        try:
            r = json.load(open(f))
        except (OSError, ValueError) as e:
            print("%s: %s" % (f, e))
            continue
        for k, v in r["totals"].items():
            k = k.replace("(tmpfs)", "(small fs)")
            t[("kills " if "findings" in r and k.startswith("worst") else "") + k] += v
    print("fault tests, all runs:")
    for k, label in (("trials", "sweep trials"), ("crashes injected", "crashes injected"),
                     ("ENOSPC/EDQUOT points", "ENOSPC/EDQUOT points"),
                     ("EIO points", "EIO points"),
                     ("full-disk points (small fs)", "full-disk points (small fs)"),
                     ("kills", "kill -9 of the daemon"),
                     ("failing points", "failing sweep points")):
        print("  %-32s %d" % (label, t[k]))
    for c in CATEGORIES:
        n = t["worst: " + c] + t["kills worst: " + c]
        if n:
            print("    worst symptom %-16s %d" % (c, n))
    losses = sum(t["worst: " + c] + t["kills worst: " + c] for c in LOSS_CLASSES)
    print("  %-32s %d" % ("losses found", losses))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--title", default="Known failures of the fault sweep")
    ap.add_argument("--calls", action="store_true", help="list every operation's calls")
    ap.add_argument("--group-over", type=int, default=12,
                    help="group the failing points of an operation and mode by symptom when "
                    "there are more than this many")
    ap.add_argument("--failing-only", action="store_true",
                    help="details only for the operations with failing points")
    ap.add_argument("--summary", action="store_true",
                    help="print only the totals of the sweeps and kills (kills.py --json) given")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    if args.summary:
        return summary(args.files)
    loaded = [(f, json.load(open(f))) for f in args.files]
    kills = [(f, r) for f, r in loaded if "findings" in r]
    runs = [r for f, r in loaded if "findings" not in r]
    files = [f for f, r in loaded if "findings" not in r]
    print("# %s\n" % args.title)
    for f, r in zip(files, runs):
        t = r["totals"]
        print("- `%s` (mount options: %s): %d trials; %d crashes injected, %d ENOSPC/EDQUOT "
              "points, %d EIO points, %d full-disk points (%s); %d failing points" % (
                  f.split("/")[-1], r.get("mount_options") or "default", t.get("trials", 0),
                  t.get("crashes injected", 0), t.get("ENOSPC/EDQUOT points", 0),
                  t.get("EIO points", 0),
                  t.get("full-disk points (small fs)", t.get("full-disk points (tmpfs)", 0)),
                  r.get("fullfs_fs", "tmpfs"), t.get("failing points", 0)))
    for f, r in kills:
        print("- `%s` (mount options: %s): %d kills over %s, seed %d; %d with findings" % (
            f.split("/")[-1], r.get("mount_options") or "default", r["totals"].get("kills", 0),
            ", ".join(r["workloads"]), r["seed"], len(r["findings"])))
    print()
    ops = collections.OrderedDict()
    for r in runs:
        # The same operation under other mount options is another line.
        suffix = " (-o %s)" % r["mount_options"] if r.get("mount_options") else ""
        fs = ", %s" % r["fullfs_fs"] if r.get("fullfs_fs", "tmpfs") != "tmpfs" else ""
        for o in r["ops"]:
            # A later file replaces an earlier one's results for the same
            # operation and mode (a re-run after a change); other modes stay.
            key = o["op"] + suffix + fs
            trials = [x for x in o["trials"] if x]
            rerun = {x["mode"] for x in trials}
            if key in ops:
                trials = [x for x in ops[key]["trials"] if x["mode"] not in rerun] + trials
            ops[key] = {"op": o, "trials": trials}
    print("## Summary\n")
    print("Failing call numbers per mode (`-`: none; empty: not run). Worst class in the "
          "last column (docs/TESTING.md).\n")
    modes = [m for m in MODES if any(x["mode"] == m for e in ops.values() for x in e["trials"])]
    print("| operation | calls | " + " | ".join(modes) + " | worst |")
    print("|---|---:|" + "---|" * len(modes) + "---|")
    for name, e in ops.items():
        cells = []
        w = set()
        for m in modes:
            tr = [x for x in e["trials"] if x["mode"] == m]
            bad = [x["n"] for x in tr if x["symptoms"]]
            for x in tr:
                if x["symptoms"]:
                    w.add(worst(x["symptoms"]))
            cells.append("" if not tr else (ranges(bad) if bad else "-") if m != "no-fault"
                         else ("FAILS" if bad else "-"))
        wc = next((c for c in CATEGORIES if c in w), "")
        print("| %s | %d | %s | %s |" % (name, e["op"]["calls"], " | ".join(cells), wc))
    print()
    print("## Details\n")
    for name, e in ops.items():
        o = e["op"]
        failing = [x for x in e["trials"] if x["symptoms"]]
        kinds = ", ".join("%s %d" % kv for kv in sorted(o["by_kind"].items()))
        if args.failing_only and not failing:
            continue
        print("### %s\n" % name)
        print("%s%d calls (%s).\n" % (o["note"] + ". " if o.get("note") else "", o["calls"],
                                      kinds))
        if args.calls or (failing and o["calls"] <= 40):
            print("<details><summary>calls</summary>\n")
            for c in o["call_list"]:
                print("    " + c)
            print("\n</details>\n")
        if not failing:
            print("No failing point.\n")
            continue
        for m in MODES:
            tr = [x for x in failing if x["mode"] == m]
            if not tr:
                continue
            if len(tr) > args.group_over:
                groups = collections.OrderedDict()
                for x in tr:
                    groups.setdefault(signature(x["symptoms"]), []).append(x)
                print("- **%s**: %d failing points, %d kinds of symptoms:" % (
                    m, len(tr), len(groups)))
                for sig, xs in sorted(groups.items(), key=lambda g: CATEGORIES.index(
                        worst(g[1][0]["symptoms"]) or "LIVE")):
                    print("  - N=%s (e.g. N=%d at `%s`): %s" % (
                        ranges([x["n"] for x in xs]), xs[0]["n"], xs[0].get("call", "?"),
                        sig))
            else:
                for x in tr:
                    print("- **%s N=%d** `%s` -> %s: %s" % (
                        m, x["n"], x.get("call", "?"), x.get("state") or "neither",
                        " | ".join("%s %s" % (c, t) for c, t in x["symptoms"])))
        print()
    kill_findings(kills)


def kill_findings(kills):
    for f, r in kills:
        print("## Random kills (`%s`)\n" % f.split("/")[-1])
        if not r["findings"]:
            print("No finding.\n")
        for x in r["findings"]:
            print("- **%s, kill %d**: %s" % (x["workload"], x["kill"], " | ".join(
                "%s %s" % (c, t) for c, t in x["symptoms"])))
        print()


if __name__ == "__main__":
    sys.exit(main())
