"""Slow down guessing the admin token: a growing lockout per client address after failed sign-ins.

The first FREE_FAILURES failures from an address cost nothing (a typo); each one after that locks
the address out for twice as long as the last (2 s, 4 s, 8 s … at most MAX_LOCK_SECONDS), and a
sign-in while locked is refused without looking at the token. A success forgets the address; so
does FORGET_SECONDS without a failure. Kept in memory per process: a restart forgets it, which
costs an attacker a restart of the relay per few guesses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 2
MAX_LOCK_SECONDS = 300
FORGET_SECONDS = 3600
MAX_ADDRESSES = 10_000  # beyond this, addresses idle longest are forgotten first


@dataclass
class _Record:
    failures: int
    locked_until: float
    last_failure: float


class SignInThrottle:
    """Count failed sign-ins per client address; `clock` returns seconds (monotonic)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, address: str) -> int:
        """Return the whole seconds `address` must still wait before it may sign in (0: now)."""
        with self._lock:
            record = self._records.get(address)
            if record is None:
                return 0
            left = record.locked_until - self.clock()
            return max(int(left + 0.999), 0)

    def failed(self, address: str) -> int:
        """Count a failed sign-in from `address`; return the seconds it is now locked out."""
        now = self.clock()
        with self._lock:
            record = self._records.get(address)
            if record is None or now - record.last_failure > FORGET_SECONDS:
                record = self._records[address] = _Record(0, 0.0, now)
            record.failures += 1
            record.last_failure = now
            lock = lockout_seconds(record.failures)
            record.locked_until = now + lock
            self._prune()
            return lock

    def succeeded(self, address: str) -> None:
        """Forget the failures of `address` after a good sign-in."""
        with self._lock:
            self._records.pop(address, None)

    def _prune(self) -> None:
        if len(self._records) <= MAX_ADDRESSES:
            return
        # keep the half that failed most recently (and so may still be locked out)
        by_age = sorted(self._records.items(), key=lambda item: item[1].last_failure)
        for address, _ in by_age[: len(by_age) - MAX_ADDRESSES // 2]:
            del self._records[address]


def lockout_seconds(failures: int) -> int:
    """Return the lockout after the `failures`-th failure in a row: 0, 0, 2, 4, 8 … ≤ 300."""
    if failures <= FREE_FAILURES:
        return 0
    return int(min(2 ** (failures - FREE_FAILURES), MAX_LOCK_SECONDS))
