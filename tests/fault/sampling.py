# SPDX-License-Identifier: Apache-2.0
"""Which call numbers a sweep tries (sweep.py, docs/TESTING.md): all of
them under LETHEFS_FULL_SWEEP=1 (make test-faults), else a representative
sample (--sample K) that leaves no kind of backing call untried."""

import os


def full_sweep():
    """LETHEFS_FULL_SWEEP=1 (make test-faults): --sample and --max-n are
    ignored, every call number is tried."""
    return os.environ.get("LETHEFS_FULL_SWEEP") == "1"


def call_signature(c):
    """What distinguishes one backing call from another of the same
    operation beyond its number: its kind and function, the role of the
    file it touches (the names of temporaries, of encrypted entries and of
    staging ids differ from run to run, their roles do not) and, for a
    write, whether it writes a header (offset 0), a journal commit mark
    (4 bytes) or data."""
    path = c.path
    name = os.path.basename(path)
    if path in ("", "d"):
        role = path or "vault"
    elif "/" not in path:
        # A vault-level file (lethefs.keyring, lethefs.journal, ...), or
        # its temporary (.lethefs.keyring.tmp...).
        role = name.split(".t")[0] if name.startswith(".lethefs.") else name
    else:
        if name.startswith(".lethefs.tmp."):
            what = "temporary"
        elif name.startswith(".lethefs."):
            what = name
        elif name[:2] in (".N", ".L"):
            what = name[:2]
        elif "." in name.lstrip("."):
            what = "*." + name.rsplit(".", 1)[1]  # a staging id's .key, .exp
        else:
            what = "entry"
        role = path.split("/")[0] + ":" + what
    part = ""
    if c.kind == "write":
        if "off=0 " in c.detail:
            part = "header"
        elif c.detail.endswith("len=4"):
            part = "mark"
        else:
            part = "data"
    return (c.kind, c.func, role, part)


def sample(ns, k, calls_by_n):
    """The call numbers of a representative sweep (`make test`; the full
    sweep is `make test-faults`, or LETHEFS_FULL_SWEEP=1): the first and
    the last, every k-th, and the first call of each distinct signature
    (call_signature), so that no kind of backing call the operation makes
    goes untried. Deterministic: the same list each run."""
    if not ns or full_sweep():
        return ns
    keep = {ns[0], ns[-1]} | set(ns[::k])
    first = {}
    for n in ns:
        c = calls_by_n.get(n)
        if c is not None:
            first.setdefault(call_signature(c), n)
    keep |= set(first.values())
    return [n for n in ns if n in keep]
