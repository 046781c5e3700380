#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes or checks a file shared by two hosts (52-shared-gluster.bats).

write PATH PARITY COUNT CHUNK [ascending]: writes every chunk i (of COUNT
chunks of CHUNK bytes) with i % 2 == PARITY, in a shuffled order (or in
ascending order: both hosts then keep growing the file, each append
re-sealing the block the other's last write ended in), each filled with a
byte that names it. CHUNK is not a multiple of 4096, so neighbouring chunks
of the two hosts share lethefs blocks: each host's read-modify-write of a
block must not undo the other's.

check PATH COUNT CHUNK: every chunk holds its byte; prints the bad ones.
"""
import os
import random
import sys


def pattern(i, chunk):
    return bytes([(i * 7 + 1) % 251 + 1]) * chunk


def write(path, parity, count, chunk, ascending=False):
    fd = os.open(path, os.O_RDWR)
    todo = [i for i in range(count) if i % 2 == parity]
    if not ascending:
        random.Random(parity).shuffle(todo)
    for i in todo:
        os.pwrite(fd, pattern(i, chunk), i * chunk)
    os.close(fd)


def check(path, count, chunk):
    with open(path, "rb") as f:
        data = f.read()
    bad = [i for i in range(count) if data[i * chunk:(i + 1) * chunk] != pattern(i, chunk)]
    if len(data) != count * chunk or bad:
        print("size %d (want %d), %d bad chunks: %s" % (len(data), count * chunk, len(bad), bad[:20]))
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
              len(sys.argv) > 6 and sys.argv[6] == "ascending")
    else:
        sys.exit(check(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
