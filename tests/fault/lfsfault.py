# SPDX-License-Identifier: Apache-2.0
"""Shared machinery of the crash-safety tests (docs/TESTING.md): vaults with
cheap key derivation and a private control socket, foreground daemons with
or without the fault shim, unmounts that diagnose a hang, fsck.

Everything a test creates lives in one temporary directory per run; every
mount and daemon is tracked by the Vault object that started it and undone
by Vault.cleanup(), so a failing check never leaves a mount behind."""

import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

PASS = "correct-horse-battery-staple"
PASS2 = "second-secret-for-fault-tests"
KDF = ["--allow-weak-kdf", "--kdf-ops", "1", "--kdf-mem", "8M"]

# Kinds a full disk makes fail: calls that allocate space or directory
# entries. Syncs, unlinks, shrinking and metadata changes keep working.
ALLOC_KINDS = "write,create,mkdir,symlink,link,mknod,fallocate,setxattr,rename"


_socket_dir = None


def socket_dir():
    """A private directory for the control sockets of this process's
    vaults: under /run (the daemon refuses a socket whose directories
    others can write, such as /tmp), removed at exit."""
    global _socket_dir
    if _socket_dir is None:
        _socket_dir = tempfile.mkdtemp(prefix="lfsft-ctl.", dir="/run")
        atexit.register(shutil.rmtree, _socket_dir, True)
    return _socket_dir


class Env:
    """Where the binaries are."""

    def __init__(self, build="build"):
        build = build if os.path.isabs(build) else os.path.join(TOP, build)
        self.lethefs = os.environ.get("LETHEFS", os.path.join(build, "lethefs"))
        self.shim = os.path.join(build, "tests", "fault", "faultshim.so")
        for f in (self.lethefs, self.shim):
            if not os.path.exists(f):
                raise SystemExit("missing %s: run make first" % f)


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
    /run/lethefs, nor the sockets of other runs)."""

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
        sock = os.path.join(socket_dir(), "%s-%s.sock" % (
            os.path.basename(os.path.dirname(self.dir))[-8:], os.path.basename(self.dir)))
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


def parse_list(text):
    """"1-4,9" -> [1, 2, 3, 4, 9]"""
    out = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out += range(int(lo), int(hi) + 1)
        elif part:
            out.append(int(part))
    return out


def power_env(v, n, seed):
    """The shim's environment for a power cut at call n of vault v's
    backing store (docs/TESTING.md, "A power cut")."""
    return {"LFS_FAULT_VAULT": v.path, "LFS_FAULT_ARM": os.path.join(v.dir, "armed"),
            "LFS_FAULT_LOG": os.path.join(v.dir, "calls.log"),
            "LFS_FAULT_MODE": "power-cut", "LFS_FAULT_AT": str(n),
            "LFS_FAULT_SEED": str(seed)}


def new_root(prefix="lfsft-fault."):
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")
