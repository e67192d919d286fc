"""``Dispatcher``: starts one socket's handler calls in the order they came, as Node does.

Server and client sockets share it. The guarantee, as Node's: handlers *start* in arrival
order; a handler that awaits does not hold back the next one (each runs on while the next
starts); a handler that returns without awaiting costs no task.

A call is a function of no arguments that runs a handler: it returns ``None`` when the handler
is done, or an awaitable (the rest of an async handler). The dispatcher's task calls each
queued call in turn and runs what it returns until it first suspends. If it completes without
suspending, the next call follows in the same task. If it suspends, the task stays with that
handler to its end and a new task takes over the queue: so a task is made only for a handler
that really waits. The queue and its task exist only while calls are queued: an idle socket
holds neither.

The queue is bounded: ``submit`` hands back what the caller must await while it is past its
size (the reader then stops reading, and the peer's packets wait in the transport).

Each call is queued with the name of the event it serves, so that a handler that raises is
reported with it: the owner's ``failed(event)`` logs the exception being handled.
"""

from __future__ import annotations

import contextvars
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from functools import partial
from typing import Any

import trio

__all__ = ["Call", "Dispatcher", "Failed", "before_first_wait", "resume"]

Call = Callable[[], Awaitable[Any] | None]
Spawn = Callable[..., None]
#: Called inside the ``except`` block of a call that raised, with the call's event name.
Failed = Callable[[str], None]


class Dispatcher:
    """Starts a socket's calls in order, in tasks started with ``spawn(fn, *args)``.

    Args:
        spawn: starts a task (the owner's nursery: a link's or a manager's).
        failed: logs the exception of a call that raised (``logger.exception``), given the
            name of the event the call served.
        size: how many calls may wait to start before ``submit`` pushes back.
    """

    __slots__ = ("_closed", "_failed", "_queue", "_room", "_running", "_size", "_spawn")

    def __init__(self, spawn: Spawn, failed: Failed, size: int) -> None:
        self._spawn = spawn
        self._failed = failed
        self._size = size
        self._queue: deque[tuple[str, Call]] | None = None  # made by the first call queued
        self._room: trio.lowlevel.ParkingLot | None = None  # made by the first wait for room
        self._running = False
        self._closed = False

    @property
    def idle(self) -> bool:
        """Whether no call waits to start: a handler called now comes after every earlier one
        has started, so the caller may run it itself."""
        return not self._queue

    def submit(self, event: str, *calls: Call) -> Awaitable[None] | None:
        """Queue ``calls`` (for ``event``); returns what the caller must await before submitting
        more when the queue is past its size, else ``None``. Nothing happens once closed."""
        if self._closed or not calls:
            return None
        queue = self._start()
        queue.extend([(event, call) for call in calls])
        if len(queue) > self._size:
            return self._wait_for_room()
        return None

    def submit_nowait(self, event: str, *calls: Call) -> None:
        """Queue ``calls`` (for ``event``) without ever waiting (past the size too: for the few
        calls that are not a peer's packets, such as ``disconnect``)."""
        if calls and not self._closed:
            self._start().extend([(event, call) for call in calls])

    def submit_first(self, event: str, calls: Iterable[Call]) -> None:
        """Queue ``calls`` (for ``event``) ahead of every waiting call, in their order: what a
        queued call turns into when its turn comes (an event's handlers), so taken once closed
        too."""
        items = [(event, call) for call in calls]
        if items:
            self._start().extendleft(reversed(items))

    def close(self) -> None:
        """Take no more calls; those queued still run."""
        self._closed = True

    def _start(self) -> deque[tuple[str, Call]]:
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        if not self._running:
            self._running = True
            self._spawn(self._run)
        return queue

    async def _wait_for_room(self) -> None:
        if self._room is None:
            self._room = trio.lowlevel.ParkingLot()
        while self._queue is not None and len(self._queue) > self._size:
            await self._room.park()

    async def _run(self) -> None:
        queue = self._queue
        assert queue is not None
        while queue:
            event, call = queue.popleft()
            if self._room is not None and len(queue) <= self._size:
                self._room.unpark_all()
            try:
                rest = call()
                if rest is None:
                    continue
                coro = (rest if type(rest) is types.CoroutineType or isinstance(rest, Coroutine)
                        else _awaited(rest))
                trap = coro.send(None)
            except StopIteration:
                continue  # finished without waiting
            except Exception:
                self._failed(event)
                continue
            # The handler waits: this task stays with it, another takes the queue over.
            self._running = False
            if queue:
                self._start()
            try:
                await resume(coro, trap)
            except Exception:
                self._failed(event)
            return
        self._running = False
        self._queue = None


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


@types.coroutine
def before_first_wait(
    coro: Coroutine[Any, Any, Any], callback: Callable[[], None]
) -> Generator[Any, Any, Any]:
    """Await ``coro``, calling ``callback()`` once, just before ``coro`` first suspends (in the
    same step: nothing else runs between its last synchronous statement and the callback); not
    at all if it finishes, or raises, without suspending."""
    try:
        trap = coro.send(None)
    except StopIteration as done:
        return done.value
    callback()
    return (yield from resume(coro, trap))


@types.coroutine
def resume(
    coro: Coroutine[Any, Any, Any], trap: Any, context: contextvars.Context | None = None
) -> Generator[Any, Any, Any]:
    """Run ``coro`` to its end from this task, where it already ran until it yielded ``trap``
    to trio: pass the trap on, and trio's answer (a value, or an exception such as
    ``Cancelled``) back in, as ``await coro`` would have done from the start. ``context``:
    the one its first steps ran in, for every later step (a coroutine started in a task not
    its own keeps its context variables apart, as a task of its own would)."""
    send: Callable[[Any], Any] = coro.send
    throw: Callable[[BaseException], Any] = coro.throw
    if context is not None:
        run: Callable[..., Any] = context.run
        send, throw = partial(run, coro.send), partial(run, coro.throw)
    while True:
        try:
            sent = yield trap
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as error:
            try:
                trap = throw(error)
            except StopIteration as done:
                return done.value
        else:
            try:
                trap = send(sent)
            except StopIteration as done:
                return done.value
