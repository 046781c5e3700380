#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Stack frames and stack wipes, from gcc's -fstack-usage (*.su) and
-fcallgraph-info=su (*.ci) files of a build (scripts/check-stack.sh).

Checks two things and exits 1 when either fails:

 1. no function has a frame over --max-frame bytes (secrets off the
    stack: buffers that large live in heap or sodium_malloc memory);
 2. every stack wipe covers what it claims: for each wipe in CLAIMS, the
    deepest chain of our own frames below the point where the wipe starts
    (the sum of the frames along the call graph), plus LIB_MARGIN for the
    frames of libc and libsodium that the compiler does not see, fits in
    the wiped size. sodium_stackzero(N) clears N bytes below the frame of
    its caller, which is where the wiped work's frames began.

The wipe sizes and recursion bounds are read from the sources, so that
changing a constant re-runs the proof. Indirect calls are resolved by the
INDIRECT rules; one that no rule covers, reached from a claim, fails the
check (add a rule). Usage: stack-depth.py BUILD_DIR SOURCE_DIR [--max-frame N]
"""
import glob
import os
import re
import sys

# Frames of library code (glibc's vfprintf and syslog, libsodium's AEAD,
# BLAKE2b and Argon2 entry points) are invisible here: this much is kept
# free for them below our deepest frame.
LIB_MARGIN = 8 * 1024

# (what, source file, wipe macro, roots). A root "f*" means every function
# whose name starts with f; a static function is "file.c:name".
CLAIMS = [
    ("gate: a FUSE handler, wiped after it returns", "fs/gate.c", "HANDLER_STACK_WIPE",
     ["lfs_op_*"]),
    ("rotation worker: a pass, wiped after it", "rotation/rotate.c", "ROTATION_STACK_WIPE",
     ["rotation/rotate.c:rotate_thread"]),
    ("rotation batches: the second thread, wiped when it ends", "rotation/batch.c",
     "LFS_ROT_FINISHER_WIPE", ["rotation/batch.c:finisher"]),
    ("control socket: a client (unlock), wiped after it", "daemon/control.c",
     "THREAD_STACK_WIPE", ["daemon/control.c:serve_client"]),
    ("control thread: the tick (idle lock, shreds), wiped after it", "daemon/control.c",
     "THREAD_STACK_WIPE", ["lfs_session_tick"]),
    ("lock: dropping the cached names, wiped after it", "daemon/session.c",
     "LOCKDOWN_STACK_WIPE", ["lfs_fs_lockdown"]),
    ("mount: the unlock before serving, wiped after it", "cli/cmd_mount.c",
     "UNLOCK_STACK_WIPE", ["lfs_open_and_unlock"]),
    ("shared write-behind: a queue's worker, wiped after each segment it writes",
     "fs/sharedwb.c", "WORKER_STACK_WIPE", ["fs/sharedwb.c:worker"]),
    ("helper pools: a helper's share of a job (READDIRPLUS entries, a write's blocks), wiped after it",
     "common/workpool.c", "LFS_WORKPOOL_STACK_WIPE", ["common/workpool.c:helper"]),
]

# Recursion is allowed only where it is bounded: function -> (source, macro
# of its deepest level); the chain then counts (bound + 1) of its frames.
RECURSION = {}

# Work that holds no key and no plaintext, so that what it leaves on the
# stack needs no wipe: its depth is not counted (it recurses over trees of
# any depth, bounded by the descriptor limit, not by a constant).
NO_SECRETS = {
    "staging/stage_store.c:remove_below": "removes a shredded tree by name",
    # remove_below inlined: the same walk (fs/treewalk.h over removal_*).
    "lfs_stage_remove_named_tree": "removes a shredded tree by name",
    "lfs_stage_sweep_markers": "reads marker symlinks of the backing tree",
}

# Indirect calls: (caller pattern, [callee patterns]); the first match wins.
INDIRECT = [
    # The core FUSE handlers call staging through fs/stage_hooks.h; so does
    # lfs_tree_fd, for the root of a staging directory's tree.
    # So does the shared write-behind's worker (a failed write's refund).
    (r"^(lfs_op_|lfs_lookup_backing$|fs/ops_|lfs_tree_fd$|fs/sharedwb\.c:)",
     [r"^staging/ops_stage\.c:hook_"]),
    # The helper pools (common/workpool.h) run a READDIRPLUS entry's lookup
    # or a share of a large write's blocks (whose caller seals its own
    # share by a direct call, fs/fileio_seal.c).
    (r"^(common/workpool\.c:|lfs_workpool_run$)",
     [r"^fs/ops_dir\.c:lookup_item$", r"^fs/fileio_seal\.c:seal_item$"]),
    # Name encryption picks libsodium functions from a table.
    (r"^fs/names\.c:", []),
    # The inode table's walks (fs/inode_sets.c) call the walker's function.
    (r"^(lfs_fs_for_each_inode|lfs_fs_for_each_in|fs/inode_sets\.c:run_snapshot)$",
     [r"^fs/lockdown\.c:", r"^staging/stage_inval\.c:", r"^fs/inode\.c:forget_cached$"]),
    # Event sinks (common/event.h) and the staging table's invalidation.
    (r"^(lfs_rot_audit|lfs_staging_|lfs_stage_audit$|lfs_stage_shred_audit$|staging/stage\.c:|staging/stage_shred\.c:|lfs_attr_report(_as)?$)",
     [r"^daemon/session\.c:emit_to_log$", r"^cli/cmd_shred_expired\.c:offline_audit$",
      r"^cli/fsck_staging\.c:fsck_audit$", r"^lfs_stage_invalidate$"]),
    (r"^lfs_stage_sweep_markers$", [r"^lfs_stage_is_dead$"]),
    (r"^lfs_vault_create$", [r"^lfs_dirmeta_create_root$", r"^cli/cmd_init\.c:make_root$"]),
    # The tree walker (fs/treewalk.h) calls its user's callbacks.
    (r"^(fs/treewalk\.c:(enter|leave)|lfs_treewalk)$",
     [r"^rotation/walk\.c:(enter|entry|leave|lost|keep_going)$",
      r"^cli/cmd_fsck\.c:fsck_(enter|entry|leave|lost)$"]),
    # The journal walks its slots with a callback, and replays records
    # through the caller's apply function (daemon/recover.h).
    (r"^journal/journal\.c:for_each_used$",
     [r"^journal/journal\.c:(count_used|collect_one|clear_if_rejected)$"]),
    # A file's re-encryption asks the rotation pass whether to go on.
    (r"^(lfs_refile_unsynced|rotation/refile\.c:refile)$",
     [r"^rotation/convert_file\.c:still_going$", r"^rotation/batch\.c:still_going$"]),
    (r"^lfs_journal_replay$",
     [r"^daemon/recover\.c:apply$", r"^keymgmt/vault_slots\.c:install_keyring$",
      r"^cli/cmd_fsck\.c:note_target$"]),
    # Shared mode (docs/SHARED.md): the audit sink of lapsed hosts'
    # recovery, the host records' visitors, the keyring's re-read when an
    # epoch is unknown, and the message while waiting for the keyslot lock.
    (r"^daemon/shared\.c:recover_journal$", [r"^daemon/session\.c:emit_to_log$"]),
    (r"^lfs_hosts_list$",
     [r"^daemon/shared\.c:visit_host$", r"^cli/cmd_info\.c:print_host$",
      r"^rotation/coord\.c:check_host$", r"^cluster/lease\.c:(describe_one|only_commands)$"]),
    (r"^lfs_keyring_get$", [r"^lfs_shared_refresh_keys$"]),
    (r"^lfs_keyring_refresh$", [r"^lfs_shared_refresh_keys$"]),
    (r"^lfs_vault_lock_slots$", [r"^cli/(cmd_rekey|slotchange)\.c:say_waiting$"]),
]

NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def macro(src_dir, path, name):
    """The value of '#define NAME <arithmetic>' in a source file."""
    text = open(os.path.join(src_dir, path)).read()
    m = re.search(r"^#define\s+%s\s+(.+)$" % name, text, re.M)
    if not m:
        sys.exit("stack: %s defines no %s" % (path, name))
    expr = re.sub(r"/\*.*?\*/", "", m.group(1)).strip()
    if not re.fullmatch(r"[0-9()*+ ]+", expr):
        sys.exit("stack: %s in %s is not plain arithmetic: %s" % (name, path, expr))
    return eval(expr)  # digits, parentheses, + and * only (checked above)


def load(build):
    frames, files, calls = {}, {}, {}
    for path in glob.glob(os.path.join(build, "**", "*.ci"), recursive=True):
        for line in open(path):
            m = NODE.match(line)
            if m:
                title, label = m.groups()
                b = re.search(r"\\n(\d+) bytes", label)
                if b:
                    frames[title] = int(b.group(1))
                    files[title] = label.split("\\n")[1].split(":")[0]
                continue
            m = EDGE.match(line)
            if m:
                calls.setdefault(m.group(1), set()).add(m.group(2))
    return frames, files, calls


def main():
    args = sys.argv[1:]
    max_frame = 16384
    if "--max-frame" in args:
        i = args.index("--max-frame")
        max_frame = int(args[i + 1])
        del args[i:i + 2]
    build, src = args
    frames, files, calls = load(build)
    if not frames:
        sys.exit("stack: no call graph in %s (built with -fcallgraph-info=su?)" % build)
    bad = []

    # 1. Frames, from the .su files (the same numbers as the .ci labels).
    worst = []
    for path in glob.glob(os.path.join(build, "**", "*.su"), recursive=True):
        for line in open(path):
            where, size, _ = line.rstrip("\n").split("\t")
            worst.append((int(size), where))
    worst.sort(reverse=True)
    for size, where in worst:
        if size > max_frame:
            bad.append("frame of %s is %d bytes (limit %d)" % (where, size, max_frame))
    print("stack: largest frames: " +
          ", ".join("%s %d" % (w.split(":")[-1], s) for s, w in worst[:4]))

    # 2. Wipes.
    bounds = {f: macro(src, p, m) + 1 for f, (p, m) in RECURSION.items()}
    unresolved = set()

    def indirect(caller):
        for pat, targets in INDIRECT:
            if re.search(pat, caller):
                return [t for t in frames if any(re.search(x, t) for x in targets)]
        unresolved.add(caller)
        return []

    memo = {}

    def depth(fn, path):
        """Deepest sum of our frames from fn down, and that chain."""
        if fn in memo:
            return memo[fn]
        if fn in NO_SECRETS:
            return (0, ["%s (no secrets: %s)" % (fn.split(":")[-1], NO_SECRETS[fn])])
        own = frames.get(fn, 0)
        best = (0, [])
        for callee in calls.get(fn, ()):
            for c in indirect(fn) if callee == "__indirect_call" else [callee]:
                if c == fn and fn in bounds:
                    continue  # counted below
                if c in path:
                    bad.append("unbounded recursion: %s" % " > ".join(path + (c,)))
                    continue
                d = depth(c, path + (c,))
                if d[0] > best[0]:
                    best = d
        levels = bounds.get(fn, 1)
        tag = "%s %d%s" % (fn.split(":")[-1], own, " x%d" % levels if levels > 1 else "")
        memo[fn] = (own * levels + best[0], [tag] + best[1])
        return memo[fn]

    for what, path, name, roots in CLAIMS:
        wipe = macro(src, path, name)
        found = []
        for root in roots:
            if root.endswith("*"):
                found += [t for t in frames if t.startswith(root[:-1])]
            elif root in frames:
                found.append(root)
            else:
                bad.append("%s: no function %s in the call graph" % (what, root))
        if not found:
            continue
        need, chain = max((depth(r, (r,)) for r in found), key=lambda d: d[0])
        ok = need + LIB_MARGIN <= wipe
        print("stack: %s: %s = %d bytes: deepest chain %d + %d for libraries: %s" %
              (what, name, wipe, need, LIB_MARGIN, "covered" if ok else "NOT covered"))
        print("       " + " > ".join(chain))
        if not ok:
            bad.append("%s: %s (%d) < %d" % (what, name, wipe, need + LIB_MARGIN))
    for caller in sorted(unresolved):
        bad.append("indirect call in %s: no rule in INDIRECT says what it calls" % caller)

    for b in bad:
        print("stack: " + b)
    if bad:
        print("stack: FAILED")
        return 1
    print("stack: every frame <= %d bytes, every wipe covers its work" % max_frame)
    return 0


if __name__ == "__main__":
    sys.exit(main())
