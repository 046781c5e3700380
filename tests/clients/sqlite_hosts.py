#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""SQLite on two hosts of a shared vault (29-clients-shared.bats): one host
writes, the other reads after each commit, told so through files in DIR
(outside the vault: the hosts' POSIX locks do not reach each other).

  writer DB ROUNDS DIR  each round: 5 rows and a summary row in one
                        transaction (journal_mode=DELETE, synchronous=FULL),
                        then DIR/committed.N, then wait for DIR/read.N
  reader DB ROUNDS DIR  after DIR/committed.N: through a connection kept
                        open and through a new one, the database must be
                        exactly round N's (summary, count, sum, quick_check);
                        then DIR/read.N. Prints what it checked; exit 1 on
                        the first difference.
Either stops waiting once DIR/stop exists.

SQ_JOURNAL and SQ_SYNC in the environment change the writer's journal_mode
and synchronous (to show that the reader's check can fail)."""
import os
import sqlite3
import sys
import time

role, db, rounds, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ROWS = 5


def wait_for(path):
    t0 = time.time()
    while not os.path.exists(path):
        if os.path.exists(os.path.join(d, "stop")):
            sys.exit("%s: stopped waiting for %s" % (role, path))
        if time.time() - t0 > 30:
            sys.exit("%s: no %s within 30 s" % (role, path))
        time.sleep(0.01)


def connect():
    con = sqlite3.connect(db, isolation_level=None, timeout=10)
    if role == "writer":
        con.execute("PRAGMA journal_mode=%s" % os.environ.get("SQ_JOURNAL", "DELETE"))
        con.execute("PRAGMA synchronous=%s" % os.environ.get("SQ_SYNC", "FULL"))
    return con


if role == "writer":
    con = connect()
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, round INTEGER, v TEXT)")
    con.execute("CREATE INDEX t_round ON t(round)")
    con.execute("CREATE TABLE s (n INTEGER, total INTEGER)")
    con.execute("INSERT INTO s VALUES (0, 0)")
    open(os.path.join(d, "committed.0"), "w").close()
    for n in range(1, rounds + 1):
        wait_for(os.path.join(d, "read.%d" % (n - 1)))
        con.execute("BEGIN IMMEDIATE")
        for _ in range(ROWS):
            # Rows of a few KiB: each round changes several pages.
            con.execute("INSERT INTO t(round, v) VALUES (?, ?)", (n, os.urandom(1500).hex()))
        con.execute("UPDATE s SET n = ?, total = total + ?", (n, n * ROWS))
        con.execute("COMMIT")
        open(os.path.join(d, "committed.%d" % n), "w").close()
    sys.exit(0)


def state(con):
    n, total = con.execute("SELECT n, total FROM s").fetchone()
    count, rsum = con.execute("SELECT count(*), coalesce(sum(round), 0) FROM t").fetchone()
    check = con.execute("PRAGMA quick_check").fetchone()[0]
    return n, total, count, rsum, check


kept = None
for n in range(0, rounds + 1):
    wait_for(os.path.join(d, "committed.%d" % n))
    want = (n, ROWS * n * (n + 1) // 2, ROWS * n, ROWS * n * (n + 1) // 2, "ok")
    if kept is None:
        kept = connect()
    for name, con in (("kept", kept), ("new", None)):
        c = con or connect()
        got = state(c)
        if c is not kept:
            c.close()
        if got != want:
            sys.exit("round %d, %s connection: got %r, want %r" % (n, name, got, want))
    open(os.path.join(d, "read.%d" % n), "w").close()
print("reader: %d rounds read consistently through a kept and a new connection" % rounds)
