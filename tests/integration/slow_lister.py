#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Lists directories over and over, slowly (a pause every few entries, so
that a listing spans many READDIR calls; some entries looked up, so that
the kernel asks READDIRPLUS too), until a stop file appears, and
checks each listing against the names the directory must hold: none
missing, none twice. Usage: slow_lister.py STOPFILE EXPECTED DIR...
(EXPECTED: one name per line, the same in every DIR). Prints the number
of listings; exits 1 at the first wrong one, naming what was wrong."""
import os
import sys
import time


def main():
    stop, expected_file, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(expected_file) as f:
        expected = sorted(line.rstrip("\n") for line in f if line.strip())
    listings = 0
    while not os.path.exists(stop):
        for d in dirs:
            names = []
            with os.scandir(d) as it:
                for i, e in enumerate(it):
                    names.append(e.name)
                    if i % 40 == 0:
                        time.sleep(0.002)
                    # Some lookups: the kernel then asks READDIRPLUS.
                    if i % 25 == 0:
                        os.stat(e.path)
            names.sort()
            listings += 1
            if names != expected:
                got, want = set(names), set(expected)
                dups = len(names) - len(got)
                print(f"listing {listings} of {d}: {len(names)} names, "
                      f"{len(want - got)} missing (e.g. {sorted(want - got)[:3]}), "
                      f"{len(got - want)} unexpected, {dups} twice", flush=True)
                return 1
    print(listings, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
