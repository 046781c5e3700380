# SPDX-License-Identifier: Apache-2.0
"""The operations the crash sweep walks through (docs/TESTING.md).

Each operation has a setup (run once, through a clean mount, to build the
template vault it starts from) and a run: through the mount in a helper
process (`python3 operations.py run NAME MOUNTPOINT`), so that the driver
never blocks on a dead mount, or as a lethefs command on the unmounted vault
(kind "cli"). Data is derived from fixed seeds, so every run of an operation
produces the same after-state.

Every template also holds BASE: files of several sizes, a directory, a
symlink, an xattr, a long name and an empty file, all fsync'd; whatever the
operation does, they must read back identically afterwards."""

import os
import random
import subprocess
import sys
import time

LONG_A = "A" * 180 + ".long"   # > 175 bytes: stored as .L/.N sidecar pair
LONG_B = "B" * 190 + ".long"


def data(seed, n):
    return random.Random(seed).randbytes(n)


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path, content, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_path(os.path.dirname(path))


def create_step(path):
    """A step that creates an empty file and keeps it open for the next."""
    def step(m, ctx):
        ctx["fd"] = os.open(m + path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    return step


def write_step(path, content):
    """The step after create_step: the first write, fsync of the file and
    of its directory."""
    def step(m, ctx):
        os.write(ctx["fd"], content)
        os.fsync(ctx["fd"])
        os.close(ctx["fd"])
        fsync_path(os.path.dirname(m + path))
    return step


def pwrite_sync(path, off, content):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, content, off)
        os.fsync(fd)
    finally:
        os.close(fd)


def append_sync(path, content):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)


def truncate_sync(path, size):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def fallocate_sync(path, off, length):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.posix_fallocate(fd, off, length)
        os.fsync(fd)
    finally:
        os.close(fd)


