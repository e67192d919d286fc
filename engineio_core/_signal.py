"""Level-free wake-ups (every waiter is released by the next ``notify()``) and a lazy flag."""

from __future__ import annotations

from collections.abc import Callable

import trio


class Signal:
    """Wakes every task waiting at the moment ``notify()`` is called.

    Waiters re-check their condition after waking; a notify with nobody waiting is not kept,
    so callers must test their condition before waiting (trio runs the test and the wait
    atomically, with no checkpoint between them).
    """

    __slots__ = ("_callbacks", "_event", "_waiting")

    def __init__(self) -> None:
        self._event: trio.Event | None = None  # made by the first waiter: idle, it costs nothing
        self._callbacks: list[Callable[[], None]] | None = None
        self._waiting = 0

    def notify(self) -> None:
        # A broadcast notifies each session once per message; with nobody waiting (the driver
        # already woken) that must cost next to nothing.
        if self._waiting:
            if self._event is not None:
                self._event.set()
                self._event = None
            if self._callbacks is not None:
                callbacks, self._callbacks = self._callbacks, None
                for callback in callbacks:
                    callback()
            self._waiting = 0

    def call_on_notify(self, callback: Callable[[], None]) -> None:
        """Have the next ``notify()`` call ``callback``: a task can then wait for something else
        (a socket) and for this signal at once, without a second task. The callback must do
        nothing once its waiter has gone on."""
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append(callback)
        self._waiting += 1

    async def wait(self) -> None:
        if self._event is None:
            self._event = trio.Event()
        self._waiting += 1
        await self._event.wait()


class Wakeup:
    """A ``Signal`` for a single waiter (a session's driver): it parks the task itself, with no
    ``trio.Event`` and parking lot per wait. A notify with nobody waiting is not kept."""

    __slots__ = ("_task",)

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None

    def notify(self) -> None:
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task)

    async def wait(self) -> None:
        if self._task is not None:
            raise trio.BusyResourceError("another task is already waiting on this wake-up")
        self._task = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort)

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._task = None
        return trio.lowlevel.Abort.SUCCEEDED


class Flag:
    """A ``trio.Event`` (``set``, ``is_set``, ``wait``) whose event is made only for a waiter:
    a session holds two, and an idle session waits on neither."""

    __slots__ = ("_event", "_set")

    def __init__(self) -> None:
        self._set = False
        self._event: trio.Event | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if not self._set:
            self._set = True
            if self._event is not None:
                self._event.set()

    async def wait(self) -> None:
        if self._set:
            await trio.lowlevel.checkpoint()
            return
        if self._event is None:
            self._event = trio.Event()
        await self._event.wait()
