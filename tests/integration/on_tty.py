#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# on_tty.py [PROMPT ANSWER]... -- CMD ARGS...: runs CMD on a pseudo-terminal
# (its controlling terminal, standard input, output and error), types
# ANSWER and a newline each time PROMPT appears (the pairs in order, each
# once), prints everything CMD wrote and exits with CMD's status. Without
# pairs nothing is ever typed.
import os
import pty
import select
import sys

split = sys.argv.index("--")
pairs = sys.argv[1:split]
argv = sys.argv[split + 1:]
expect = [(pairs[i].encode(), pairs[i + 1].encode()) for i in range(0, len(pairs), 2)]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out = b""
seen = 0  # where the next prompt is looked for
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    while expect:
        at = out.find(expect[0][0], seen)
        if at < 0:
            break
        seen = at + len(expect[0][0])
        os.write(fd, expect[0][1] + b"\n")
        expect.pop(0)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
