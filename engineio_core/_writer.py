"""The write side of a session's WebSocket, in one place.

Whoever produces output (a broadcasting task, the reader answering an ack, a handler) calls
``Writer.flush`` after queueing it: when the socket is idle it writes the frames at once, from
that task, without waiting or yielding (as libuv's try-write does). Only what the socket does not
take is left to the session's task (``Writer.drain``, run by the driver), which waits until the
socket can take it; meanwhile new output stays queued in the core, where it counts against the
session's high-water mark. Nobody else writes on the session's WebSocket.

A session writes once per step, as Node writes a socket once per event-loop turn (its transport
is not writable again before the write's callback): what it queues after it wrote in the step now
running waits for the server's ``Flusher``, which writes every such session in the next
scheduler pass, one task wake-up for all of them. A burst (a loop of broadcasts, the answers to
what one read brought) then leaves in one write per session instead of one per message; and a
Socket.IO CONNECT, written first in its step, leaves alone, before what the connection handler
sent (as Node, whose clients may expect it in a read of its own).

The probe of an upgrade is written by the task that reads it (``Writer.send_probe``): its one
frame (``3probe``) goes out before the session's own frames may.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import trio

from transports import WebSocket, WebSocketClosed, frame_message

from . import protocol as eio
from ._signal import Signal
from ._timers import Alarm

__all__ = ["Writer"]

# Acts on the core's events (the session's ``deliver``).
Deliver = Callable[[Sequence[eio.Event]], Awaitable[None]]

_GONE = (WebSocketClosed, trio.BrokenResourceError, trio.ClosedResourceError)
_DRAIN_BATCH = 256 * 1024  # bytes joined into one write by the session's task
_current_task = trio.lowlevel.current_task  # once per delivery: one lookup, not three


class Flusher:
    """Writes, in the next scheduler pass, the sessions that had already written in a step.

    A step is counted each time another task writes, and where the server's own tasks resume
    (a WebSocket reader after a read, a session's task when woken, this task's own passes): a
    session whose last write was in an earlier step writes again at once; otherwise it waits
    here. (A task that writes, yields, and writes again with none of those in between waits one
    pass it need not have.)

    Args:
        spawn: starts a task in the server's nursery; ``False`` when serving is over.
    """

    __slots__ = ("_pending", "_running", "_spawn", "step", "task")

    def __init__(self, spawn: Callable[[Callable[[], Awaitable[object]]], bool]) -> None:
        self._spawn = spawn
        self._pending: list[Writer] = []
        self._running = False
        self.step = 0
        self.task: trio.lowlevel.Task | None = None  # the task whose step is counted

    def new_step(self) -> None:
        """The calling task resumed: what it writes now is a new step's."""
        self.step += 1
        self.task = trio.lowlevel.current_task()

    def defer(self, writer: Writer) -> None:
        """Have ``writer`` flushed in the next pass."""
        self._pending.append(writer)
        if not self._running:
            self._running = self._spawn(self._run)
            if not self._running:  # serving is over: nobody would come back for it
                self.step += 1
                self.task = None
                self._flush_pending()

    def _flush_pending(self) -> None:
        pending, self._pending = self._pending, []
        for writer in pending:
            writer.deferred = False
            writer.flush()

    async def _run(self) -> None:
        # Started by start_soon: this already runs in a later pass than the deferring step.
        try:
            while True:
                self.new_step()
                self._flush_pending()
                if not self._pending:
                    return
                await trio.lowlevel.checkpoint()
        finally:
            self._running = False


