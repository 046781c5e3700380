#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Renames directories m0 .. m39 of DIR away and back, over and over,
until a stop file appears (a walk of the tree meets them gone or moved).
Usage: rot_mover.py STOPFILE DIR. Prints the number of rounds."""
import os
import sys


def main():
    stop, root = sys.argv[1], sys.argv[2]
    rounds = 0
    while not os.path.exists(stop):
        for i in range(40):
            a = os.path.join(root, f"m{i}")
            os.rename(a, a + ".x")
            os.rename(a + ".x", a)
        rounds += 1
    print(rounds, flush=True)


if __name__ == "__main__":
    main()
