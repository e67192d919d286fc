"""The server-wide timer: one heap of deadlines and one task that rings each at its time.

A session's driver runs only when it has work: it files the session's next deadline here and
ends, and the timer rings the session's ``Alarm`` when that deadline is due, which starts the
driver again. An idle session then holds no task (a task, its coroutines and a cancel scope
cost kilobytes per session).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Awaitable, Callable
from heapq import heapify, heappop, heappush

import trio

from ._signal import Wakeup

__all__ = ["Alarm", "Timers"]

# The heap is rebuilt without its void entries once they outnumber the live ones by this many
# (see Timers.set).
_VOID_ENTRIES = 512


class Alarm:
    """What the timer rings: filed for one time at once (``at``), rung when it is due."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None  # the time of its latest entry in the timer heap

    def ring(self) -> None:
        """The time filed has come (called by the timer's task)."""
        raise NotImplementedError


class Timers:
    """Every idle session's next deadline, kept by one task started on demand.

    Args:
        spawn: starts a task in the server's nursery; returns ``False`` when serving is over.
    """

    def __init__(self, spawn: Callable[[Callable[[], Awaitable[object]]], bool]) -> None:
        self._spawn = spawn
        self._heap: list[tuple[float, int, Alarm]] = []
        self._ids = itertools.count()
        self._wake = Wakeup()
        self._sleeping_until = -math.inf
        self._running = False
        self._live = 0  # entries not void

    def set(self, alarm: Alarm, at: float | None) -> None:
        """Ring ``alarm`` at ``at`` (``None``: never); its earlier entry becomes void."""
        if alarm.at is not None:
            self._live -= 1
            if len(self._heap) > 2 * self._live + _VOID_ENTRIES:
                self._prune(alarm)
        alarm.at = at
        if at is None:
            if not self._live:
                self._wake.notify()  # nothing left to ring: the timer task may end
            return
        self._live += 1
        heappush(self._heap, (at, next(self._ids), alarm))
        if at < self._sleeping_until:
            self._wake.notify()
        if not self._running:
            self._running = self._spawn(self._run)

    def _prune(self, voided: Alarm) -> None:
        """Drop the void entries, ``voided``'s live one too (its time is being changed).

        A void entry would stay until its time: a closed session's, until its next ping was
        due (25 s by default). Under churn that was thousands of entries (and the alarms they
        hold), short-lived small objects among long-lived ones, which left pymalloc's arenas
        fragmented. Rebuilt as trio does its deadlines: O(1) amortized an entry voided.
        """
        heap = self._heap
        kept: list[tuple[float, int, Alarm]] = []
        seen: set[int] = set()
        for entry in heap:
            alarm = entry[2]
            # An alarm set back to an earlier time has two entries that look live: one kept.
            if alarm.at == entry[0] and alarm is not voided and id(alarm) not in seen:
                seen.add(id(alarm))
                kept.append(entry)
        heap[:] = kept  # in place: the task's loop holds the list
        heapify(heap)

    async def _run(self) -> None:
        """Ring each alarm at its time. An entry is void once its alarm is set for another
        time (the session's deadline moved earlier, or its driver runs and has yet to file the
        next one)."""
        heap = self._heap
        try:
            while self._live:
                now = trio.current_time()
                while heap and heap[0][0] <= now:
                    at, _, alarm = heappop(heap)
                    if alarm.at == at:
                        self._live -= 1
                        alarm.at = None
                        alarm.ring()
                self._sleeping_until = heap[0][0] if heap else math.inf
                try:
                    with trio.move_on_at(self._sleeping_until):
                        await self._wake.wait()
                finally:
                    self._sleeping_until = -math.inf
        finally:
            # Every entry is void, or the nursery is going.
            self._running = False
            if not self._live:
                heap.clear()
