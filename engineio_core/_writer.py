"""Writing a session's WebSocket frames: what its core queued for the active WebSocket or the
probe, one writer at a time.

Whoever acted on the session last writes: the WebSocket reader after the messages it handled,
the driver for everything else (timers, the application's sends from other tasks). While one
write is under way, nobody else writes; that writer hands over to the driver when it is done if
more was queued meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from transports import WebSocket, WebSocketClosed, frame_message

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["send_frames", "write_frames"]


async def write_frames(session: Session) -> bool:
    """Write what the core queued for the WebSockets; returns whether anything was written.

    One writer at a time: while a write is under way this does nothing, and that writer
    wakes the driver when it is done if more was queued meanwhile (or the session closed).
    """
    if session.writing:
        return False
    wrote = False
    if session.probe is not None:
        frames = session.core.take_probe_frames()
        if frames:
            wrote = True
            await send_frames(session, session.probe, frames, probe=True)
    websocket = session.websocket
    if websocket is not None and session.core.transport == "websocket":
        packets = session.core.take_ws_packets()
        if packets:
            wrote = True
            if websocket.frames_shared:
                # A broadcast's message is framed once, by the first session that writes it.
                data = b"".join([p.wire(frame_message) for p in packets])
                await send_frames(session, websocket, data, probe=False)
            else:
                await send_frames(session, websocket, [p.ws_frame() for p in packets],
                                  probe=False)
    if wrote:
        session.changed.notify()
    return wrote


async def send_frames(
    session: Session, websocket: WebSocket, frames: list[str | bytes] | bytes, *, probe: bool
) -> None:
    """Write ``frames`` on ``websocket`` (the probe when ``probe``): messages, or ``bytes``
    already framed; a failed write closes the transport it was for (the session, or only the
    upgrade)."""
    session.writing += 1
    try:
        if isinstance(frames, bytes):
            await websocket.send_framed(frames)
        else:
            await websocket.send_many(frames)
    except (WebSocketClosed, trio.BrokenResourceError, trio.ClosedResourceError):
        events = (session.core.probe_closed(now=trio.current_time()) if probe else
                  session.core.transport_closed(reason="transport error",
                                                now=trio.current_time()))
        await session.deliver(events)
    finally:
        session.writing -= 1
        if session.core.buffered_bytes() or session.closed.is_set():
            session.wake.notify()  # what was queued meanwhile, or the close, is the driver's
