#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Lists one directory in one pass with a pause in the middle: after
AFTER entries it creates PAUSED and waits (up to 120 s) for RESUME, then
lists the rest. So whatever happens during the pause (another host's
rotation converting the directory) falls between two READDIR calls of
one listing. Checks the listing against EXPECTED (one name per line):
none missing, none twice. Usage:
paused_lister.py DIR EXPECTED AFTER PAUSED RESUME"""
import os
import sys
import time


def main():
    d, expected_file, after, paused, resume = sys.argv[1:6]
    with open(expected_file) as f:
        expected = sorted(line.rstrip("\n") for line in f if line.strip())
    names = []
    with os.scandir(d) as it:
        for e in it:
            names.append(e.name)
            if len(names) == int(after):
                open(paused, "w").close()
                deadline = time.monotonic() + 120
                while not os.path.exists(resume):
                    if time.monotonic() > deadline:
                        print("no resume within 120 s", flush=True)
                        return 2
                    time.sleep(0.05)
    got, want = set(names), set(expected)
    if sorted(names) != expected:
        print(f"{len(names)} names, {len(want - got)} missing "
              f"(e.g. {sorted(want - got)[:3]}), {len(got - want)} unexpected, "
              f"{len(names) - len(got)} twice", flush=True)
        return 1
    print(f"{len(names)} names, each once", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
