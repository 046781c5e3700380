#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Moves a file between directories (through a mount) while another host's
rotation walks them, at chosen moments (61-rotate-concurrent-shared.bats):
NOTE is the fault shim's LFS_FAULT_DELAY_NOTE file of the walking host,
one line per held open of a .lethefs.dir; a run of lines naming one
directory right below the backing root D is the walk visiting it (its
own lines, D's, do not count). MNT holds the three directories a, b and
c, each with one file of its own name (a/a, b/b, c/c). The walks visit
them in an order of their own (first, second, third); both walks of a
pass, the converting one and the counting one, in the same order:

  - converting walk, second directory held: the third's file moves into
    the first, which was converted already: it escapes the walk;
  - counting walk, first directory held (not listed yet): that file
    moves back to the third;
  - counting walk, second directory held: it moves into the first again,
    which was counted already, from the third, not counted yet.

So the counting walk never meets it, though it is under the old epoch.
Prints what it did; exits 1 when the walks never came that far (60 s).

usage: rot_held_mover.py NOTE D MNT
"""
import os
import sys
import time


def visits(note, d):
    """The directories below d visited so far, one entry per visit."""
    try:
        with open(note) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for x in lines:
        parent = os.path.dirname(x)
        if not x.endswith("/.lethefs.dir") or os.path.dirname(parent) != d:
            continue
        name = os.path.basename(parent).removesuffix(" (deleted)")
        if not out or out[-1] != name:
            out.append(name)
    return out


def main():
    note, d, mnt = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3]
    dirs = "abc"
    deadline = time.monotonic() + 60
    order = []

    def wait_for(n):
        while True:
            v = visits(note, d)
            if len(v) >= n:
                return v
            if time.monotonic() > deadline:
                print(f"the walks visited {len(v)} directories, not {n}: {v}")
                sys.exit(1)
            time.sleep(0.002)

    def plain(backing):
        ino = os.stat(os.path.join(d, backing)).st_ino
        for x in dirs:
            if os.stat(os.path.join(mnt, x)).st_ino == ino:
                return x
        print(f"no directory of {mnt} is {backing}")
        sys.exit(1)

    v = wait_for(2)
    order = [plain(v[0]), plain(v[1])]
    order.append(next(x for x in dirs if x not in order))
    first, third = order[0], order[2]
    f = third  # the file that escapes
    os.rename(os.path.join(mnt, third, f), os.path.join(mnt, first, f))
    wait_for(4)
    os.rename(os.path.join(mnt, first, f), os.path.join(mnt, third, f))
    wait_for(5)
    os.rename(os.path.join(mnt, third, f), os.path.join(mnt, first, f))
    print(f"visited {' '.join(order)}; moved {third}/{f} into {first}, back, and again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
