# SPDX-License-Identifier: Apache-2.0
"""The soak's figures: a progress line each minute and the final report
(Markdown, the same text on standard output and in --report)."""

import collections
import time


def _work(soak):
    total = collections.Counter()
    for w in getattr(soak, "all_workers", []):
        total.update(w.stats)
    return total


def figures(soak):
    f = dict(soak.figures)
    rec = f.pop("recovery_seconds")
    f["recovery_seconds_max"] = round(max(rec), 2) if rec else 0
    f["recovery_seconds_mean"] = round(sum(rec) / len(rec), 2) if rec else 0
    f.update(_work(soak))
    f["findings"] = len(soak.findings)
    return f


def progress_line(soak):
    f = soak.figures
    w = _work(soak)
    return ("soak %5.0f s: %d kills, %d rotations, %d lock cycles, %d staging expiries, "
            "%.1f MB acknowledged, %d commits, %d losses, %d findings" %
            (time.monotonic() - soak.start, f["kills"], f["rotations_completed"],
             f["lock_cycles"], f["stage_expiries_verified"], w["bytes_acked"] / 1e6,
             w["commits"], f["losses"], len(soak.findings)))


ROWS = [
    ("elapsed_seconds", "seconds run"),
    ("kills", "kill -9 of the daemon"),
    ("kills_during_rotation", "  of them while a rotation converted"),
    ("recovery_seconds_mean", "kill to verified remount, mean s"),
    ("recovery_seconds_max", "kill to verified remount, max s"),
    ("remounts_writeback", "mounts with the writeback cache"),
    ("remounts_no_writeback", "mounts without it"),
    ("fsck_runs", "fsck runs (after each kill, at the end)"),
    ("fsck_pending", "records fsck found pending (completed by the next mount)"),
    ("rotations_started", "rotations started"),
    ("rotations_completed", "rotations completed"),
    ("lock_cycles", "lock/unlock cycles"),
    ("stages_created", "staging directories created"),
    ("stage_expiries_verified", "staging expiries verified (gone from mount and index)"),
    ("appends", "appends fsync'd"),
    ("truncates", "shrinking truncates fsync'd"),
    ("bytes_acked", "bytes appended and acknowledged"),
    ("block_writes", "4 KiB blocks rewritten in place and fsync'd"),
    ("commits", "SQLite commits (WAL and rollback journal)"),
    ("rows", "SQLite rows inserted"),
    ("creates", "files created (write, fsync, rename, fsync dir)"),
    ("renames", "renames across directories"),
    ("deletes", "deletes"),
    ("dir_cycles", "mkdir/rmdir cycles"),
    ("reads", "reader passes over files being written"),
    ("inflight_zero_reads", "reads that saw an unreturned append as zeros (no writeback cache; DESIGN.md known gaps)"),
    ("bytes_read", "bytes checked by readers"),
    ("bytes_verified", "bytes checked after remounts"),
    ("rows_verified", "SQLite rows checked after remounts"),
    ("interrupted", "worker operations interrupted by kills"),
    ("reconciled", "files carrying unacknowledged bytes after a kill"),
    ("losses", "acknowledged data lost"),
    ("findings", "findings (losses, errors, refusals)"),
]


def render(soak):
    f = figures(soak)
    lines = ["# lethefs soak report", "",
             "seed %d, work directory %s" % (f["seed"], soak.workdir), "",
             "| figure | value |", "|---|---|"]
    for key, label in ROWS:
        v = f.get(key, 0)
        lines.append("| %s | %s |" % (label, ("%.1f" % v) if isinstance(v, float) else v))
    lines += ["", "## Findings", ""]
    with soak.findings.lock:
        items = list(soak.findings.items)
    if not items:
        lines.append("none")
    for t, who, what in items[:200]:
        lines.append("- %7.1f s %s: %s" % (t, who, what))
    if len(items) > 200:
        lines.append("- ... and %d more" % (len(items) - 200))
    return "\n".join(lines) + "\n"
