#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes KIB KiB of random bytes to PATH in CHUNK KiB writes (default 64),
then ends as END says ("fsync": two fsyncs, then close; "close": close
only), and prints what happened: "write N ERRNO" for the first write that
failed, "fsync ok|ERRNO" twice, "close ok|ERRNO". Used by the tests of
shared write-behind (59-shared-writebehind*.bats): which call reports a
deferred error, and that none is a false success.

usage: err_writer.py PATH KIB END [CHUNK]"""
import errno
import os
import sys


def main():
    path, kib, end = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    chunk = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    out = []
    for i in range(kib // chunk):
        try:
            os.write(fd, os.urandom(chunk << 10))
        except OSError as e:
            out.append("write %d %s" % (i, errno.errorcode[e.errno]))
            break
    if end == "fsync":
        for _ in range(2):
            try:
                os.fsync(fd)
                out.append("fsync ok")
            except OSError as e:
                out.append("fsync %s" % errno.errorcode[e.errno])
    try:
        os.close(fd)
        out.append("close ok")
    except OSError as e:
        out.append("close %s" % errno.errorcode[e.errno])
    print(" ".join(out))


if __name__ == "__main__":
    main()
