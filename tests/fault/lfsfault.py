"""Shared machinery of the crash-safety tests (docs/TESTING.md): vaults with
cheap key derivation, foreground daemons with or without the fault shim,
snapshots of a mounted tree, fsck, and comparisons of states.

Everything a test creates lives in one temporary directory per run; every
mount and daemon is tracked by the Vault object that started it and undone
by Vault.cleanup(), so a failing check never leaves a mount behind."""

import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

PASS = "correct-horse-battery-staple"
PASS2 = "second-secret-for-fault-tests"
KDF = ["--kdf-ops", "1", "--kdf-mem", "8M"]

# Kinds a full disk makes fail: calls that allocate space or directory
# entries. Syncs, unlinks, shrinking and metadata changes keep working.
ALLOC_KINDS = "write,create,mkdir,symlink,link,mknod,fallocate,setxattr,rename"


class Env:
    """Where the binaries are."""

    def __init__(self, build="build"):
        build = build if os.path.isabs(build) else os.path.join(TOP, build)
        self.lethefs = os.environ.get("LETHEFS", os.path.join(build, "lethefs"))
        self.shim = os.path.join(build, "tests", "fault", "faultshim.so")
        for f in (self.lethefs, self.shim):
            if not os.path.exists(f):
                raise SystemExit("missing %s: run make first" % f)


def errname(e):
    return errno.errorcode.get(e, str(e))


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[4].replace("\\040", " ") == path:
                return True
    return False


class MountFailed(Exception):
    def __init__(self, rc, log):
        super().__init__("mount failed (%s): %s" % (rc, log))
        self.rc = rc
        self.log = log


class Daemon:
    """A foreground lethefs daemon (lethefs mount -f) we started."""

    def __init__(self, proc, logpath, mnt):
        self.proc = proc
        self.logpath = logpath
        self.mnt = mnt

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self, n=6):
        try:
            with open(self.logpath, errors="replace") as f:
                lines = [l.rstrip() for l in f if l.strip()]
        except OSError:
            return ""
        return " | ".join(lines[-n:])


def holders(mnt):
    """Processes in other mount namespaces that still see mnt (a copy of
    the mount keeps the FUSE connection alive after our umount)."""
    seen = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/mountinfo" % pid) as f:
                if (" %s " % mnt) in f.read():
                    with open("/proc/%s/comm" % pid) as c:
                        seen.append("%s(%s)" % (pid, c.read().strip()))
        except OSError:
            continue
    return "mount still seen by: %s; " % ", ".join(seen[:5]) if seen else ""


def stacks(pid):
    """The innermost functions of each thread of a hung process (gdb), one
    line: frames joined by '<', threads by '; '. The full output goes to
    /tmp/lfsft-hang.<pid>.txt for a closer look."""
    try:
        p = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 12"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    try:
        with open("/tmp/lfsft-hang.%d.txt" % pid, "w") as f:
            f.write(p.stdout)
    except OSError:
        pass
    threads = []
    cur = []
    for line in p.stdout.splitlines():
        if line.startswith("Thread "):
            if cur:
                threads.append(cur)
            cur = []
        elif line.startswith("#"):
            parts = line.split(" in ")
            fn = (parts[1] if len(parts) > 1 else line.split()[1]).split(" (")[0]
            if fn != "??":
                cur.append(fn)
    if cur:
        threads.append(cur)
    return "; ".join("<".join(t[:6]) for t in threads if t)


