"""Admission of new connections: a flood of them must not starve the established ones.

A trio server does one step of every runnable task per scheduler pass. Accepting connections
as fast as they come puts every opening connection (its request to parse, its handshake to
answer) into each pass, so a pass grows with the flood and an established client waits that
long for its turn: seconds, with thousands opening at once. Here the listeners accept a new
connection only while fewer than ``limit`` accepted ones are still before their first answer;
the rest wait in the kernel's listen backlog. Each pass then carries at most ``limit`` opening
connections besides the established ones. A connection that takes longer than ``hold``
seconds to be answered (a slowloris, a slow handshake) stops counting, so such clients cannot
hold the door shut.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable, Sequence

import trio

__all__ = ["Admission", "serve_admitted"]

log = logging.getLogger("transports.http")

# As trio.serve_listeners: out of descriptors or memory, wait a little and accept again.
_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
_CAPACITY_SLEEP = 0.1


class Admission:
    """Counts the accepted connections not answered yet, up to ``limit``; see the module."""

    __slots__ = ("_held", "_hold", "_limit", "_lot", "_next")

    def __init__(self, limit: int, hold: float) -> None:
        self._limit = limit
        self._hold = hold
        self._held: dict[int, float] = {}  # token -> when admitted, oldest first
        self._next = 0
        self._lot = trio.lowlevel.ParkingLot()

    @property
    def opening(self) -> int:
        """How many admitted connections still count."""
        return len(self._held)

    async def admit(self) -> Callable[[], None]:
        """Wait for room for one more connection; returns what to call once it is answered
        (calling it again, or after its hold ran out, does nothing)."""
        held = self._held
        while len(held) >= self._limit:
            oldest = next(iter(held))
            expires = held[oldest] + self._hold
            if trio.current_time() >= expires:
                del held[oldest]
                continue
            with trio.move_on_at(expires):
                await self._lot.park()
        token = self._next
        self._next += 1
        held[token] = trio.current_time()
        return _Ticket(self, token)

    def _release(self, token: int) -> None:
        if self._held.pop(token, None) is not None:
            self._lot.unpark()


class _Ticket:
    """What an admitted connection calls once answered (kept for the connection's life: a
    quarter of the size of a ``functools.partial``)."""

    __slots__ = ("_admission", "_token")

    def __init__(self, admission: Admission, token: int) -> None:
        self._admission = admission
        self._token = token

    def __call__(self) -> None:
        self._admission._release(self._token)


Handler = Callable[[trio.SocketStream, Callable[[], None]], Awaitable[object]]


async def _accept_loop(listener: trio.SocketListener, handler: Handler, admission: Admission,
                       nursery: trio.Nursery) -> None:
    async with listener:
        while True:
            admitted = await admission.admit()
            try:
                stream = await listener.accept()
            except OSError as exc:
                admitted()
                if exc.errno not in _CAPACITY_ERRNOS:
                    raise
                log.error("accept failed, waiting %g s: %s", _CAPACITY_SLEEP, exc)
                await trio.sleep(_CAPACITY_SLEEP)
                continue
            except BaseException:
                admitted()
                raise
            nursery.start_soon(handler, stream, admitted)


async def serve_admitted(
    handler: Handler,
    listeners: Sequence[trio.SocketListener],
    admission: Admission,
    *,
    handler_nursery: trio.Nursery | None = None,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """As ``trio.serve_listeners``, each accept waiting for ``admission``: ``handler(stream,
    admitted)`` must call ``admitted()`` once the connection's first request is answered (or
    it ended), and close ``stream``, whatever happens (even when it is cancelled)."""
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(_accept_loop, listener, handler, admission,
                               handler_nursery or nursery)
        task_status.started(list(listeners))
