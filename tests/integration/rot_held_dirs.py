#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Removes or replaces directories (through a mount) while another host's
rotation walk reads their metadata (61-rotate-concurrent-shared.bats):
NOTE is the fault shim's LFS_FAULT_DELAY_NOTE file of the walking host,
one line per held open of a .lethefs.dir (a read opens it twice). MNT
holds the empty directories x, y and z right below the root of the
backing tree D, and the file f. In the order the walk comes to the
directories:

  - the first is removed while its first open is held (the walk entering
    it);
  - the second is removed while its third is (its conversion, which reads
    the metadata again: an inode the walking host had not met);
  - the third is renamed to "moved" while its first open is held, and f
    is renamed to its name: the conversion, which takes the directory by
    name, finds a file there.

Prints the third's name; exits 1 when the walk never came that far (60 s)
or a step failed.

usage: rot_held_dirs.py NOTE D MNT
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
    ino = {os.stat(os.path.join(mnt, x)).st_ino: x for x in "xyz"}
    deadline = time.monotonic() + 60
    for i, n in enumerate((1, 3, 1)):
        while True:
            o = opens(note, d)
            order = list(dict.fromkeys(o))  # in the order the walk came to them
            if len(order) > i and o.count(order[i]) >= n:
                break
            if time.monotonic() > deadline:
                print(f"the walk did not come that far: {o}")
                return 1
            time.sleep(0.002)
        x = ino[os.stat(os.path.join(d, order[i])).st_ino]
        if i < 2:
            os.rmdir(os.path.join(mnt, x))
            print(f"removed {x} while open number {n} of its metadata was held")
        else:
            os.rename(os.path.join(mnt, x), os.path.join(mnt, "moved"))
            os.rename(os.path.join(mnt, "f"), os.path.join(mnt, x))
            print(f"renamed {x} to moved and f to {x} while its metadata was held")
            print(x, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
