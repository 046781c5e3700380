# SPDX-License-Identifier: Apache-2.0
"""The fullfs mode of the sweep (sweep.py, docs/TESTING.md): no shim, the
vault on a small file system (a tmpfs, or ext4 on a loop device) with only
N-1 pages left free when the operation runs."""

import errno
import os
import subprocess

PAGE = 4096


def mount_small_fs(base, mb, fstype):
    """Mounts the small file system the fullfs mode fills: a tmpfs, or
    ext4 on a loop device (4 KiB blocks, no reserved blocks)."""
    if fstype == "tmpfs":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % mb, "tmpfs", base],
                       check=True)
        return
    img = base + ".img"
    with open(img, "wb") as f:
        f.truncate(mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", "-b", "4096", img], check=True)
    subprocess.run(["mount", "-o", "loop", img, base], check=True)


def fill(base, n):
    """Leaves n-1 pages free on the small file system at base (on ext4
    the filler's own metadata may leave fewer: ENOSPC while filling is
    fine)."""
    st = os.statvfs(base)
    free = st.f_bavail * st.f_frsize
    left = max(0, free - (n - 1) * PAGE)
    chunk = b"\0" * (1 << 20)
    try:
        with open(os.path.join(base, "filler"), "wb") as f:
            while left > 0:
                k = min(left, len(chunk))
                f.write(chunk[:k])
                left -= k
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    subprocess.run(["sync", "-f", base])


def pages_for(calls, max_pages):
    """How many pages the operation may allocate: its written bytes
    rounded up per call, plus one page per entry it creates."""
    pages = 0
    for c in calls:
        if c.kind == "write" and "len=" in c.detail:
            pages += int(c.detail.split("len=")[1]) // PAGE + 2
        elif c.kind in ("create", "mkdir", "symlink", "setxattr", "rename", "link"):
            pages += 1
    return min(pages, max_pages)
