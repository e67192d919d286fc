"""The WebSocket side of a session: the probe of an upgrade, then the reader of the active
WebSocket.

The task that accepted the WebSocket reads it for the session's whole life. Everything one read
brought goes through the core before anything is written (the upgrade's order depends on it:
``2probe`` and ``5`` may arrive together with a poll). Once the WebSocket is the session's, the
answers acting on a message queues are written by whoever queued them (``Writer.flush``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Sequence

import trio

from transports import Request, WebSocket, WebSocketClosed

from . import protocol as eio
from ._session import Session

log = logging.getLogger("engineio_core")

__all__ = ["read_websocket", "upgrade"]


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


async def read_websocket(
    session: Session, websocket: WebSocket, already: Iterable[str | bytes] = ()
) -> None:
    """Read the session's active WebSocket until it or the session closes (``already``: the
    messages read before it became active)."""
    core = session.core
    # The messages read and not yet acted on, from ``taken`` on (an empty tuple while the
    # reader waits: nothing the garbage collector visits is held per idle connection).
    backlog: Sequence[str | bytes] = tuple(already)
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
            return
        try:
            events = core.receive_ws_message(message, now=trio.current_time())
        except eio.ProtocolError:
            await session.deliver(core.events_after_error())
            return
        # What acting on the message queued (acks, answers) was written as it was queued.
        await session.deliver(events)
        del events  # (nor the list of the last message's events)
        if taken == len(backlog):
            backlog = websocket.receive_buffered()
            taken = 0
