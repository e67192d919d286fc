"""``Waiter``: one answer a task waits for (an ack's arguments, or a connect's outcome)."""

from __future__ import annotations

from typing import Any

import trio

__all__ = ["Waiter"]


class Waiter:
    """Resolved with values or failed with an exception, once: later calls do nothing."""

    __slots__ = ("done", "error", "values")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.values: tuple[Any, ...] = ()
        self.error: BaseException | None = None

    def resolve(self, values: tuple[Any, ...]) -> None:
        """Answer with ``values``."""
        if not self.done.is_set():
            self.values = values
            self.done.set()

    def fail(self, error: BaseException) -> None:
        """Answer with ``error``, raised by ``result``."""
        if not self.done.is_set():
            self.error = error
            self.done.set()

    async def result(self) -> tuple[Any, ...]:
        """Wait for the answer: the values, or the failure raised."""
        await self.done.wait()
        if self.error is not None:
            raise self.error
        return self.values
