#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Removes the directory PATH (through a mount) the moment another
daemon's read of a directory's metadata is held by the fault shim
(61-rotate-concurrent-shared.bats): NOTE is the shim's
LFS_FAULT_DELAY_NOTE file, one line per held call; once N lines name the
.lethefs.dir of a directory right below the backing root D (not D's
own), PATH is removed. Exits 1 when that never happens within 60 s or the
removal fails.

usage: rot_held_rmdir.py NOTE D N PATH
"""
import os
import sys
import time


def held(note, d):
    try:
        with open(note) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return 0
    return sum(1 for x in lines
               if x.endswith("/.lethefs.dir") and os.path.dirname(os.path.dirname(x)) == d)


def main():
    note, d, n, path = sys.argv[1], os.path.realpath(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    deadline = time.monotonic() + 60
    while held(note, d) < n:
        if time.monotonic() > deadline:
            print(f"no read of a directory's metadata held ({held(note, d)} of {n})")
            return 1
        time.sleep(0.002)
    os.rmdir(path)
    print(f"removed {path} while read number {n} of its metadata was held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
