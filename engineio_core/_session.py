"""One Engine.IO session at run time: the ``Socket`` the application holds, the ``Session``
beside its ``protocol.ServerSession`` core, and the session's driver.

The session hands what its core decides to the application (a receiver called in the reading
task, or an inbox to iterate), keeps its close and its outbound high-water mark, and its driver
(``Session.drive``) is the one task that fires the core's deadlines (and its application's) and
writes the WebSocket frames nobody else wrote. The driver runs only while it has work: it files
the session's next deadline with the server's timer and ends, and is started again when that
deadline comes or when someone has work for it sooner (``DriverAlarm``); an idle session holds
no task of its own.
"""

from __future__ import annotations

import logging
import math
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Protocol

import trio

from . import protocol as eio
from ._signal import Flag, Signal
from ._timers import Alarm, Timers
from ._writer import Flusher, Writer

__all__ = ["AllowRequest", "Application", "DriverAlarm", "Handshake", "LazyHeaders", "Receiver",
           "Session", "SessionHost", "Socket", "SocketHandler"]

log = logging.getLogger("engineio_core")

SocketHandler = Callable[["Socket"], Awaitable[None]]
# Called with each message; returns ``None`` once done, or what is left to await.
Receiver = Callable[[str | bytes], Awaitable[None] | None]


class Reading(Protocol):
    """A WebSocket reader while it delivers the last message it read (``_wsreader.Reading``)."""

    @property
    def moved(self) -> bool:
        """Whether reading went on in another task (``hand_off``) during the delivery."""

    def hand_off(self) -> bool:
        """Have a new task read on; ``False`` when none could be started."""


class Application(Protocol):
    """What ``Server(attach=...)`` makes for each session: an application run by the session's
    driver task rather than in a task of its own (per session, a task costs kilobytes)."""

    def receive(self, message: str | bytes) -> Awaitable[None] | None:
        """The session's receiver (see ``Socket.set_receiver``), set before any message."""

    def next_deadline(self) -> float | None:
        """When ``handle_timeout`` has work (trio's clock), or ``None``. No side effect."""

    def handle_timeout(self, now: float) -> None:
        """Fire what is due at ``now``; called by the driver, never once the session closed."""

    def session_closed(self) -> trio.Event | None:
        """The session closed: returns an event set once the application has finished what it
        still runs (``aclose`` waits for it), or ``None`` when nothing is left."""


_INBOX_SIZE = 256


class LazyHeaders(Mapping[str, str]):
    """A request's headers as ``str`` (names lowercased; of a repeated one, the last), decoded
    on first use: most sessions never read them."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        # A tuple of them, which (holding only bytes) the garbage collector stops tracking,
        # rather than the request's list, which it would visit in every full collection.
        self._raw = tuple(raw)
        self._decoded: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        if self._decoded is None:
            self._decoded = {k.decode("latin-1"): v.decode("latin-1") for k, v in self._raw}
            self._raw = ()
        return self._decoded

    def __getitem__(self, name: str) -> str:
        return self._dict()[name]

    def __contains__(self, name: object) -> bool:
        if self._decoded is None and isinstance(name, str):
            key = name.encode("latin-1", "replace")
            return any(k == key for k, _ in self._raw)
        return name in self._dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return repr(self._dict())


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the request that opened a session carried."""

    headers: Mapping[str, str]
    query: Mapping[str, str]
    address: str
    url: str
    secure: bool


# Defined after Handshake, not with a string forward reference, so that documentation tools
# resolve it to this class.
AllowRequest = Callable[[Handshake], bool | Awaitable[bool]]