class Writer:
    """Owns the write side of one session's WebSocket.

    Args:
        core: the session's core, whose queued packets it writes.
        flusher: the server's, for what the session queues after it wrote in a step.
        changed: notified when the core's outbound buffer emptied (producers waiting for drain).
        wake: starts the session's task, which then calls ``drain``.

    It holds nothing of the session but these (the session's ``deliver`` is passed to the calls
    that need it), so that the session and its writer are no reference cycle.

    Attributes:
        websocket: the session's WebSocket once it carries the session (``None`` on polling).
        probe: the WebSocket of an upgrade under way, until it completes or fails.
        blocked: output is waiting for the session's task: the socket did not take all of it
            (a slow reader), or frames cannot be made ahead for this WebSocket (an extension).
        deferred: output is waiting for the flusher (the session wrote in this step already).
    """

    __slots__ = ("_changed", "_core", "_flusher", "_shared", "_wake", "_websocket", "_written",
                 "blocked", "deferred", "probe")

    def __init__(self, core: eio.ServerSession, flusher: Flusher, *, changed: Signal,
                 wake: Alarm) -> None:
        self._core = core
        self._flusher = flusher
        self._written = -1  # the step of the last write made by flush
        self.deferred = False
        self._changed = changed
        self._wake = wake
        self._websocket: WebSocket | None = None
        self._shared = False  # the WebSocket's frames_shared, read once per delivery
        self.probe: WebSocket | None = None
        self.blocked = False

    @property
    def websocket(self) -> WebSocket | None:
        """The session's WebSocket once it carries the session (``None`` on polling)."""
        return self._websocket

    @websocket.setter
    def websocket(self, websocket: WebSocket | None) -> None:
        self._websocket = websocket
        self._shared = websocket is not None and websocket.frames_shared

    def flush(self) -> bool:
        """Write what the core queued for the active WebSocket as far as the socket takes it,
        from the calling task and without yielding; hand the rest to the session's task.
        Returns whether it wrote and notified ``changed`` (the buffer emptied)."""
        websocket = self._websocket
        if websocket is None or self.blocked or self.deferred:
            return False  # polling; or the session's task or the flusher writes it, after the rest
        if not self._shared:
            # Frames made by the connection itself (compressed ones): its task makes and sends
            # them.
            if self._core.transport == "websocket":
                self._hand_over()
            return False
        flusher = self._flusher
        if flusher.task is not _current_task():
            flusher.new_step()
        elif self._written == flusher.step:
            self.deferred = True
            flusher.defer(self)
            return False
        packets = self._core.take_ws_packets()
        if not packets:
            return False
        self._written = flusher.step
        # A broadcast's message is framed once, by the first session that writes it.
        data = (packets[0].wire(frame_message) if len(packets) == 1
                else b"".join([p.wire(frame_message) for p in packets]))
        if websocket.send_framed_nowait(data):
            self._changed.notify()  # the buffer emptied: a producer waiting for drain goes on
            return True
        self._hand_over()
        return False

    def write_now(self, message: eio.PreparedPacket) -> bool:
        """Write one prepared message at once, bypassing the core's queue, when ``flush``
        would have written just it now: the socket idle, nothing queued, the session not yet
        written in this step. Returns ``False`` when the caller must queue it (and ``flush``)
        instead. What the socket does not take is left to the session's task, as ``flush``
        does; ``changed`` is notified either way, as after ``flush``."""
        websocket = self._websocket
        if (websocket is None or self.blocked or self.deferred or not self._shared
                or not self._core.sends_at_once()):
            return False
        flusher = self._flusher
        if flusher.task is not _current_task():
            flusher.new_step()
        elif self._written == flusher.step:
            return False  # queued, then deferred to the flusher by flush
        self._written = flusher.step
        if not websocket.send_framed_nowait(message.wire(frame_message)):
            self._hand_over()
        self._changed.notify()
        return True

    def _hand_over(self) -> None:
        self.blocked = True
        self._wake.ring()

    async def drain(self, deliver: Deliver) -> bool:
        """The session's task: write the probe's frames, what the socket did not take and what
        was queued meanwhile, waiting for the socket as long as it takes. Returns whether
        anything was written; a failed write closes the transport it was for (``deliver``
        acts on the core's events then)."""
        core = self._core
        wrote = False
        if self.probe is not None and (frames := core.take_probe_frames()):
            wrote = True
            await self.send_probe(self.probe, frames, deliver)
        websocket = self.websocket
        if websocket is None or core.transport != "websocket":
            self.blocked = False
            return wrote
        try:
            while True:
                if websocket.frames_shared:
                    await websocket.flush()
                    # A slice at a time: what waits in the core counts against the
                    # high-water mark (producers wait for it), what is joined here does not.
                    packets = core.take_ws_packets(_DRAIN_BATCH)
                    if not packets:
                        break
                    wrote = True
                    websocket.send_framed_nowait(
                        b"".join([p.wire(frame_message) for p in packets]))
                else:
                    frames = core.take_ws_frames()
                    if not frames:
                        break
                    wrote = True
                    await websocket.send_many(frames)
                self._changed.notify()
        except _GONE:
            await deliver(core.transport_closed(reason="transport error",
                                                      now=trio.current_time()))
        finally:
            self.blocked = False
        return wrote

    async def send_probe(self, probe: WebSocket, frames: list[str | bytes],
                         deliver: Deliver) -> None:
        """Write ``frames`` on the upgrade's probe; a failed write aborts the upgrade only
        (``deliver`` acts on the core's events then)."""
        try:
            await probe.send_many(frames)
        except _GONE:
            await deliver(self._core.probe_closed(now=trio.current_time()))