def describe_rc(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit %d" % rc


class Vault:
    """A vault in its own temporary directory, with a private control socket
    (so that copies of one vault, which share a UUID, never meet in
    /run/lethefs)."""

    def __init__(self, env, root, name="v"):
        self.env = env
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.path = os.path.join(self.dir, "vault")
        self.mnt = os.path.join(self.dir, "mnt")
        os.makedirs(self.mnt)
        self.passfiles = {}
        for label, secret in (("pass", PASS), ("pass2", PASS2)):
            p = os.path.join(self.dir, label)
            with open(p, "w") as f:
                f.write(secret + "\n")
            os.chmod(p, 0o600)
            self.passfiles[label] = p
        self.daemon = None
        self.nlogs = 0
        self.hang = ""

    # --- creation and copies -------------------------------------------------
    def init(self, extra_conf=""):
        self.run_cli(["init", "--passfile", self.passfiles["pass"]] + KDF + [self.path],
                     check=True)
        self.set_socket(extra_conf)

    def set_socket(self, extra_conf=""):
        conf = os.path.join(self.path, "lethefs.conf")
        with open(conf) as f:
            text = f.read()
        lines = [l for l in text.splitlines() if not l.startswith("control_socket")]
        text = "\n".join(lines) + "\n"
        sock = os.path.join(self.dir, "ctl.sock")
        if "[access]" in text:
            text = text.replace("[access]\n", "[access]\ncontrol_socket = %s\n" % sock)
        else:
            text += "[access]\ncontrol_socket = %s\n" % sock
        text += extra_conf
        with open(conf, "w") as f:
            f.write(text)

    def copy_from(self, other):
        """Replaces this vault's backing directory with a copy of another's
        (hard links, xattrs, holes and modes preserved)."""
        if os.path.exists(self.path):
            shutil.rmtree(self.path)
        subprocess.run(["cp", "-a", other.path, self.path], check=True)
        self.set_socket()

    # --- commands --------------------------------------------------------------
    def run_cli(self, args, check=False, env=None, timeout=120, secret=None):
        full = [self.env.lethefs] + args
        p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=env, timeout=timeout, text=True, errors="replace")
        if check and p.returncode != 0:
            raise RuntimeError("%s: %s\n%s" % (" ".join(args), describe_rc(p.returncode),
                                                p.stdout))
        return p

    def unlocks(self, label):
        p = self.run_cli(["key", "export", "--passfile", self.passfiles[label], self.path])
        return p.returncode == 0

    def fsck(self, label="pass"):
        p = self.run_cli(["fsck", "--passfile", self.passfiles[label], self.path], timeout=300)
        return p.returncode, p.stdout

    # --- mounts --------------------------------------------------------------------
    def mount(self, label="pass", shim_env=None, opts=None, timeout=30):
        """Starts a foreground daemon and returns once the mount is live;
        raises MountFailed with the daemon's exit status and log otherwise."""
        assert self.daemon is None
        self.nlogs += 1
        logpath = os.path.join(self.dir, "daemon.%d.log" % self.nlogs)
        env = dict(os.environ)
        if shim_env is not None:
            env["LD_PRELOAD"] = self.env.shim
            env.update(shim_env)
        args = [self.env.lethefs, "mount", "-f", "--passfile", self.passfiles[label]]
        if opts:
            args += ["-o", opts]
        args += [self.path, self.mnt]
        log = open(logpath, "w")
        proc = subprocess.Popen(args, stdout=log, stderr=log, env=env,
                                stdin=subprocess.DEVNULL)
        log.close()
        d = Daemon(proc, logpath, self.mnt)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if is_mounted(self.mnt):
                self.daemon = d
                # The daemon writes its "mount" audit entry after the mount is
                # live and starts answering its control socket only then:
                # waiting for an answer keeps those writes out of what an
                # armed shim counts next.
                self.run_cli(["status", self.mnt], timeout=30)
                return d
            if proc.poll() is not None:
                raise MountFailed(describe_rc(proc.returncode), d.log_tail())
            time.sleep(0.02)
        proc.kill()
        proc.wait()
        self.detach()
        raise MountFailed("timeout", d.log_tail())

    def detach(self):
        """Removes a mount whose daemon is gone (or leaves nothing)."""
        if is_mounted(self.mnt):
            if subprocess.run(["fusermount3", "-u", self.mnt], stderr=subprocess.DEVNULL).returncode:
                subprocess.run(["umount", "-l", self.mnt], stderr=subprocess.DEVNULL)

    def unmount(self, timeout=20):
        """Unmounts our daemon and returns its exit status (None if it had to
        be killed: its threads' stacks are then in self.hang)."""
        d = self.daemon
        if d is None:
            return 0
        self.daemon = None
        why = ""
        if d.alive():
            for _ in range(50):
                if not is_mounted(self.mnt):
                    break
                u = subprocess.run(["umount", self.mnt], stderr=subprocess.PIPE, text=True)
                if u.returncode == 0:
                    break
                why = u.stderr.strip()
                time.sleep(0.1)
        rc = d.wait(timeout)
        if rc is None:
            self.hang = ("umount: %s; " % why if why else "") + holders(self.mnt) + \
                stacks(d.proc.pid)
            d.proc.kill()
            d.proc.wait()
        self.detach()
        return rc

    def rotation_settled(self, timeout=120):
        """Waits while a data-key rotation runs in the mounted daemon (a
        remount resumes an interrupted one) and returns its final state
        ("idle", "failed", ...), or "timeout"."""
        deadline = time.monotonic() + timeout
        state = "?"
        while time.monotonic() < deadline:
            p = self.run_cli(["status", "--json", self.mnt], timeout=30)
            try:
                state = json.loads(p.stdout)["rotation_state"]
            except (ValueError, KeyError):
                state = "status failed: " + p.stdout.strip()[-100:]
            if state != "running":
                return state
            time.sleep(0.1)
        return "timeout"

    def crashed(self, timeout=30):
        """After the daemon died (or was killed): waits for it, removes the
        dead mount, returns the exit status."""
        d = self.daemon
        self.daemon = None
        rc = d.wait(timeout) if d else 0
        if rc is None:
            d.proc.kill()
            rc = d.proc.wait()
        self.detach()
        return rc

    def kill9(self):
        if self.daemon and self.daemon.alive():
            os.kill(self.daemon.proc.pid, signal.SIGKILL)
        return self.crashed()

    def cleanup(self):
        if self.daemon:
            if self.daemon.alive():
                self.unmount(timeout=10)
            else:
                self.crashed(timeout=5)
        self.detach()


