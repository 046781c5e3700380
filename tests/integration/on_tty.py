#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# on_tty.py ANSWER CMD ARGS...: runs CMD on a pseudo-terminal (standard
# input, output and error), answers ANSWER to the first "[y/N]" question,
# prints everything CMD wrote and exits with CMD's status. "-" never
# answers (the question must not come).
import os
import pty
import select
import sys

answer, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out = b""
sent = False
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
    if not sent and answer != "-" and b"[y/N]" in out:
        os.write(fd, answer.encode() + b"\n")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
