# SPDX-License-Identifier: Apache-2.0
"""Plaintext states of a mounted tree and how a state after a fault is
judged against the states before and after the operation (docs/TESTING.md:
the invariant and its classes of symptoms)."""

import errno
import hashlib
import os
import stat


def errname(e):
    return errno.errorcode.get(e, str(e))


CHUNK = 1 << 20  # bytes per read (sweep.py --power-cut: one block, to place an error)


def read_all(path, keep=None):
    """(size, sha256) of a file's contents, or ('ERR-...', errno name,
    offset). With keep (a list), the bytes read are appended to it. An error
    from close() is ignored: the kernel hands a pending writeback error to
    whoever closes the file next, which says nothing about its contents."""
    h = hashlib.sha256()
    n = 0
    chunks = []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        return ("ERR-open", errname(e.errno))
    try:
        while True:
            try:
                b = os.read(fd, CHUNK)
            except OSError as e:
                if keep is not None:
                    keep.append(b"".join(chunks))
                return ("ERR-read", errname(e.errno), n)
            if not b:
                break
            h.update(b)
            chunks.append(b)
            n += len(b)
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    if keep is not None:
        keep.append(b"".join(chunks))
    return (n, h.hexdigest()[:16])


def xattrs_of(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        return ("ERR-listxattr", errname(e.errno))
    out = []
    for n in sorted(names):
        if not n.startswith("user.") or n.startswith("user.lethefs."):
            continue
        try:
            v = os.getxattr(path, n, follow_symlinks=False)
            out.append((n, hashlib.sha256(v).hexdigest()[:12]))
        except OSError as e:
            out.append((n, "ERR-" + errname(e.errno)))
    return tuple(out)


def is_staging(path):
    try:
        os.getxattr(path, "user.lethefs.id", follow_symlinks=False)
        return True
    except OSError:
        return False


def snapshot(root, contents=None):
    """The plaintext state of the tree under root: for every path, its type,
    mode, link count (files), contents digest or the error reading gave,
    symlink target, user xattrs, and whether a directory is a staging
    directory. Times are left out. With contents (a dict), each file's bytes
    (the readable prefix of an unreadable one) are stored in it."""
    state = {}

    def visit(path, rel):
        try:
            st = os.lstat(path)
        except OSError as e:
            state[rel] = ("ERR-lstat", errname(e.errno))
            return
        # The owner travels with the mode: both are one sealed record
        # (a header's, or an inode attribute's with -o iattr).
        mode = "%s %d:%d" % (oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid)
        if stat.S_ISREG(st.st_mode):
            keep = [] if contents is not None else None
            state[rel] = ("file", mode, st.st_nlink, st.st_size, read_all(path, keep),
                          xattrs_of(path))
            if keep:
                contents[rel] = keep[0]
        elif stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(path)
            except OSError as e:
                target = "ERR-" + errname(e.errno)
            state[rel] = ("symlink", target, xattrs_of(path))
        elif stat.S_ISDIR(st.st_mode):
            state[rel] = ("dir", mode, xattrs_of(path), is_staging(path))
            try:
                names = sorted(os.listdir(path))
            except OSError as e:
                state[rel + "/*"] = ("ERR-listdir", errname(e.errno))
                return
            for n in names:
                visit(os.path.join(path, n), (rel.rstrip("/") + "/" + n))
        else:
            state[rel] = ("other", stat.S_IFMT(st.st_mode), mode)

    visit(root, "/")
    return state


def short(path, n=60):
    return path if len(path) <= n else path[:n // 2] + "..." + path[-(n // 2 - 3):]


def describe_entry(e, other=None):
    """An entry of a snapshot in words; with other (the entry it is compared
    with), only what differs."""
    if e is None:
        return "absent"
    if e[0] == "file":
        if other is not None and other[0] == "file" and other[:5] == e[:5]:
            return "file with xattrs %s" % (e[5],)
        if other is not None and other[0] == "file" and other[3:5] == e[3:5]:
            return "file mode %s, %d links" % (e[1], e[2])
        c = e[4]
        if isinstance(c[0], str):
            return "file size %d, reading fails %s%s" % (
                e[3], c[1], " at offset %d" % c[2] if len(c) > 2 else "")
        return "file size %d (reads %d bytes, %s)" % (e[3], c[0], c[1][:8])
    return repr(e)[:120]


def diff(got, want):
    """Human-readable differences between two snapshots, worst first."""
    out = []
    for p in sorted(set(got) | set(want)):
        g, w = got.get(p), want.get(p)
        if g != w:
            out.append("%s: %s, expected %s" % (short(p), describe_entry(g, w),
                                                describe_entry(w, g)))
    return out


def classify(state, before, after):
    """'before', 'after', or None with the differences from the closer."""
    if state == before:
        return "before", []
    if state == after:
        return "after", []
    db, da = diff(state, before), diff(state, after)
    return None, (db if len(db) <= len(da) else da)


class Snap:
    """A snapshot with the contents of its files."""

    def __init__(self, root):
        self.contents = {}
        self.tree = snapshot(root, self.contents)


def first_difference(a, b):
    n = min(len(a), len(b))
    for i in range(0, n, 4096):
        if a[i:i + 4096] != b[i:i + 4096]:
            for j in range(i, min(i + 4096, n)):
                if a[j] != b[j]:
                    return j
    return None


def lost_byte(old, now, new):
    """The first offset of now (a file's contents after a fault) holding
    neither the byte it held before (old) nor the one the operation writes
    there (new, None if the file is gone after it), or None. A write that
    reached the daemon as several requests may legitimately be cut between
    them; bytes past both old and new must be zeros (a gap being filled)."""
    new = new if new is not None else b""
    off = first_difference(old, now)
    if off is None:
        return None
    for i in range(off, len(now)):
        b = now[i]
        if (i < len(old) and b == old[i]) or (i < len(new) and b == new[i]):
            continue
        if i >= len(old) and i >= len(new) and b == 0:
            continue
        if i >= len(old) and i < len(new) and b == 0:
            continue  # zeros where a gap or extension is being filled
        return i
    return None


# Severities, worst first.
LOSS = "LOSS"                 # bytes that were there before are gone or unreadable
INTERMEDIATE = "INTERMEDIATE"  # neither before nor after, but nothing old lost


PAGE = 4096


def torn_file(now, old, new):
    """Whether now (a file's contents) is a write cut at a page boundary k:
    the new contents up to k, the old ones after it (and no longer than the
    longer of old and k). Without the writeback cache the kernel hands one
    write() to the daemon as several requests split at page boundaries; a
    crash between them keeps the first (as a crash inside one write() may on
    any file system), and an error in a later one is a short write."""
    d = first_difference(now, new)
    d = min(len(now), len(new)) if d is None else d
    k = d - d % PAGE
    return 0 < k < len(new) and now == (new[:k] + old[k:])[:max(k, len(old))]


def is_torn_write(cur, before, after):
    """Whether every path of cur is as before or after, except files whose
    contents are a write cut at a page boundary (torn_file), with the mode,
    links and xattrs of after."""
    for p in set(cur.tree) | set(before.tree) | set(after.tree):
        c, b, a = cur.tree.get(p), before.tree.get(p), after.tree.get(p)
        if c == a or c == b:
            continue
        if c is None or a is None or c[0] != "file" or a[0] != "file":
            return False
        if c[1:3] != a[1:3] or c[5] != a[5] or isinstance(c[4][0], str):
            return False
        if not torn_file(cur.contents.get(p, b""), before.contents.get(p, b""),
                         after.contents.get(p, b"")):
            return False
    return True


def judge(cur, before, after, middles=(), torn=False):
    """Compares the state after a fault (Snap) with the before- and
    after-states (Snaps) and with the states between the system calls of a
    multi-call operation (middles); with torn, a write cut at a page
    boundary is also accepted (is_torn_write). Returns (which, items):
    which is "before", "after", "step K", "torn write" or None; items are
    (severity, text) for every path that is as in none of them, against the
    closest one."""
    if cur.tree == before.tree:
        return "before", []
    if cur.tree == after.tree:
        return "after", []
    for k, m in enumerate(middles, 1):
        if cur.tree == m.tree:
            return "step %d" % k, []
    if torn and is_torn_write(cur, before, after):
        return "torn write", []
    best = None
    for ref in [before] + list(middles):
        items = compare(cur, before, ref, after)
        if best is None or len(items) < len(best):
            best = items
    return None, best


def compare(cur, before, ref, after):
    """Items for the paths of cur that are as in neither ref (before or a
    middle state) nor after; losses judged against before."""
    items = []
    for p in sorted(set(cur.tree) | set(ref.tree) | set(after.tree)):
        c, b, a = cur.tree.get(p), ref.tree.get(p), after.tree.get(p)
        if c == b or c == a:
            continue
        sp = short(p)
        if c is None:
            sev = LOSS if (b is not None and a is not None) else INTERMEDIATE
            items.append((sev, "%s: missing (before: %s; after: %s)" % (
                sp, describe_entry(b), describe_entry(a))))
            continue
        if "ERR-" in repr(c):
            items.append((LOSS, "%s: %s" % (sp, describe_entry(c))))
            continue
        if b is None and a is None:
            items.append((INTERMEDIATE, "%s: left behind: %s" % (sp, describe_entry(c))))
            continue
        if c[0] == "file" and p in before.contents:
            old, now = before.contents[p], cur.contents.get(p, b"")
            off = lost_byte(old, now, after.contents.get(p))
            if off is not None:
                items.append((LOSS, "%s: %s; byte %d is neither as before nor as after "
                              "(before: %s)" % (sp, describe_entry(c), off,
                                                describe_entry(before.tree.get(p)))))
                continue
            items.append((INTERMEDIATE, "%s: %s; every byte is as before or as after "
                          "(before: %s, after: %s)" % (sp, describe_entry(c), describe_entry(b),
                                                       describe_entry(a))))
            continue
        items.append((INTERMEDIATE, "%s: %s (before: %s, after: %s)" % (
            sp, describe_entry(c), describe_entry(b), describe_entry(a))))
    items.sort(key=lambda x: x[0] != LOSS)
    return items


def has_read_errors(tree):
    """Paths of a snapshot whose reading failed (contents, link target,
    xattrs, listing)."""
    return [p for p, e in tree.items() if "ERR-" in repr(e)]


# Symptom categories, worst first.
CATEGORIES = ["HARNESS", "UNMOUNTABLE", "KEYS", "LOSS", "FSCK", "DAEMON", "INTERMEDIATE",
              "FSCK-EARLY", "LIVE"]
CATEGORY_HELP = {
    "UNMOUNTABLE": "the vault does not mount (or no secret unlocks it)",
    "KEYS": "the set of secrets that unlock is neither the old nor the new one",
    "LOSS": "data present before is unreadable, changed or missing",
    "FSCK": "fsck reports corruption after the remount",
    "DAEMON": "the daemon or command crashed or exited non-zero where it should not",
    "INTERMEDIATE": "neither before nor after, nothing old lost (e.g. extended with zeros)",
    "FSCK-EARLY": "fsck right after the fault (before any remount) reports corruption",
    "LIVE": "the live mount after an injected error shows neither state",
    "HARNESS": "the harness itself failed",
}


def summarize_fsck(out):
    """The CORRUPT lines of fsck output (or its last lines), shortened."""
    lines = [l for l in out.splitlines() if l.startswith("CORRUPT")]
    if not lines:
        lines = [l for l in out.splitlines() if l.strip()][-2:]
    s = "; ".join(l[:140] for l in lines[:3])
    if len(lines) > 3:
        s += "; ... (%d items)" % len(lines)
    return s



