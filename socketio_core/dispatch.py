"""``Dispatcher``: runs one socket's handler calls one at a time, in the order they came.

Server and client sockets share it. A call is a function of no arguments returning an
awaitable (a handler's coroutine, or the rest of one). The dispatcher's task exists only while
calls are queued: an idle socket holds no task and no queue. The queue is bounded: ``submit``
hands back what the caller must await while it is full (the reader then stops reading: the
peer's packets wait in the transport), ``submit_nowait`` never waits.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio

__all__ = ["Call", "Dispatcher"]

log = logging.getLogger("socketio_core")

Call = Callable[[], Awaitable[Any]]
Spawn = Callable[..., None]


class Dispatcher:
    """Runs ``owner``'s calls in order, in tasks started with ``spawn(fn, *args)``.

    Args:
        spawn: starts a task (the owner's nursery: a link's or a manager's).
        owner: named in the log when a call fails.
        size: how many calls may wait before ``submit`` pushes back.
    """

    __slots__ = ("_backlog", "_closed", "_owner", "_receive", "_running", "_send", "_size",
                 "_spawn")

    def __init__(self, spawn: Spawn, owner: object, size: int) -> None:
        self._spawn = spawn
        self._owner = owner
        self._size = size
        self._send: trio.MemorySendChannel[Call] | None = None
        self._receive: trio.MemoryReceiveChannel[Call] | None = None
        self._running = False
        self._closed = False
        self._backlog = 0  # calls queued or running

    @property
    def idle(self) -> bool:
        """Whether nothing is queued or running: a call made now comes after no other."""
        return not self._backlog

    def submit(self, call: Call) -> Awaitable[None] | None:
        """Queue ``call``; returns what is left to await when the queue is full, else
        ``None``. Nothing happens once closed."""
        try:
            # Only a full queue waits: a yield per packet would cost a scheduler pass each, and
            # the caller yields anyway when the engine has no more input for it.
            self._queue().send_nowait(call)
        except trio.WouldBlock:
            return self._submit_waiting(call)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return None
        self._backlog += 1
        return None

    def submit_nowait(self, call: Call) -> None:
        """Queue ``call`` without waiting: when the queue is full, a task waits to queue it."""
        try:
            self._queue().send_nowait(call)
        except trio.WouldBlock:
            self._spawn(self._send_later, call)
        except trio.ClosedResourceError:
            return
        self._backlog += 1

    def close(self) -> None:
        """Take no more calls; those queued still run."""
        self._closed = True
        if self._send is not None:
            self._send.close()

    def _queue(self) -> trio.MemorySendChannel[Call]:
        """The queue, made on first use; starts the dispatcher's task if it is not running (it
        stops once the queue is empty)."""
        if self._send is None:
            self._send, self._receive = trio.open_memory_channel[Call](self._size)
            if self._closed:
                self._send.close()
        if not self._running:
            self._running = True
            self._spawn(self._run)
        return self._send

    async def _send_later(self, call: Call) -> None:
        # Counted in the backlog already. By the time this task runs the dispatcher may have
        # emptied the queue and stopped: _queue() starts it again.
        try:
            await self._queue().send(call)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self._backlog -= 1

    async def _submit_waiting(self, call: Call) -> None:
        try:
            await self._queue().send(call)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return
        self._backlog += 1

    async def _run(self) -> None:
        queue = self._receive
        assert queue is not None
        try:
            while True:
                # Run every queued call before yielding: what they send then leaves in one write
                # per client instead of one per call (the queue's size bounds the run).
                try:
                    call = queue.receive_nowait()
                except trio.WouldBlock:
                    return  # nothing left: the next queued call starts a new task
                except trio.EndOfChannel:
                    await queue.aclose()
                    return
                try:
                    await call()
                except Exception:
                    log.exception("handler of %r failed", self._owner)
                finally:
                    self._backlog -= 1
        finally:
            self._running = False
