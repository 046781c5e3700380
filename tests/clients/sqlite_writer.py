#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""SQLite writer for the client suite: commits one row per transaction in
the given journal mode with synchronous=FULL (or the level given third) and
prints the id of each committed (acknowledged) row, flushed, until killed."""
import os
import sqlite3
import sys

db, mode = sys.argv[1], sys.argv[2]
sync = sys.argv[3] if len(sys.argv) > 3 else "FULL"
con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA journal_mode=%s" % mode)
con.execute("PRAGMA synchronous=%s" % sync)
if sync.upper() == "OFF":
    # The run that must lose commits (a stalled engine, then kill -9 of the
    # daemon): a checkpoint reads the WAL, which waits for the stalled
    # queue, and would end the acknowledgements early, maybe before any.
    con.execute("PRAGMA wal_autocheckpoint=0")
con.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
con.execute("CREATE INDEX IF NOT EXISTS t_v ON t(v)")
payload = os.urandom(300).hex()
while True:
    con.execute("BEGIN")
    cur = con.execute("INSERT INTO t(v) VALUES (?)", (payload,))
    con.execute("COMMIT")
    print(cur.lastrowid, flush=True)
