#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Holds O_PATH descriptors of the symlinks and FIFOs named on the command
line across a rotation (60-rotate-concurrent.bats): opens them, creates
READY, waits for GO, then checks through each descriptor that the object
still has its link and, for a symlink, its target (what ext4 gives: a
rotation must not be seen). Prints one line per problem; exits 1 if any.

usage: rot_heldnodes.py READY GO PATH=TARGET|PATH=fifo...
"""
import os
import stat
import sys
import time


def main():
    ready, go = sys.argv[1], sys.argv[2]
    held = []
    for arg in sys.argv[3:]:
        path, want = arg.split("=", 1)
        held.append((path, want, os.open(path, os.O_PATH | os.O_NOFOLLOW)))
    open(ready, "w").close()
    deadline = time.monotonic() + 300
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            print("no GO after 300 s")
            return 1
        time.sleep(0.05)
    bad = 0
    for path, want, fd in held:
        try:
            st = os.fstat(fd)
            if st.st_nlink != 1:
                print(f"{path}: {st.st_nlink} links through the held descriptor")
                bad += 1
            if want == "fifo":
                if not stat.S_ISFIFO(st.st_mode):
                    print(f"{path}: mode {st.st_mode:o}, not a FIFO")
                    bad += 1
                continue
            got = os.readlink("", dir_fd=fd)
            if got != want:
                print(f"{path}: target {got!r}, not {want!r}")
                bad += 1
        except OSError as e:
            print(f"{path}: {e}")
            bad += 1
        finally:
            os.close(fd)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