def lethefs(*args):
    exe = os.environ["LETHEFS"]
    p = subprocess.run([exe] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("lethefs %s: exit %d: %s" % (" ".join(args[:2]), p.returncode,
                                                        p.stdout.strip()))


def base_setup(m):
    """The data every template holds."""
    os.mkdir(m + "/keep")
    os.mkdir(m + "/keep/sub")
    write_file(m + "/keep/a.bin", data(1, 150000))
    write_file(m + "/keep/b.txt", data(2, 5000))
    write_file(m + "/keep/sub/c", data(3, 4096))
    write_file(m + "/keep/empty", b"")
    write_file(m + "/keep/" + LONG_A, data(4, 777))
    os.symlink("a.bin", m + "/keep/link")
    os.setxattr(m + "/keep/b.txt", "user.note", b"hello, fault tests")
    fsync_path(m + "/keep")
    fsync_path(m + "/keep/sub")
    fsync_path(m)


class Op:
    """name, kind ("mount" or "cli"), setup(m), run(m) or cli(vault) ->
    argv, prepare(vault_path) on each copy before a cli run, probes (the
    secrets whose unlocking is part of the state)."""

    def __init__(self, name, run=None, setup=None, kind="mount", cli=None, prepare=None,
                 probes=("pass",), note="", quick=False, vsetup=None, preserves=False,
                 faults=True, timeout=None, syncs=True):
        self.name = name
        # False: the operation makes no sync of its own, so a power cut
        # even after it returned may keep the state before it (sweep.py
        # --power-cut)
        self.syncs = syncs
        self.timeout = timeout  # seconds before the run counts as hung
        self.faults = faults  # False: only the run without faults
        self.preserves = preserves  # the plaintext tree must not change
        self.vsetup = vsetup  # on the unmounted template, after setup
        self.kind = kind
        self._run = run
        self._setup = setup
        self.cli = cli
        self.prepare = prepare
        self.probes = probes
        self.note = note
        self.quick = quick  # part of the short run in make test

    def setup(self, m):
        base_setup(m)
        if self._setup:
            self._setup(m)

    @property
    def steps(self):
        """The operation's system calls that change state, as a list: a
        crash between two of them may legitimately leave the state after
        the first (POSIX makes no promise across calls)."""
        return list(self._run) if isinstance(self._run, (list, tuple)) else [self._run]

    def run(self, m, nsteps=None):
        ctx = {}
        for step in self.steps[:nsteps]:
            if step.__code__.co_argcount == 2:
                step(m, ctx)
            else:
                step(m)


def target(size, seed=10):
    return lambda m: write_file(m + "/t", data(seed, size))


def staging_job(ttl="1h"):
    def setup(m):
        lethefs("stage", "create", "--ttl", ttl, m + "/job")
        write_file(m + "/job/f1", data(20, 9000))
        os.mkdir(m + "/job/d")
        write_file(m + "/job/d/f2", data(21, 100))
    return setup


def expire_index(vault):
    """Makes every staging directory of an unmounted vault expired, as the
    clock would: the index is plaintext (FORMAT.md 11.1)."""
    p = os.path.join(vault, "staging", "index")
    out = []
    with open(p) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 5 and not line.startswith(("#", "lethefs")):
                parts[2] = str(int(parts[1]))
                line = " ".join(parts) + "\n"
            out.append(line)
    with open(p, "w") as f:
        f.writelines(out)


def wait_gone(path, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not os.path.lexists(path):
            return
        time.sleep(0.1)
    raise RuntimeError("%s still there after %ds" % (path, seconds))


def mk_setup(*steps):
    def setup(m):
        for s in steps:
            s(m)
    return setup


OPS = [
    # --- contents -------------------------------------------------------------
    Op("append-unaligned", lambda m: append_sync(m + "/t", data(11, 50000)), target(50004),
       note="50,004 bytes + 50,000 appended (the issue's full-disk case)", quick=True),
    Op("append-in-block", lambda m: append_sync(m + "/t", data(11, 100)), target(5000),
       note="5,000 bytes + 100: stays inside the last block"),
    Op("append-aligned", lambda m: append_sync(m + "/t", data(11, 5000)), target(8192),
       note="8,192 bytes (block-aligned) + 5,000", quick=True),
    Op("write-cross-last-block", lambda m: pwrite_sync(m + "/t", 5000, data(11, 4000)),
       target(6000), note="6,000 bytes, 4,000 written at 5,000: crosses the end of block 1"),
    Op("overwrite-middle", lambda m: pwrite_sync(m + "/t", 6000, data(11, 3000)),
       target(20000), note="20,000 bytes, 3,000 overwritten at 6,000 (no growth)"),
    Op("write-gap-small", lambda m: pwrite_sync(m + "/t", 5000 + 3 * 4096 + 100, data(11, 1000)),
       target(5000), note="5,000 bytes, 1,000 written 3 blocks past the end (sealed zeros)"),
    Op("write-gap-large", lambda m: pwrite_sync(m + "/t", 10 << 20, data(11, 1000)),
       target(5000), note="5,000 bytes, 1,000 written at 10 MiB (SPARSE transition)",
       quick=True),
    Op("truncate-shrink-unaligned", lambda m: truncate_sync(m + "/t", 30001), target(50004),
       note="50,004 -> 30,001", quick=True),
    Op("truncate-shrink-aligned", lambda m: truncate_sync(m + "/t", 32768), target(50004),
       note="50,004 -> 32,768"),
    Op("truncate-zero", lambda m: truncate_sync(m + "/t", 0), target(50004),
       note="50,004 -> 0"),
    Op("truncate-extend", lambda m: truncate_sync(m + "/t", 20000), target(5000),
       note="5,000 -> 20,000 (sealed zeros)"),
    Op("truncate-extend-large", lambda m: truncate_sync(m + "/t", 12 << 20), target(5000),
       note="5,000 -> 12 MiB (SPARSE transition)"),
    Op("fallocate", lambda m: fallocate_sync(m + "/t", 4000, 30000), target(5000),
       note="5,000 bytes, posix_fallocate(4000, 30000)"),
    # --- names ------------------------------------------------------------------
    Op("create-empty", lambda m: (write_file(m + "/new", b"")),
       note="O_CREAT, no data"),
    Op("create-write", [create_step("/keep/sub/new"), write_step("/keep/sub/new", data(12, 10000))],
       note="create + 10,000 bytes + fsync (file and directory)", quick=True),
    Op("mkdir", lambda m: (os.mkdir(m + "/newdir"), fsync_path(m)), quick=True),
    Op("rmdir", lambda m: (os.rmdir(m + "/olddir"), fsync_path(m)),
       lambda m: os.mkdir(m + "/olddir")),
    Op("rename-file", lambda m: (os.rename(m + "/t", m + "/keep/sub/t2"), fsync_path(m)),
       target(7000), note="across directories"),
    Op("rename-dir", lambda m: (os.rename(m + "/dir", m + "/keep/dir2"), fsync_path(m)),
       mk_setup(lambda m: os.mkdir(m + "/dir"), lambda m: write_file(m + "/dir/x", data(13, 300))),
       note="a directory with a file, into another directory"),
    Op("rename-over", lambda m: (os.rename(m + "/t", m + "/keep/b.txt"), fsync_path(m)),
       target(7000), note="replaces an existing file"),
    Op("link", lambda m: (os.link(m + "/t", m + "/keep/t-link"), fsync_path(m + "/keep")),
       target(7000)),
    Op("unlink", lambda m: (os.unlink(m + "/t"), fsync_path(m)), target(7000)),
    Op("symlink", lambda m: (os.symlink("some/where/else", m + "/sym"), fsync_path(m))),
    Op("chmod", lambda m: (os.chmod(m + "/t", 0o640), fsync_path(m + "/t")), target(7000),
       note="mode and owner are one sealed record: rewritten whole"),
    Op("chown", lambda m: (os.chown(m + "/t", 4711, 4712), fsync_path(m + "/t")), target(7000)),
    Op("setxattr", lambda m: os.setxattr(m + "/t", "user.new", data(14, 100)), target(7000),
       syncs=False),
    Op("setxattr-replace", lambda m: os.setxattr(m + "/keep/b.txt", "user.note", b"replaced"),
       syncs=False),
    Op("removexattr", lambda m: os.removexattr(m + "/keep/b.txt", "user.note"), syncs=False),
    Op("longname-create", [create_step("/keep/sub/" + LONG_B),
                           write_step("/keep/sub/" + LONG_B, data(15, 2000))],
       note="a 195-byte name (.L entry + .N sidecar)", quick=True),
    Op("longname-rename", lambda m: (os.rename(m + "/keep/" + LONG_A, m + "/keep/sub/" + LONG_B),
                                     fsync_path(m + "/keep")),
       note="long name to another long name in another directory"),
    Op("longname-unlink", lambda m: (os.unlink(m + "/keep/" + LONG_A), fsync_path(m + "/keep"))),
    # --- rotation and staging --------------------------------------------------
    Op("rotate", lambda m: lethefs("rotate", "--wait", m),
       mk_setup(target(70000), lambda m: os.mkdir(m + "/keep/sub/deeper"),
                lambda m: os.symlink("../t", m + "/keep/sub/up"),
                lambda m: os.setxattr(m + "/keep/sub/c", "user.k", b"v"),
                lambda m: os.setxattr(m + "/keep/sub", "user.d", b"dir"),
                lambda m: write_file(m + "/keep/sub/deeper/" + LONG_B, data(16, 5000))),
       note="lethefs rotate --wait of the whole tree", quick=True, preserves=True,
       timeout=20),
    Op("rotate-empty-xattr", lambda m: lethefs("rotate", "--wait", m),
       lambda m: os.setxattr(m + "/keep/empty", "user.e", b"on an empty file"),
       note="rotate --wait of a tree whose empty file has an xattr; checked without faults "
       "only (every fault point would repeat the same finding)", preserves=True, faults=False),
    Op("stage-create", [lambda m: os.mkdir(m + "/job", 0o700),
                        lambda m: lethefs("stage", "create", "--ttl", "1h", m + "/job")],
       note="lethefs stage create --ttl 1h of a new directory: its mkdir, then its setxattr"),
    Op("stage-adopt", lambda m: lethefs("stage", "create", "--ttl", "1h", m + "/job"),
       lambda m: os.mkdir(m + "/job"), note="stage create on an existing empty directory"),
    Op("stage-shred", lambda m: lethefs("stage", "shred", m + "/job"), staging_job(),
       note="lethefs stage shred of a directory with files", quick=True),
    Op("stage-expire", lambda m: (lethefs("stage", "extend", "--ttl", "1s", m + "/job"),
                                  wait_gone(m + "/job")),
       staging_job(), note="TTL shortened to 1 s; the daemon's expiry shreds it",
       syncs=False),
    Op("shred-expired", None, staging_job(), kind="cli",
       cli=lambda v: ["shred-expired", v.path], prepare=expire_index,
       note="offline: lethefs shred-expired VAULT on an expired staging directory"),
    # --- key management (unmounted vault) ----------------------------------
    Op("keyslot-add", None, kind="cli", preserves=True, probes=("pass", "pass2"),
       cli=lambda v: ["keyslot", "add", "--passfile", v.passfiles["pass"], "--new-passfile",
                      v.passfiles["pass2"], "--allow-weak-kdf", "--kdf-ops", "1", "--kdf-mem", "8M", v.path]),
    Op("passwd", None, kind="cli", preserves=True, probes=("pass", "pass2"),
       cli=lambda v: ["passwd", "--passfile", v.passfiles["pass"], "--new-passfile",
                      v.passfiles["pass2"], "--allow-weak-kdf", "--kdf-ops", "1", "--kdf-mem", "8M", v.path],
       quick=True),
    Op("keyslot-remove", None, kind="cli", preserves=True, probes=("pass", "pass2"),
       cli=lambda v: ["keyslot", "remove", "--slot", "1", "--passfile", v.passfiles["pass"],
                      v.path], note="slot 1 (added in the template) removed",
       vsetup=lambda v: v.run_cli(["keyslot", "add", "--slot", "1", "--passfile",
                                   v.passfiles["pass"], "--new-passfile", v.passfiles["pass2"],
                                   "--allow-weak-kdf", "--kdf-ops", "1", "--kdf-mem", "8M", v.path], check=True)),
    Op("rekey", None, kind="cli", preserves=True,
       cli=lambda v: ["rekey", "--passfile", v.passfiles["pass"], v.path],
       note="new master key + new epoch; the next mount rotates", quick=True),
]

BY_NAME = {o.name: o for o in OPS}

# sweep.py --power-cut: the run prints this when every step returned, then
# sets the times of MARKER (a directory of BASE) again, so that the last
# call number falls after the operation (a cut there checks what its syncs
# promised) without creating anything.
DONE = "operation-done"
MARKER = "/keep"


def main():
    if len(sys.argv) in (4, 5) and sys.argv[1] == "run":
        try:
            BY_NAME[sys.argv[2]].run(sys.argv[3], int(sys.argv[4]) if len(sys.argv) == 5 else None)
            if os.environ.get("LFS_POWERCUT_MARKER") == "1":
                print(DONE, flush=True)
                st = os.stat(sys.argv[3] + MARKER)
                os.utime(sys.argv[3] + MARKER, ns=(st.st_atime_ns, st.st_mtime_ns))
        except Exception as e:  # the helper reports, the driver judges
            print("%s: %s" % (type(e).__name__, e), file=sys.stderr)
            sys.exit(1)
        return
    for o in OPS:
        print("%-28s %-6s %s" % (o.name, o.kind, o.note))


if __name__ == "__main__":
    main()