# --- snapshots ---------------------------------------------------------------------

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
                b = os.read(fd, 1 << 20)
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
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISREG(st.st_mode):
            keep = [] if contents is not None else None
            state[rel] = ("file", oct(mode), st.st_nlink, st.st_size, read_all(path, keep),
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
            state[rel] = ("dir", oct(mode), xattrs_of(path), is_staging(path))
            try:
                names = sorted(os.listdir(path))
            except OSError as e:
                state[rel + "/*"] = ("ERR-listdir", errname(e.errno))
                return
            for n in names:
                visit(os.path.join(path, n), (rel.rstrip("/") + "/" + n))
        else:
            state[rel] = ("other", stat.S_IFMT(st.st_mode), oct(mode))

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


# Severities, worst first.
LOSS = "LOSS"                 # bytes that were there before are gone or unreadable
INTERMEDIATE = "INTERMEDIATE"  # neither before nor after, but nothing old lost


def judge(cur, before, after, middles=()):
    """Compares the state after a fault (Snap) with the before- and
    after-states (Snaps) and with the states between the system calls of a
    multi-call operation (middles). Returns (which, items): which is
    "before", "after", "step K" or None; items are (severity, text) for every
    path that is as in none of them, against the closest one."""
    if cur.tree == before.tree:
        return "before", []
    if cur.tree == after.tree:
        return "after", []
    for k, m in enumerate(middles, 1):
        if cur.tree == m.tree:
            return "step %d" % k, []
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
            off = first_difference(old, now)
            if off is not None:
                items.append((LOSS, "%s: %s; byte %d differs from before (before: %s)" % (
                    sp, describe_entry(c), off, describe_entry(before.tree.get(p)))))
                continue
            items.append((INTERMEDIATE, "%s: %s; the old bytes are intact (before: %s, "
                          "after: %s)" % (sp, describe_entry(c), describe_entry(b),
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


def new_root(prefix="lfsft-fault."):
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")