class Socket:
    """One Engine.IO session, as the application sees it.

    Iterate it (``async for message in socket``) to receive messages (``str`` or ``bytes``);
    the iteration ends when the session closes, and ``close_reason`` then says why.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def sid(self) -> str:
        """The session id."""
        return self._session.core.sid

    @property
    def handshake(self) -> Handshake:
        """What the request that opened the session carried."""
        return self._session.handshake

    @property
    def transport(self) -> str:
        """The transport in use now: ``"polling"`` or ``"websocket"``."""
        return self._session.core.transport

    @property
    def closed(self) -> bool:
        """Whether the session is closed."""
        return self._session.closed.is_set()

    @property
    def close_reason(self) -> str | None:
        """Why the session closed (``None`` while open), spelled as Node spells it."""
        return self._session.close_reason

    def send_nowait(self, *messages: str | bytes | eio.PreparedPacket) -> None:
        """Queue messages; they leave together, in order. Dropped if the session is closed.

        A message sent to many sessions may be prepared once
        (``engineio_core.protocol.prepare_message``): each session then queues the same value,
        and its encodings are made once for all of them.
        """
        self._session.send(messages)

    @staticmethod
    def send_each(sockets: Iterable[Socket], message: eio.PreparedPacket) -> None:
        """``socket.send_nowait(message)`` for each of ``sockets`` in turn, for a broadcast's
        one prepared message: less work per socket than that loop. ``sockets`` may be a
        generator: each socket is written before the next is asked for."""
        for socket in sockets:
            session = socket._session
            if not session.closed.is_set() and not session.writer.write_now(message):
                session.send((message,))

    async def send(self, *messages: str | bytes | eio.PreparedPacket) -> None:
        """Queue messages (as ``send_nowait``), then wait while the session's outbound buffer
        is over its high-water mark (so a slow peer slows its producer down instead of growing
        memory)."""
        self._session.send(messages)
        await self._session.wait_for_drain()

    def close(self) -> None:
        """Close the session (reason ``"forced close"``); queued messages are flushed first."""
        self._session.close()

    def behind(self) -> bool:
        """Whether messages are still waiting to be written, or the socket has not taken all
        that was written (volatile ones are then dropped, as Node drops them while the
        transport is busy)."""
        return self._session.core.buffered_bytes() > 0 or self._session.writer.blocked

    async def wait_for_drain(self) -> None:
        """Wait while the outbound buffer is over the server's high-water mark (a peer that
        takes nothing for the server's ``stall_timeout`` meanwhile is dropped)."""
        await self._session.wait_for_drain()

    def saturated(self) -> bool:
        """Whether the outbound buffer is over the server's high-water mark (``send`` would
        wait). From then on the peer's progress is watched: a producer about to wait for
        several sessions asks each first, so that their stall timeouts run together."""
        return self._session.saturated()

    async def wait_closed(self) -> None:
        """Wait until the session is closed."""
        await self._session.closed.wait()

    def wake_at(self, deadline: float) -> None:
        """Have the session's driver run by ``deadline``: an ``Application``'s next deadline
        moved earlier than the one it last reported."""
        self._session.wake_by(deadline)

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._session.inbox()[1].__aiter__()

    async def set_receiver(self, receiver: Receiver) -> None:
        """Have ``receiver`` called with each message instead of queueing it for iteration.

        Messages already queued are handed to it first, here. From then on it is called in the
        task that read the message (a WebSocket reader, a polling POST), one message at a time
        and in order. It returns ``None`` when it is done with the message, or an awaitable for
        what is left, which is awaited before the next message is read (so a slow receiver slows
        the peer down). Once the session is closed it gets nothing more. A receiver that raises
        closes the session (the error is logged).
        """
        await self._session.set_receiver(receiver)

    def reading_handoff(self) -> Callable[[], bool] | None:
        """For the receiver (``set_receiver``), while it runs: when it was called by the
        session's WebSocket reader with the last message read, a function that hands reading
        to a new task, so that this task may run on with work that waits (a handler started
        here that suspended), returning what is left of it; the next message is then read and
        received without waiting for it. The function returns ``False`` when no task could be
        started (the server is closing: the reader then awaits what is left first). ``None``
        anywhere else (a polling POST, an upgrade's probe, a message with more read behind
        it): work started there that waits must be left to another task."""
        reading = self._session.reading
        return None if reading is None else reading.hand_off

    def receive_nowait(self) -> str | bytes:
        """The next message if one is already waiting, without yielding.

        Raises:
            trio.WouldBlock: none is waiting.
            trio.EndOfChannel: the session closed and every message was taken.
        """
        return self._session.inbox()[1].receive_nowait()


class SessionHost(Protocol):
    """What a session uses of its server (``Server`` is one)."""

    @property
    def max_buffered_bytes(self) -> int:
        """The outbound high-water mark of each session."""
        ...

    @property
    def timers(self) -> Timers:
        """The server-wide timer that starts its driver at its next deadline."""
        ...

    @property
    def stall_timeout(self) -> float:
        """How long a peer over the high-water mark may take nothing before it is dropped."""
        ...

    @property
    def flusher(self) -> Flusher:
        """The server-wide writer of what sessions queue after they wrote in a step."""
        ...

    def spawn(self, fn: Callable[[], Awaitable[object]]) -> bool:
        """Start ``fn`` in the server's nursery; ``False`` when serving is over."""
        ...

    def _session_closed(self, session: Session) -> None:
        """``session`` closed: forget it, and let its application finish."""
        ...


