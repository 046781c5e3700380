# SPDX-License-Identifier: Apache-2.0
"""The soak's hands on the vault: every lethefs command it runs (init, mount
in the foreground, kill -9, unmount, fsck, lock, unlock, rotate, status,
staging). Each returns what the soak needs to judge, never raises on a
non-zero exit: a refused command is a finding the driver decides about."""

import json
import os
import signal
import subprocess
import time



def mounted(path):
    """Whether something is mounted at path, a dead FUSE mount included:
    os.path.ismount stats the path, and a mount whose daemon was killed
    answers ENOTCONN, which ismount takes for "not a mount point"."""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == real:
                return True
    return False

class Vault:
    def __init__(self, lethefs, workdir):
        self.lethefs = lethefs
        self.workdir = workdir
        self.vault = os.path.join(workdir, "vault")
        self.mnt = os.path.join(workdir, "mnt")
        self.passfile = os.path.join(workdir, "pass")
        self.daemon = None
        self.daemon_log = None
        self.mount_count = 0

    def run(self, *args, timeout=300):
        """Runs lethefs ARGS; returns (exit code, stdout, stderr)."""
        try:
            p = subprocess.run([self.lethefs, *args], capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, "", "timed out after %d s" % timeout
        return p.returncode, p.stdout, p.stderr

    def init(self):
        os.makedirs(self.mnt)
        with open(self.passfile, "w") as f:
            f.write("soak-passphrase\n")
        os.chmod(self.passfile, 0o600)
        # Cheap Argon2id: the soak unlocks hundreds of times; the KDF is not
        # what it measures.
        rc, _, err = self.run("init", "--passfile", self.passfile, "--allow-weak-kdf",
                              "--kdf-ops", "1", "--kdf-mem", "8M", self.vault)
        if rc != 0:
            raise RuntimeError("init failed (%d): %s" % (rc, err.strip()))

    def mount(self, options):
        """Mounts in the foreground (the soak owns the daemon's pid and its
        log); returns the seconds until the mount answered, or raises."""
        self.mount_count += 1
        log = os.path.join(self.workdir, "daemon.log")
        self.daemon_log = open(log, "a")
        self.daemon_log.write("=== mount %d -o %s\n" % (self.mount_count, options))
        self.daemon_log.flush()
        args = [self.lethefs, "mount", "-f", "--passfile", self.passfile]
        if options:
            args += ["-o", options]
        t0 = time.monotonic()
        self.daemon = subprocess.Popen(args + [self.vault, self.mnt], stdout=self.daemon_log,
                                       stderr=self.daemon_log)
        while time.monotonic() - t0 < 120:
            if self.daemon.poll() is not None:
                self.daemon_log.flush()
                with open(log, errors="replace") as f:
                    last = f.read().strip().splitlines()[-3:]
                raise RuntimeError("mount exited with %d: %s" % (self.daemon.returncode,
                                                                 " | ".join(last)))
            if mounted(self.mnt):
                return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError("the mount did not appear within 120 s")

    def kill(self):
        """kill -9 of the daemon, as an OOM kill or a power cut of the
        process would do it."""
        os.kill(self.daemon.pid, signal.SIGKILL)
        self.daemon.wait()

    def unmount(self, lazy_ok=True):
        """Unmounts (a dead daemon's mount too) and waits for the daemon to
        exit. Returns None, or what went wrong."""
        problem = None
        for attempt in range(50):
            if not mounted(self.mnt):
                break
            p = subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True, text=True)
            if p.returncode == 0:
                break
            time.sleep(0.2)
        else:
            problem = "unmount refused: " + p.stderr.strip()
            if lazy_ok:
                subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        if self.daemon is not None:
            try:
                self.daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                problem = (problem or "") + " daemon still running 60 s after unmount"
                self.daemon.kill()
                self.daemon.wait()
            if self.daemon.returncode not in (0, -signal.SIGKILL) and problem is None:
                problem = "daemon exited with %d" % self.daemon.returncode
            self.daemon = None
        if self.daemon_log:
            self.daemon_log.close()
            self.daemon_log = None
        return problem

    def fsck(self, repair=False):
        """Returns (exit code, CORRUPT lines, PENDING lines)."""
        args = ["fsck", "--passfile", self.passfile]
        if repair:
            args.append("--repair")
        rc, out, err = self.run(*args, self.vault, timeout=900)
        lines = out.splitlines() + err.splitlines()
        corrupt = [l for l in lines if l.startswith("CORRUPT")]
        pending = [l for l in lines if l.startswith("PENDING")]
        if rc not in (0, 6):
            corrupt.append("fsck exit %d: %s" % (rc, err.strip()[-300:]))
        return rc, corrupt, pending

    def status(self):
        rc, out, _ = self.run("status", "--json", self.mnt, timeout=30)
        if rc != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def lock(self):
        return self.run("lock", self.mnt, timeout=120)

    def unlock(self):
        return self.run("unlock", "--passfile", self.passfile, self.mnt, timeout=120)

    def rotate(self):
        return self.run("rotate", self.mnt, timeout=60)

    def stage_create(self, path, ttl_seconds):
        return self.run("stage", "create", "--ttl", "%ds" % ttl_seconds, path, timeout=60)

    def stage_ids(self):
        rc, out, _ = self.run("stage", "list", "--json", self.mnt, timeout=30)
        if rc != 0:
            return None
        return {s["id"] for s in json.loads(out)}

    def audit_verify(self):
        return self.run("audit", "verify", "--passfile", self.passfile, self.vault, timeout=300)
