#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Creates RESUME as soon as a rotation has renamed the entries of the
largest backing directory under VAULT (the one a paused listing reads),
so that the listing's next READDIR comes right after the conversion.
Usage: resume_on_convert.py VAULT RESUME. Exits 1 if nothing moved
within 120 s."""
import os
import sys
import time


def main():
    vault, resume = sys.argv[1], sys.argv[2]
    biggest, count = None, -1
    for root, dirs, files in os.walk(vault):
        n = len(dirs) + len(files)
        if n > count:
            biggest, count = root, n
    fd = os.open(biggest, os.O_RDONLY | os.O_DIRECTORY)
    before = set(os.listdir(fd))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = set(os.listdir(fd))
        # Most of the old names gone: the directory was converted.
        if len(before - now) > count // 2:
            open(resume, "w").close()
            return 0
        time.sleep(0.002)
    open(resume, "w").close()
    print("the directory was not converted within 120 s", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
