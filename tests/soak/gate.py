# SPDX-License-Identifier: Apache-2.0
"""Where the soak's workers stop. The driver closes the gate before a lock
(workers park with their files closed, so the lock is not refused) and
before a kill (errors from the dying mount are then expected, not
findings); it reopens the gate once the vault is back and verified."""

import threading
import time


class Findings:
    """Everything that went wrong, with the time it was seen."""

    def __init__(self, start):
        self.start = start
        self.lock = threading.Lock()
        self.items = []

    def add(self, who, what):
        with self.lock:
            self.items.append((time.monotonic() - self.start, who, what))

    def __len__(self):
        with self.lock:
            return len(self.items)


class Gate:
    def __init__(self):
        self.cond = threading.Condition()
        self.is_open = True
        self.disrupted = False
        self.stopping = False
        self.parked = set()

    def close(self, disruption=False):
        with self.cond:
            self.is_open = False
            self.disrupted = disruption

    def reopen(self):
        with self.cond:
            self.is_open = True
            self.disrupted = False
            self.cond.notify_all()

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()

    def errors_expected(self):
        with self.cond:
            return self.disrupted or self.stopping

    def wait_parked(self, names, timeout):
        """True once every worker named is parked."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not set(names) <= self.parked:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def stragglers(self, names):
        with self.cond:
            return sorted(set(names) - self.parked)

    def checkpoint(self, worker):
        """Returns at once while the gate is open. Otherwise closes the
        worker's files, parks it until the gate reopens, and returns False
        when the soak is over."""
        with self.cond:
            if self.stopping:
                return False
            if self.is_open:
                return True
        worker.release()
        worker.needs_acquire = True
        with self.cond:
            self.parked.add(worker.name)
            self.cond.notify_all()
            while not self.is_open and not self.stopping:
                self.cond.wait()
            self.parked.discard(worker.name)
            return not self.stopping
