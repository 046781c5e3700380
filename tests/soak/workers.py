# SPDX-License-Identifier: Apache-2.0
"""The soak's workers. Each writes through the mount, counts what it did and
keeps a ledger of what the file system acknowledged as durable (an fsync or
a commit that returned). verify() checks the ledger against the vault after
a remount (with the worker parked); live_check() lets readers check a file
while its writer is still at work."""

import collections
import errno
import os
import random
import shutil
import sqlite3
import threading
import time
import zlib

import content


class Worker(threading.Thread):
    def __init__(self, name, soak, seed):
        super().__init__(name=name, daemon=True)
        self.soak = soak
        self.gate = soak.gate
        self.rnd = random.Random(seed)
        self.lock = threading.Lock()
        self.stats = collections.Counter()
        self.needs_acquire = True

    def finding(self, what):
        self.soak.findings.add(self.name, what)

    def run(self):
        while self.gate.checkpoint(self):
            try:
                if self.needs_acquire:
                    self.acquire()
                    self.needs_acquire = False
                self.step()
            except (OSError, sqlite3.Error) as e:
                self.needs_acquire = True
                self.release()
                if self.gate.errors_expected():
                    self.stats["interrupted"] += 1
                else:
                    self.finding("unexpected error: %r" % (e,))
                    time.sleep(1)
            except Exception as e:  # a bug of the soak: said, never silent
                self.needs_acquire = True
                self.release()
                self.finding("worker failed: %r" % (e,))
                time.sleep(1)
        self.release()

    # Subclasses: acquire() opens what step() uses, release() closes it
    # without raising; reconcile() (worker parked, after verify()) takes the
    # state a kill left as the new starting point.
    def acquire(self):
        pass

    def reconcile(self):
        pass

    def release(self):
        pass

    def verify(self):
        return []


def _read_all(path):
    with open(path, "rb") as f:
        return f.read()


