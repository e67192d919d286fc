"""The WebSocket side of a session: the probe of an upgrade, then the reader of the active
WebSocket.

The task that accepted the WebSocket reads it for the session's whole life, unless a handler
started in it waits: reading then goes on in a new task (``Reading``), and so on. Everything
one read brought goes through the core before anything is written (the upgrade's order depends
on it: ``2probe`` and ``5`` may arrive together with a poll). Once the WebSocket is the
session's, the answers acting on a message queues are written by whoever queued them
(``Writer.flush``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any

import trio

from transports import Request, WebSocket, WebSocketClosed

from . import protocol as eio
from ._session import Session

log = logging.getLogger("engineio_core")

__all__ = ["Reading", "read_websocket", "upgrade"]


async def upgrade(
    request: Request, session: Session, extra: Sequence[tuple[str, str]] = ()
) -> tuple[WebSocket, Sequence[str | bytes]] | None:
    """Accept a WebSocket for a polling session as its probe (its 101 with the ``extra``
    headers) and run the upgrade on it. Once it completes, returns the WebSocket and the
    messages read after the upgrade's, for ``read_websocket`` to go on with; ``None`` when the
    upgrade failed."""
    core = session.core
    websocket = await request.accept_websocket(extra_headers=extra)
    try:
        events = core.begin_upgrade(now=trio.current_time())
    except eio.ProtocolError:
        await websocket.aclose()
        return None
    session.writer.probe = websocket
    await session.deliver(events)
    session.notify()
    batch: deque[str | bytes] = deque()
    while session.writer.probe is websocket:
        try:
            batch.append(await websocket.receive())
        except (WebSocketClosed, trio.BrokenResourceError, trio.ClosedResourceError):
            session.writer.probe = None
            await session.deliver(core.probe_closed(now=trio.current_time()))
            return None
        # Everything that one read brought goes through the core before we write or yield:
        # a client may send "2probe" and "5" back to back and poll at once; like Node, we
        # must then answer that poll as upgraded and still send "3probe" first.
        batch.extend(websocket.receive_buffered())
        events = []
        while batch and session.writer.probe is websocket:
            try:
                events += core.receive_probe_message(batch.popleft(),
                                                     now=trio.current_time())
            except eio.ProtocolError:
                session.writer.probe = None
                await session.deliver([*events, *core.probe_closed(now=trio.current_time())])
                await websocket.aclose()
                return None
            if any(isinstance(event, eio.Upgraded) for event in events):
                log.debug("session %s upgraded to websocket", core.sid)
                session.writer.probe = None
                session.writer.websocket = websocket
            elif not core.upgrading:
                log.debug("session %s: upgrade to websocket failed", core.sid)
                session.writer.probe = None
                await session.deliver(events)
                await websocket.aclose()
                return None
        if session.writer.probe is websocket:
            if frames := core.take_probe_frames():
                await session.writer.send_probe(websocket, frames, session.deliver)
        else:
            session.writer.flush()  # what was queued for polling goes on the WebSocket now
        await session.deliver(events)
    if session.writer.websocket is not websocket:
        # The upgrade failed while we wrote "3probe" or delivered (the write failed, it timed
        # out): the probe is dropped and the session goes on polling as it was.
        return None
    return websocket, tuple(batch)


def read_websocket(
    session: Session, websocket: WebSocket, already: Iterable[str | bytes] = ()
) -> Coroutine[Any, Any, object]:
    """Read the session's active WebSocket until it or the session closes (``already``: the
    messages read before it became active): the coroutine to await (``Reading.run``, with
    no frame of its own beneath every idle reader).

    The task that awaits it may give reading away (``Reading.hand_off``) to run a handler
    that waits; it then returns once that handler and the reading are both done, so that
    what its caller does next (close the connection) still comes after the last read.
    """
    return Reading(session, websocket, tuple(already)).run()


class Reading:
    """One task's turn at reading a session's WebSocket.

    When the receiver starts a handler in the reader's task and the handler waits, the reader
    hands reading to a new task (``hand_off``) and stays with the handler: the handler runs
    on in the task its first steps ran in (trio binds cancel scopes, locks and waits to a
    task), and reading goes on at once, in order, in the new one. A handler that finishes
    without waiting costs no task at all.
    """

    __slots__ = ("_backlog", "_ended", "_first", "_session", "_websocket", "moved")

    def __init__(self, session: Session, websocket: WebSocket,
                 backlog: Sequence[str | bytes] = (), first: Reading | None = None) -> None:
        self._session = session
        self._websocket = websocket
        # The messages read and not yet acted on (an empty tuple while the reader waits:
        # nothing the garbage collector visits is held per idle connection).
        self._backlog = backlog
        # The first reading (the connection's own task), which closes the connection once
        # everything is done; its ``_ended`` is set when reading ends, whichever task read last.
        self._first = first
        self._ended: trio.Event | None = None
        self.moved = False

    def hand_off(self) -> bool:
        """Have a new task go on reading (from the next message) while this one stays with
        the handler that its last delivery started; ``False`` when the server no longer
        starts tasks (this task then reads on once the handler is done)."""
        first = self._first or self
        if first._ended is None:
            first._ended = trio.Event()
        successor = Reading(self._session, self._websocket, first=first)
        if not self._session.server.spawn(successor._run_moved):
            return False
        self.moved = True
        return True

    async def wait_ended(self) -> None:
        """(The first reading, once its handler is done.) Wait until reading has ended."""
        assert self._ended is not None
        await self._ended.wait()

    async def _run_moved(self) -> None:
        # (The connection itself is closed with its session, whichever task reads then.)
        first = self._first
        assert first is not None and first._ended is not None
        try:
            if await self.run():
                return  # handed on again: a later reading sets ``ended``
        finally:
            if not self.moved:
                first._ended.set()

    async def run(self) -> bool:
        """Read until the WebSocket or the session closes (``False``), or until reading was
        handed to another task (``True``; the first reading returns only once reading has
        ended, whichever task read last)."""
        session = self._session
        websocket = self._websocket
        core = session.core
        backlog = self._backlog
        self._backlog = ()
        taken = 0
        flusher = session.server.flusher
        while not session.closed.is_set():
            try:
                if taken < len(backlog):
                    message = backlog[taken]
                    taken += 1
                else:
                    message = await websocket.receive()
                    flusher.new_step()
            except (WebSocketClosed, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                # As Node: a frame we refused (too big, invalid) is an error, not a close.
                local = isinstance(exc, WebSocketClosed) and exc.local
                reason = "transport error" if local else "transport close"
                await session.deliver(core.transport_closed(reason=reason,
                                                            now=trio.current_time()))
                return False
            try:
                events = core.receive_ws_message(message, now=trio.current_time())
            except eio.ProtocolError:
                await session.deliver(core.events_after_error())
                return False
            # What acting on the message queued (acks, answers) was written as it was queued.
            # Only the last message read may be handed off with: a successor reads what comes
            # after it from the WebSocket (which keeps what it buffered, in order).
            await session.deliver(events, self if taken == len(backlog) else None)
            del events  # (nor the list of the last message's events)
            if self.moved:
                if self._first is None:
                    await self.wait_ended()  # the first reading: the connection's own task
                return True
            if taken == len(backlog):
                backlog = websocket.receive_buffered()
                taken = 0
        return False
