#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Removes two directories (through a mount) while another host's rotation
walk reads their metadata (61-rotate-concurrent-shared.bats): NOTE is the
fault shim's LFS_FAULT_DELAY_NOTE file of the walking host, one line per
held open of a .lethefs.dir (a read opens it twice). MNT holds the empty
directories x and y, right below the root of the backing tree D. The one
the walk comes to first is removed while its first open is held (the walk
entering it), the other while its third is (its conversion, which reads
the metadata again: an inode the walking host had not met). Exits 1 when
that never happens within 60 s or a removal fails.

usage: rot_held_rmdir.py NOTE D MNT
"""
import os
import sys
import time


def opens(note, d):
    """Backing names of the directories below d, one per held open."""
    try:
        with open(note) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [os.path.basename(os.path.dirname(x)).removesuffix(" (deleted)") for x in lines
            if x.endswith("/.lethefs.dir") and os.path.dirname(os.path.dirname(x)) == d]


def main():
    note, d, mnt = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3]
    ino = {os.stat(os.path.join(mnt, x)).st_ino: x for x in "xy"}
    deadline = time.monotonic() + 60
    done = []
    for n in (1, 3):
        while True:
            o = opens(note, d)
            # The directories in the order the walk came to them.
            order = list(dict.fromkeys(o))
            if len(order) > len(done) and o.count(order[len(done)]) >= n:
                break
            if time.monotonic() > deadline:
                print(f"the walk did not come that far: {o}")
                return 1
            time.sleep(0.002)
        x = ino[os.stat(os.path.join(d, order[len(done)])).st_ino]
        os.rmdir(os.path.join(mnt, x))
        done.append(x)
        print(f"removed {x} while open number {n} of its metadata was held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