class Appender(Worker):
    """Appends pieces of every size to a file (position-determined bytes),
    fsyncs each, and now and then shrinks it: growing writes across block
    boundaries, partial blocks, truncates."""

    def __init__(self, name, soak, seed, index):
        super().__init__(name, soak, seed)
        self.path = os.path.join(soak.vault.mnt, "append", "a%02d" % index)
        self.stream = "append/%d" % index
        self.acked = 0
        self.floor = 0
        self.shrinks = 0
        self.shrinking_to = None  # a truncate under way: either length is allowed
        self.fd = -1

    def acquire(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def reconcile(self):
        # Bytes past the acknowledged length were never promised (verify()
        # has checked them): continue from the promise.
        if self.shrinking_to is not None:
            self.acked = self.floor = self.shrinking_to
            self.shrinking_to = None
        if os.path.exists(self.path) and os.stat(self.path).st_size != self.acked:
            with open(self.path, "r+b") as f:
                f.truncate(self.acked)
                os.fsync(f.fileno())
            self.stats["reconciled"] += 1

    def release(self):
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1

    def step(self):
        if self.acked > 65536 and self.rnd.random() < 0.05:
            # shrinks counts twice per truncate, before and after it, and
            # live_check judges no read that overlaps one: during a FUSE
            # truncate the kernel zeroes the tail of the page at the new
            # end and drops the file's cached pages, so a read under way
            # may copy zeros past the new end, then see the file regrown by
            # the next appends (what the soak reported as "a reader saw
            # zeros" when the second count was missing; ext4 has the same
            # window, shorter).
            new = self.rnd.randrange(self.acked - 65536, self.acked)
            with self.lock:
                self.floor = new
                self.shrinks += 1
                self.shrinking_to = new
            os.ftruncate(self.fd, new)
            os.fsync(self.fd)
            with self.lock:
                self.acked = new
                self.shrinking_to = None
                self.shrinks += 1
            self.stats["truncates"] += 1
            return
        if self.acked > 8 << 20:  # keep files at a size a verify pass reads quickly
            limit = 4096
        else:
            limit = self.rnd.choice([100, 4096, 5000, 70000, 300000])
        n = self.rnd.randrange(1, limit + 1)
        data = content.stream_bytes(self.stream, self.acked, n)
        written = os.pwrite(self.fd, data, self.acked)
        if written != n:
            # The kernel returns what it copied when the daemon dies in the
            # middle of a write: an error like any other (run() says
            # whether a kill explains it); reconcile() takes the state.
            raise OSError(errno.EIO, "short write: %d of %d bytes" % (written, n))
        os.fsync(self.fd)
        with self.lock:
            self.acked += written
            self.floor = self.acked
        self.stats["appends"] += 1
        self.stats["bytes_acked"] += written

    def live_check(self):
        with self.lock:
            floor, shrinks = self.floor, self.shrinks
            if self.shrinking_to is not None:
                return 0  # a truncate under way: nothing to judge
        try:
            data = _read_all(self.path)
        except FileNotFoundError:
            return 0
        with self.lock:
            if shrinks != self.shrinks:
                return 0  # a truncate raced the read: nothing to judge
        bad = content.first_mismatch(self.stream, data)
        if bad is not None:
            run = data[bad:bad + 4096]
            what = "zeros" if not run.strip(b"\0") else "other bytes"
            # Within the largest append (300,000 bytes) of the end read.
            tail = len(data) - bad <= 300000
            if what == "zeros" and bad >= floor and tail and not self.soak.writeback:
                # Bytes of the append under way, read as zeros: the known
                # gap of FUSE's write-through path (docs/DESIGN.md, known
                # gaps; libfuse's passthrough_ll does the same). Counted,
                # not a loss: nothing acknowledged was misread.
                self.stats["inflight_zero_reads"] += 1
                return len(data)
            self.finding("a reader saw %s at offset %d of %s (length %d; %d acknowledged "
                         "when the read began)" % (what, bad, self.path, len(data), floor))
        elif len(data) < floor:
            self.finding("a reader saw %s end at %d, %d bytes were acknowledged" %
                         (self.path, len(data), floor))
        return len(data)

    def verify(self):
        try:
            data = _read_all(self.path)
        except FileNotFoundError:
            return ["%s is gone (%d bytes were acknowledged)" % (self.path, self.acked)] \
                if self.acked else []
        except OSError as e:
            return ["%s unreadable: %r" % (self.path, e)]
        self.stats["bytes_verified"] += len(data)
        promised = self.acked if self.shrinking_to is None else self.shrinking_to
        if len(data) < promised:
            return ["%s: %d bytes, %d acknowledged" % (self.path, len(data), promised)]
        bad = content.first_mismatch(self.stream, data[:promised])
        if bad is not None:
            return ["%s: acknowledged byte %d differs" % (self.path, bad)]
        tail = data[promised:]
        if tail and not self._stream_or_zero(tail, promised):
            return ["%s: bytes past the acknowledged end are neither written nor zero" %
                    self.path]
        return []

    def _stream_or_zero(self, tail, offset):
        expect = content.stream_bytes(self.stream, offset, len(tail))
        return all(a == b or a == 0 for a, b in zip(tail, expect))


class BlockWriter(Worker):
    """Rewrites runs of whole 4 KiB blocks in place with new generations
    (self-describing), fsyncing each run: the in-place update of a database
    page."""

    BLOCKS = 256

    def __init__(self, name, soak, seed, index):
        super().__init__(name, soak, seed)
        self.index = index
        self.path = os.path.join(soak.vault.mnt, "blocks", "b%02d" % index)
        self.acked = [0] * self.BLOCKS
        self.gen = 0
        self.fd = -1
        # Writes started, numbered: a reader tolerates a torn block only
        # where a write ran during its read (as on ext4, a read racing a
        # write of the same page may see part of each; the kernel does not
        # lock a cached page against readers while it copies into it).
        self.write_seq = 0
        self.write_log = []

    def create(self):
        with open(self.path, "wb") as f:
            for b in range(self.BLOCKS):
                f.write(content.make_block(self.index, b, 0))
            f.flush()
            os.fsync(f.fileno())

    def acquire(self):
        self.fd = os.open(self.path, os.O_RDWR)

    def release(self):
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1

    def step(self):
        first = self.rnd.randrange(self.BLOCKS)
        count = min(self.rnd.choice([1, 1, 2, 3, 8, 32]), self.BLOCKS - first)
        self.gen += 1
        data = b"".join(content.make_block(self.index, b, self.gen)
                        for b in range(first, first + count))
        with self.lock:
            self.write_seq += 1
            self.write_log.append((self.write_seq, first, count))
            del self.write_log[:-256]
        os.pwrite(self.fd, data, first * content.CHUNK)
        os.fsync(self.fd)
        with self.lock:
            for b in range(first, first + count):
                self.acked[b] = self.gen
        self.stats["block_writes"] += count

    def _judge(self, data, acked, who, racing=frozenset()):
        problems = []
        if len(data) != self.BLOCKS * content.CHUNK:
            problems.append("%s: %s size %d, expected %d" %
                            (who, self.path, len(data), self.BLOCKS * content.CHUNK))
        for b in range(min(self.BLOCKS, len(data) // content.CHUNK)):
            blk = data[b * content.CHUNK:(b + 1) * content.CHUNK]
            gen = content.block_generation(self.index, b, blk)
            if gen is None and b not in racing:
                problems.append("%s: block %d of %s is damaged" % (who, b, self.path))
            elif gen is None:
                continue
            elif gen < acked[b]:
                problems.append("%s: block %d of %s holds generation %d, %d was acknowledged"
                                % (who, b, self.path, gen, acked[b]))
        return problems

    def live_check(self):
        with self.lock:
            acked = list(self.acked)
            s0 = self.write_seq
        data = _read_all(self.path)
        with self.lock:
            racing = {b for seq, first, count in self.write_log if seq >= s0
                      for b in range(first, first + count)}
        for p in self._judge(data, acked, "a reader", racing)[:3]:
            self.finding(p)
        return len(data)

    def verify(self):
        try:
            data = _read_all(self.path)
        except OSError as e:
            return ["%s unreadable: %r" % (self.path, e)]
        self.stats["bytes_verified"] += len(data)
        return self._judge(data, self.acked, "after remount")


class SqliteWorker(Worker):
    """Commits small transactions to a SQLite database (WAL or rollback
    journal), as a lab's programs do; a commit that returned is acknowledged."""

    def __init__(self, name, soak, seed, mode):
        super().__init__(name, soak, seed)
        self.mode = mode
        self.path = os.path.join(soak.vault.mnt, "db", "%s.sqlite" % mode.lower())
        self.acked = 0
        self.next_id = 1
        self.db = None

    def _payload(self, row):
        return content.stream_bytes("sql/%s/%d" % (self.mode, row), 0, 50 + row * 37 % 3000)

    def _connect(self):
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=%s" % self.mode)
        db.execute("PRAGMA synchronous=FULL")
        return db

    def acquire(self):
        self.db = self._connect()
        self.db.execute("CREATE TABLE IF NOT EXISTS results (id INTEGER PRIMARY KEY, v BLOB)")
        top = self.db.execute("SELECT max(id) FROM results").fetchone()[0] or 0
        self.next_id = top + 1

    def release(self):
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
            self.db = None

    def step(self):
        rows = self.rnd.randrange(1, 40)
        first = self.next_id
        self.db.execute("BEGIN")
        for r in range(first, first + rows):
            self.db.execute("INSERT INTO results VALUES (?, ?)", (r, self._payload(r)))
        if self.rnd.random() < 0.2 and first > 50:
            victim = self.rnd.randrange(1, first)
            self.db.execute("UPDATE results SET v = ? WHERE id = ?", (self._payload(victim), victim))
        self.db.execute("COMMIT")
        self.next_id = first + rows
        with self.lock:
            self.acked = self.next_id - 1
        self.stats["commits"] += 1
        self.stats["rows"] += rows

    def verify(self):
        try:
            db = self._connect()
            try:
                check = db.execute("PRAGMA integrity_check").fetchone()[0]
                rows = db.execute("SELECT id, v FROM results ORDER BY id").fetchall()
            finally:
                db.close()
        except sqlite3.Error as e:
            if self.acked == 0 and "no such table" in str(e):
                return []
            return ["%s: %r" % (self.path, e)]
        problems = []
        if check != "ok":
            problems.append("%s: integrity_check says %s" % (self.path, check))
        ids = [r[0] for r in rows]
        if ids != list(range(1, len(ids) + 1)):
            problems.append("%s: row ids are not 1..%d" % (self.path, len(ids)))
        if len(ids) < self.acked:
            problems.append("%s: %d rows, %d were committed" % (self.path, len(ids), self.acked))
        for row, v in rows:
            if v != self._payload(row):
                problems.append("%s: row %d holds wrong bytes" % (self.path, row))
                break
        self.stats["rows_verified"] += len(rows)
        return problems


class NamespaceWorker(Worker):
    """Creates files by write-fsync-rename-fsync(dir), renames them across
    directories and deletes them, with directories made and removed in
    between: the metadata paths and their journal records."""

    SUBDIRS = ("x", "y", "z")

    def __init__(self, name, soak, seed, index):
        super().__init__(name, soak, seed)
        self.root = os.path.join(soak.vault.mnt, "ns%02d" % index)
        self.index = index
        self.present = {}  # relative name -> stream
        self.absent = collections.deque(maxlen=500)
        self.inflight = set()
        self.next_id = 0

    def create(self):
        for d in self.SUBDIRS:
            os.makedirs(os.path.join(self.root, d))
        self._fsync_dir(self.root)

    def _fsync_dir(self, path):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _size(self, stream):
        return zlib.crc32(stream.encode()) % 20000

    def reconcile(self):
        # An operation a kill interrupted: take whatever state it left,
        # once verify() found it to be one of the two allowed.
        for name in list(self.inflight):
            path = os.path.join(self.root, name)
            if os.path.exists(path):
                self.present[name] = self._stream_of(name)
            else:
                self.present.pop(name, None)
        self.inflight.clear()
        for d in self.SUBDIRS:
            for entry in os.listdir(os.path.join(self.root, d)):
                if entry.startswith(".tmp") or entry.startswith("dir"):
                    p = os.path.join(self.root, d, entry)
                    if os.path.isdir(p):
                        shutil.rmtree(p)
                    else:
                        os.unlink(p)

    def _stream_of(self, name):
        return "ns/%d/%s" % (self.index, name.split("/")[-1].split("-")[0])

    def step(self):
        op = self.rnd.random()
        d = self.rnd.choice(self.SUBDIRS)
        if op < 0.5 or len(self.present) < 20:
            self.next_id += 1
            name = "%s/f%d" % (d, self.next_id)
            stream = self._stream_of(name)
            tmp = os.path.join(self.root, d, ".tmp%d" % self.next_id)
            with open(tmp, "wb") as f:
                f.write(content.stream_bytes(stream, 0, self._size(stream)))
                f.flush()
                os.fsync(f.fileno())
            self.inflight = {name}
            os.rename(tmp, os.path.join(self.root, name))
            self._fsync_dir(os.path.join(self.root, d))
            self.present[name] = stream
            self.stats["creates"] += 1
        elif op < 0.7:
            old = self.rnd.choice(sorted(self.present))
            new = old
            while new in self.present:
                new = "%s/%s-r%d" % (d, old.split("/")[1].split("-")[0], self.rnd.randrange(10**6))
            self.inflight = {old, new}
            os.rename(os.path.join(self.root, old), os.path.join(self.root, new))
            self._fsync_dir(os.path.join(self.root, d))
            self._fsync_dir(os.path.join(self.root, old.split("/")[0]))
            self.present[new] = self.present.pop(old)
            self.absent.append(old)
            self.stats["renames"] += 1
        elif op < 0.9:
            old = self.rnd.choice(sorted(self.present))
            self.inflight = {old}
            os.unlink(os.path.join(self.root, old))
            self._fsync_dir(os.path.join(self.root, old.split("/")[0]))
            del self.present[old]
            self.absent.append(old)
            self.stats["deletes"] += 1
        else:
            sub = os.path.join(self.root, d, "dir%d" % self.rnd.randrange(10**6))
            os.mkdir(sub)
            with open(os.path.join(sub, "inner"), "wb") as f:
                f.write(b"inner")
            os.unlink(os.path.join(sub, "inner"))
            os.rmdir(sub)
            self.stats["dir_cycles"] += 1
        self.inflight = set()

    def verify(self):
        problems = []
        for name, stream in self.present.items():
            if name in self.inflight:
                continue
            path = os.path.join(self.root, name)
            try:
                data = _read_all(path)
            except OSError as e:
                problems.append("%s: acknowledged file lost: %r" % (path, e))
                continue
            if data != content.stream_bytes(stream, 0, self._size(stream)):
                problems.append("%s: wrong contents" % path)
        for name in self.absent:
            if name not in self.inflight and name not in self.present and \
                    os.path.lexists(os.path.join(self.root, name)):
                problems.append("%s/%s: deleted (acknowledged) but back" % (self.root, name))
        for name in self.inflight:
            path = os.path.join(self.root, name)
            if os.path.exists(path):
                try:
                    data = _read_all(path)
                except OSError as e:
                    problems.append("%s: interrupted operation left it unreadable: %r" % (path, e))
                    continue
                stream = self._stream_of(name)
                if data != content.stream_bytes(stream, 0, self._size(stream)):
                    problems.append("%s: interrupted operation left wrong contents" % path)
        self.stats["names_verified"] += len(self.present)
        return problems


class Reader(Worker):
    """Reads the writers' files while they write, checking every byte."""

    def __init__(self, name, soak, seed, targets):
        super().__init__(name, soak, seed)
        self.targets = targets

    def step(self):
        target = self.rnd.choice(self.targets)
        n = target.live_check()
        self.stats["reads"] += 1
        self.stats["bytes_read"] += n
        time.sleep(0.01)