class DriverAlarm(Alarm):
    """Starts its session's driver when rung (by the server's timer at the session's next
    deadline, or by whoever has work for the driver sooner), unless the driver runs already:
    a running driver looks at all its work again before it ends."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session: Session | None = session

    def ring(self) -> None:
        """Have the driver run now."""
        if self._session is not None:
            self._session.start_driver()

    def forget(self) -> None:
        """The session is over: nothing starts its driver any more."""
        self._session = None


class Session:
    """Runtime state beside one ``ServerSession`` core."""

    # The events of a close asked for from outside the driver, for the driver to deliver
    # (a class default: most sessions never hold any).
    _closing: Sequence[eio.Event] = ()
    # The WebSocket reader while its receiver runs on the last message it read (see
    # ``Socket.reading_handoff``; a class default, as it is set only for that moment).
    reading: Reading | None = None

    def __init__(
        self, server: SessionHost, core: eio.ServerSession, handshake: Handshake
    ) -> None:
        self.server = server
        self.core = core
        self.handshake = handshake
        self.handler_done = Flag()
        # ``changed`` wakes whoever waits on the session's output (a parked poll, a producer
        # waiting for drain); ``wake`` wakes the driver.
        self.changed = Signal()
        self.wake = DriverAlarm(self)
        self.closed = Flag()
        self.close_reason: str | None = None
        self._inbox: tuple[trio.MemorySendChannel[str | bytes],
                           trio.MemoryReceiveChannel[str | bytes]] | None = None
        self.receiver: Receiver | None = None
        # Held while a delivery awaits what its receiver left (made then: about 330 bytes).
        self.receive_lock: trio.StrictFIFOLock | None = None
        # ``None`` once the session is over (``release``).
        self.socket: Socket | None = Socket(self)
        # The WebSocket (and an upgrade's probe) are the writer's: it owns the write side.
        self.writer = Writer(core, server.flusher, changed=self.changed, wake=self.wake)
        self.app: Application | None = None
        self.polls_answered = 0  # a part of ``progress``
        # Over the high-water mark: (progress, when it was first seen at that value).
        self._watch: tuple[int, float] | None = None
        self._driving = False  # the driver's task is started
        # The deadline filed with the timer when the driver last ended (-inf until ``park``
        # and while the driver runs: it reads every deadline again before it ends).
        self.sleeping_until = -math.inf

    def notify(self) -> None:
        """Run the driver, and wake everyone waiting on the session."""
        self.changed.notify()
        self.wake.ring()

    def start_driver(self) -> None:
        """Start the driver's task, unless it runs already (it then sees the new work before
        it ends)."""
        if not self._driving:
            self._driving = self.server.spawn(self.drive)

    def wake_by(self, deadline: float) -> None:
        """Have the driver run by ``deadline`` (a deadline of the core or the application that
        moved earlier than the one filed); nothing to do while the driver runs."""
        if deadline < self.sleeping_until:
            self.server.timers.set(self.wake, deadline)
            self.sleeping_until = deadline

    def park(self) -> None:
        """File the session's first deadline with the timer (its driver is not running: a new
        session has no work for it yet)."""
        deadline = self.core.next_deadline()
        if self.app is not None and (due := self.app.next_deadline()) is not None:
            if deadline is None or due < deadline:
                deadline = due
        self._sleep_until(deadline)

    def _sleep_until(self, deadline: float | None) -> None:
        wake = self.wake
        # An earlier entry still filed stays: it rings early, and the driver files again.
        if deadline is not None and (wake.at is None or deadline < wake.at):
            self.server.timers.set(wake, deadline)
        self.sleeping_until = deadline if deadline is not None else math.inf

    def send(self, messages: Sequence[str | bytes | eio.PreparedPacket]) -> None:
        """Queue ``messages`` (dropped once closed); a peer whose backlog passes four times the
        high-water mark is given up on (``"transport error"``)."""
        if self.closed.is_set():
            return
        if len(messages) == 1:
            # One message (a broadcast's, for each recipient; an emit; an ack) on an idle
            # WebSocket goes out at once, without the core's queue.
            message = messages[0]
            if not isinstance(message, eio.PreparedPacket):
                message = eio.prepare_message(message)  # as send_message would
            if self.writer.write_now(message):
                return
            messages = (message,)
        for message in messages:
            self.core.send_message(message)
        if self.core.buffered_bytes() > 4 * self.server.max_buffered_bytes:
            # A peer that never drains would otherwise grow memory without bound.
            log.info("session %s: outbound buffer over %d bytes, closing", self.core.sid,
                     4 * self.server.max_buffered_bytes)
            self.abort("transport error")
        if not self.writer.flush():  # else it notified, once it wrote
            self.changed.notify()

    def abort(self, reason: str) -> None:
        """Close now, dropping what is queued: the peer is gone or hopeless."""
        if not self.closed.is_set():
            self.finish(reason)
            self.notify()

    def close(self) -> None:
        """Close the session (``"forced close"``) once what is queued has left."""
        if not self.closed.is_set():
            # Delivered by the driver, as the core's other events: the caller may be anybody's
            # task, in the middle of its own work.
            self._closing = [*self._closing, *self.core.close()]
            self.notify()

    def progress(self) -> int:
        """Grows whenever the peer takes output: WebSocket bytes written, polls answered."""
        websocket = self.writer.websocket
        return self.polls_answered + (websocket.bytes_sent if websocket is not None else 0)

    def saturated(self) -> bool:
        """Whether the outbound buffer is over the high-water mark; while it is, the peer's
        progress is watched (when it was last seen to change)."""
        if self.closed.is_set() or self.core.buffered_bytes() <= self.server.max_buffered_bytes:
            self._watch = None
            return False
        progress = self.progress()
        if self._watch is None or self._watch[0] != progress:
            self._watch = (progress, trio.current_time())
        return True

    async def wait_for_drain(self) -> None:
        """Wait while the outbound buffer is over the high-water mark (or until closed).

        A peer that takes nothing for the server's ``stall_timeout`` meanwhile (counted from
        when it was first seen over the mark, or last seen taking something) has stopped
        reading: it is given up on (``"transport error"``) rather than holding its producer (a
        broadcast to its room, say) until its ping timeout. A peer still reading, however
        slowly, only slows its producer down.
        """
        stall = self.server.stall_timeout
        while self.saturated():
            assert self._watch is not None
            deadline = self._watch[1] + stall
            if trio.current_time() >= deadline:
                log.info("session %s: nothing written for %g s with %d bytes waiting, closing",
                         self.core.sid, stall, self.core.buffered_bytes())
                self.abort("transport error")
                return
            with trio.move_on_at(deadline):
                await self.changed.wait()

    def inbox(self) -> tuple[trio.MemorySendChannel[str | bytes],
                             trio.MemoryReceiveChannel[str | bytes]]:
        """The messages queued for iteration, made on first use (a session with a receiver
        never needs it); closed with the session."""
        if self._inbox is None:
            self._inbox = trio.open_memory_channel[str | bytes](_INBOX_SIZE)
            if self.closed.is_set():
                self._inbox[0].close()
        return self._inbox

    async def set_receiver(self, receiver: Receiver) -> None:
        """See ``Socket.set_receiver``."""
        async with self._receive_lock():
            self.receiver = receiver
            while self._inbox is not None:
                try:
                    earlier = self._inbox[1].receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                await self._call_receiver(earlier, queued=True)
            if self.closed.is_set():
                self.receiver = None  # it gets nothing more (and the session may be released)

    def _receive_lock(self) -> trio.StrictFIFOLock:
        lock = self.receive_lock
        if lock is None:
            lock = self.receive_lock = trio.StrictFIFOLock()
        return lock

    async def deliver(self, events: Sequence[eio.Event], reading: Reading | None = None) -> None:
        """Act on the core's events; messages go to the receiver, or to the application's inbox
        (bounded: a slow application slows the reader, which slows the peer). ``reading``: the
        WebSocket reader delivering the last message it read, which the receiver may hand
        reading off from (``Socket.reading_handoff``) when it is the message's only event."""
        only_messages = bool(events)
        # (Its only event: nothing else of the message waits for a handler it starts.)
        last = events[0] if reading is not None and len(events) == 1 else None
        for event in events:
            if isinstance(event, eio.MessageReceived):
                if self.receiver is not None:
                    await self._receive(event.data, reading if event is last else None)
                    continue
                inbox = self.inbox()[0]
                try:
                    # A yield per message would cost a scheduler pass each; only a full inbox waits.
                    inbox.send_nowait(event.data)
                except trio.WouldBlock:
                    try:
                        await inbox.send(event.data)
                    except (trio.ClosedResourceError, trio.BrokenResourceError):
                        pass
                except (trio.ClosedResourceError, trio.BrokenResourceError):
                    pass
                continue
            only_messages = False
            if isinstance(event, eio.UpgradeFailed):
                self.drop_probe()
            elif isinstance(event, eio.SessionClosed):
                self.finish(event.reason)
        if not only_messages:
            # A message changes neither the output nor an earlier deadline: waking the driver
            # for it would be a scheduler pass per message for nothing.
            self.notify()

    async def _receive(self, data: str | bytes, reading: Reading | None = None) -> None:
        """Hand one message to the receiver: one delivery at a time, in arrival order."""
        lock = self.receive_lock
        if lock is None or not lock.locked():
            # Nearly always: nobody else is delivering, and the receiver runs with no checkpoint
            # before it returns, so nothing can come between. Only what it leaves to await needs
            # the lock (taken at once, still free), to keep the next delivery behind it.
            if self.closed.is_set() or self.receiver is None:
                return
            if reading is None:
                rest = self._start_receiver(data)
            else:
                self.reading = reading
                try:
                    rest = self._start_receiver(data)
                finally:
                    self.reading = None
                if reading.moved:
                    # A new task reads on: what is left (a handler that waits) is this task's
                    # alone, and the next delivery does not wait for it.
                    if rest is not None:
                        await self._finish_receiver(rest)
                    return
            if rest is not None:
                lock = self._receive_lock()
                lock.acquire_nowait()
                try:
                    await self._finish_receiver(rest)
                finally:
                    lock.release()
            return
        await lock.acquire()
        try:
            await self._call_receiver(data)
        finally:
            lock.release()

    async def _call_receiver(self, data: str | bytes, *, queued: bool = False) -> None:
        # As with the inbox, which is closed with the session: what was queued before the close
        # is still received, what arrives after it is dropped.
        if (self.closed.is_set() and not queued) or self.receiver is None:
            return
        rest = self._start_receiver(data)
        if rest is not None:
            await self._finish_receiver(rest)

    def _start_receiver(self, data: str | bytes) -> Awaitable[None] | None:
        assert self.receiver is not None
        try:
            return self.receiver(data)
        except Exception:
            self._receiver_failed()
            return None

    async def _finish_receiver(self, rest: Awaitable[None]) -> None:
        try:
            await rest
        except Exception:
            self._receiver_failed()

    def _receiver_failed(self) -> None:
        log.exception("message receiver of session %s failed", self.core.sid)
        self.close()

    def drop_probe(self) -> None:
        """Forget the probe WebSocket; its reader sees it closed and returns."""
        probe, self.writer.probe = self.writer.probe, None
        if probe is not None:
            self.server.spawn(probe.aclose)

    def finish(self, reason: str) -> None:
        """The core closed with ``reason``: end the inbox, tell the application, forget the
        session."""
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        if self._inbox is not None:
            self._inbox[0].close()
        self.server._session_closed(self)
        log.debug("session %s closed: %s", self.core.sid, reason)

    async def drive(self) -> None:
        """The task that fires the session's deadlines (its application's too) and writes what
        its WebSocket did not take at once (``Writer.drain``), started whenever there is such
        work (``start_driver``). It ends once none is left, with the next deadline filed with
        the server's timer; once the session closed, after closing its WebSockets."""
        core = self.core
        self.sleeping_until = -math.inf
        self.server.flusher.new_step()
        idle = False
        try:
            while True:
                if self._closing:
                    closing, self._closing = self._closing, ()
                    await self.deliver(closing)
                    continue
                now = trio.current_time()
                deadline = core.next_deadline()
                if deadline is not None and now >= deadline:
                    await self.deliver(core.handle_timeout(now=now))
                    continue
                app = self.app
                if app is not None and not self.closed.is_set():
                    if (due := app.next_deadline()) is not None:
                        if now >= due:
                            app.handle_timeout(now)
                            continue
                        if deadline is None or due < deadline:
                            deadline = due
                if await self.writer.drain(self.deliver):
                    continue
                if self.closed.is_set():
                    break
                # Nothing left before ``deadline`` (and no checkpoint since the checks above).
                self._sleep_until(deadline)
                idle = True
                return
        finally:
            if not idle:  # the session closed, or the server's nursery is going
                self.server.timers.set(self.wake, None)
                for websocket in (self.writer.websocket, self.writer.probe):
                    if websocket is not None:
                        with trio.move_on_after(1.0) as scope:
                            scope.shield = True
                            await websocket.aclose()
                if self.closed.is_set():
                    self.release()
            self._driving = False

    def release(self) -> None:
        """The session is over (closed, its driver gone): drop its references to what refers
        back to it (its ``Socket``, its application and receiver). Those are reference cycles
        while it lives; left in place, every closed session would wait for a full collection
        of the garbage collector, whose pauses grow with the number of live sessions."""
        self.socket = None
        self.app = None
        self.receiver = None
        self.wake.forget()
