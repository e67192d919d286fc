"""A level-free wake-up: every waiter is released by the next ``notify()``."""

from __future__ import annotations

import trio


class Signal:
    """Wakes every task waiting at the moment ``notify()`` is called.

    Waiters re-check their condition after waking; a notify with nobody waiting is not kept,
    so callers must test their condition before waiting (trio runs the test and the wait
    atomically, with no checkpoint between them).
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = trio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait(self) -> None:
        await self._event.wait()
