"""Refused API credentials, counted per client and time window, so that a flood of bad tokens cannot flood
the audit trail (21 CFR 11.10(h) stays met: every refusal is counted, none is dropped).

The first refusals of a client in a window (up to `threshold`) are recorded at once, each; past the
threshold they are counted and recorded as one event with their number when the window has closed (at the
next refused request from any client after that). Each app node keeps its own windows; the recorded counts of all nodes add up.
Windows are counted per key: a client for bearer tokens, a (user name, client) pair for throttled sign-ins."""
from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class ClosedWindow(Generic[K]):
    key: K  # what the window counted refusals of (a client, or a user name and client)
    start: datetime
    end: datetime
    count: int  # refusals past the threshold (those before it were recorded at once)


@dataclass
class _Window:
    start: datetime
    seen: int = 0
    count: int = 0


class RefusalWindows(Generic[K]):
    def __init__(self, length: timedelta, threshold: int) -> None:
        self.length = length
        self.threshold = threshold
        self._windows: dict[K, _Window] = {}
        self._lock = threading.Lock()

    def refuse(self, key: K, now: datetime) -> tuple[bool, list[ClosedWindow[K]]]:
        """Count one refusal of `key`: whether to record it at once (within the threshold of its window), and
        the windows that have closed since, whose counts are still to be recorded."""
        with self._lock:
            closed = [ClosedWindow(held, window.start, window.start + self.length, window.count)
                      for held, window in self._windows.items() if window.start + self.length <= now]
            for item in closed:
                del self._windows[item.key]
            window = self._windows.setdefault(key, _Window(now))
            window.seen += 1
            at_once = window.seen <= self.threshold
            if not at_once:
                window.count += 1
        return at_once, [item for item in closed if item.count]
