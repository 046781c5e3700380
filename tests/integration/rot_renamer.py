#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Renames MNT/sI onto the empty directory MNT/tI (I = 1..N), or with
"rmdir" removes MNT/tI, while the rotation is converting tI
(60-rotate-concurrent.bats, 61-rotate-concurrent-shared.bats: the
rotation may run on another host's mount of the vault): tI's backing
directory (the one with tI's inode number in the backing root D, which
lethefs reports as the plaintext one) holds the conversion's temporary
metadata then, which the test's shim keeps there for a while. Prints how
many were renamed so; exits 1 on an error or when one was never met.

usage: rot_renamer.py MNT D N [rmdir]
"""
import os
import sys
import threading
import time


def main():
    mnt, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rmdir = len(sys.argv) > 4 and sys.argv[4] == "rmdir"
    want = {os.stat(f"{mnt}/t{i}").st_ino: i for i in range(1, n + 1)}
    done, errors, threads = set(), [], []

    def rename(i):
        try:
            if rmdir:
                os.rmdir(f"{mnt}/t{i}")
            else:
                os.rename(f"{mnt}/s{i}", f"{mnt}/t{i}")
        except OSError as err:
            errors.append(f"{'rmdir' if rmdir else 'rename s%d onto' % i} t{i}: {err}")

    deadline = time.monotonic() + 120
    while len(done) < n and time.monotonic() < deadline:
        for e in os.scandir(d):
            i = want.get(e.inode())
            if i is None or i in done:
                continue
            try:
                busy = any(x.startswith(".lethefs.tmp.") for x in os.listdir(e.path))
            except FileNotFoundError:
                continue  # renamed by the root's conversion meanwhile
            if busy:
                # On a thread of its own: the next conversion comes while
                # this rename waits (for this one, and for the shim).
                t = threading.Thread(target=rename, args=(i,))
                t.start()
                threads.append(t)
                done.add(i)
        time.sleep(0.002)
    for t in threads:
        t.join()
    print(f"{len(done)} of {n} {'removed' if rmdir else 'renamed'} while converted")
    for e in errors:
        print(e)
    return 0 if len(done) == n and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
