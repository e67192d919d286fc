"""A ``Link``: one Engine.IO session carrying Socket.IO (Node's ``Client``).

The link owns that session's ``ServerConnection`` core: it feeds it the session's messages,
acts on its events and on its timers (fired by the session's driver task), and writes what it
queues. User code calls the core through ``Socket`` and the link synchronously (trio runs that
atomically), so there are no locks around cores.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, assert_never

import trio

from . import protocol as sio
from .errors import ConnectError
from .handlers import Ack
from .handshake import Handshake
from .socket import Socket
from .waiter import Waiter

if TYPE_CHECKING:
    import engineio_core

    from .adapter import Restoring
    from .namespace import Namespace
    from .protocol.recovery import ConnectionStateRecovery

__all__ = ["Link", "LinkServer"]

log = logging.getLogger("socketio_core")


class LinkServer(Protocol):
    """What a link uses of its ``Server``."""

    @property
    def engine(self) -> engineio_core.Server:
        """The Engine.IO server, whose nursery runs the link's tasks."""
        ...

    @property
    def connect_timeout(self) -> float:
        """Seconds a client has to join a namespace."""
        ...

    @property
    def max_attachments(self) -> int:
        """Binary attachments allowed in one packet."""
        ...

    @property
    def max_http_buffer_size(self) -> int:
        """The largest attachment, in bytes."""
        ...

    @property
    def json(self) -> sio.JSONCodec | None:
        """The application's JSON codec, if it gave one."""
        ...

    @property
    def shutting_down(self) -> bool:
        """Whether the server is closing (every socket leaves with ``server shutting down``)."""
        ...

    @property
    def connection_state_recovery(self) -> ConnectionStateRecovery | None:
        """Its connection state recovery options, ``None`` when off."""
        ...

    def sid_factory(self) -> str:
        """A new socket id (and a new private session id, with connection state recovery)."""
        ...

    def namespace_for(self, name: str, auth: dict[str, Any]) -> Namespace | None:
        """The namespace a client asking for ``name`` joins, if any."""
        ...


class _LinkAck(Ack):
    """The ack of one event received on a link: an ``Ack`` without a callable to build."""

    __slots__ = ("_id", "_link", "_namespace")

    def __init__(self, link: Link, namespace: str, ack_id: int) -> None:
        self._link = link
        self._namespace = namespace
        self._id = ack_id
        self.called = False

    def __call__(self, *args: Any) -> None:
        if not self.called:
            self.called = True
            self._link.send_ack(self._namespace, self._id, args)


def _shown(messages: Sequence[str | bytes | Any]) -> str:
    """Engine.IO messages for a DEBUG line: text as it goes (200 characters at most), binary
    as its size."""
    return " ".join(repr(m[:200]) if isinstance(m, str) else f"<{len(m)} bytes>"
                    for m in messages)


class Link:
    """One Engine.IO session carrying Socket.IO: the owner of its ``ServerConnection``.

    It has no task of its own (an ``engineio_core.Application``): messages are acted on in the
    task that read them, its timers are fired by the session's driver, and what it starts (the
    sockets' dispatchers, namespace admission) runs in the engine's nursery, counted, so that
    the engine's ``aclose`` waits for them as it waits for a handler.
    """

    __slots__ = ("_children", "_ended", "_failed", "_idle", "close_reason", "core", "engine",
                 "server", "sockets", "waiters")

    def __init__(self, server: LinkServer, engine: engineio_core.Socket) -> None:
        self.server = server
        self.engine = engine
        self.core = sio.ServerConnection(
            connect_timeout=server.connect_timeout,
            max_attachments=server.max_attachments,
            max_attachment_bytes=server.max_http_buffer_size,
            json=server.json,
            now=trio.current_time(),
        )
        self.sockets: dict[str, Socket] = {}
        self.waiters: dict[tuple[str, int], Waiter] = {}
        self.close_reason: str | None = None
        self._failed = False
        self._ended = False
        self._children = 0  # tasks started by ``spawn`` still running
        self._idle: trio.Event | None = None  # set when they are done, once the session closed

    def flush(self) -> None:
        """Hand what the core queued to the Engine.IO session."""
        data = self.core.take_messages()
        if data:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("session %s: sending %s", self.engine.sid, _shown(data))
            self.engine.send_nowait(*data)

    def _rearm(self) -> None:
        """Wake the session's driver earlier if the core now has an earlier deadline. Only an emit
        with an ack timeout adds one; any other change only removes or delays deadlines, which
        the driver sees when it wakes."""
        deadline = self.core.next_deadline()
        if deadline is not None:
            self.engine.wake_at(deadline)

    def emit(self, namespace: str, event: str, args: Sequence[Any]) -> None:
        """Send an event on ``namespace``; dropped once the connection is closed (as Node
        drops a packet written to a closed connection)."""
        if self.core.closed:
            # A protocol error closes the core at once; its sockets hear of it a little later
            # (from the session's driver), and a handler already queued may still write.
            return
        self.core.emit(namespace, event, args)
        self.flush()

    async def emit_with_ack(
        self, namespace: str, event: str, args: Sequence[Any], timeout: float | None
    ) -> tuple[Any, ...]:
        """Send an event on ``namespace`` asking for an ack; returns its arguments.

        Raises:
            TimeoutError: no ack within ``timeout`` seconds.
            ConnectionError: the socket or the connection went away first.
        """
        if self.core.closed:
            raise ConnectionError(sio.DISCONNECTED_MESSAGE)
        ack_id = self.core.emit(
            namespace, event, args, ack=True, timeout=timeout, now=trio.current_time()
        )
        assert ack_id is not None
        waiter = Waiter()
        self.waiters[(namespace, ack_id)] = waiter
        self.flush()
        self._rearm()
        return await waiter.result()

    def send_ack(self, namespace: str, ack_id: int, values: tuple[Any, ...]) -> None:
        """Answer the client's ack ``ack_id`` on ``namespace`` (if the socket and the
        connection are still there)."""
        if namespace in self.sockets and not self.core.closed:
            self.core.ack(namespace, ack_id, values)
            self.flush()

    def accept(self, namespace: str, sid: str, pid: str | None = None) -> bool:
        """Tell the client it joined ``namespace`` as socket ``sid`` (CONNECT, with ``pid``,
        its private session id, under connection state recovery); ``False`` when the
        connection is gone or the client no longer waits for it."""
        if self.core.closed or self.core.state(namespace) is not sio.NamespaceState.CONNECTING:
            return False
        self.core.accept(namespace, sid, pid)
        self.flush()
        return True

    def reject(self, namespace: str, message: str, data: Any) -> None:
        """Refuse the client on ``namespace``: CONNECT_ERROR with ``message`` and ``data``."""
        self.sockets.pop(namespace, None)
        if not self.core.closed and self.core.state(namespace) is sio.NamespaceState.CONNECTING:
            self.core.reject(namespace, message, data)
            self.flush()

    def disconnect(self, namespace: str) -> None:
        """Leave ``namespace``: the client hears DISCONNECT (if it was told it joined), acks
        waiting on it fail."""
        self.sockets.pop(namespace, None)
        if self.core.closed or self.core.state(namespace) is not sio.NamespaceState.CONNECTED:
            return
        self._fail_acks(namespace, self.core.disconnect(namespace))
        self.flush()

    def _fail_acks(self, namespace: str, ack_ids: Sequence[int]) -> None:
        for ack_id in ack_ids:
            waiter = self.waiters.pop((namespace, ack_id), None)
            if waiter is not None:
                waiter.fail(ConnectionError(sio.DISCONNECTED_MESSAGE))

    def close(self, reason: str) -> None:
        """Disconnect every socket on the session (each gets DISCONNECT and leaves with
        ``"server namespace disconnect"``, as in Node), then close it; ``reason`` is recorded as
        the session's close reason."""
        for namespace, socket in list(self.sockets.items()):
            self.disconnect(namespace)
            socket.handle_close("server namespace disconnect")
        self.close_reason = reason
        self.engine.close()

    def lost(self) -> None:
        """The client came back on another connection while this one still looked open: its
        sockets leave now with ``"transport close"`` (recoverable), and the session closes."""
        if self.close_reason is None:
            self.close_reason = "transport close"
        self._end()
        self.engine.close()

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the engine's nursery, counted: the session's close waits for it."""
        if self.server.engine.spawn(partial(self._child, fn, args)):
            self._children += 1

    async def run_counted(self, rest: Awaitable[Any]) -> None:
        """Await ``rest`` (work of the link's run in a task not its own: a handler left to the
        reader's task) counted as ``spawn`` counts its tasks."""
        self._children += 1
        try:
            await rest
        finally:
            self._child_done()

    async def _child(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        try:
            await fn(*args)
        except Exception:
            log.exception("task of session %s failed", self.engine.sid)
            self.engine.close()
        finally:
            self._child_done()

    def _child_done(self) -> None:
        """One of the counted tasks (or awaits) ended: the last one done, once the session
        closed, lets its close go on."""
        self._children -= 1
        if not self._children and self._idle is not None:
            self._idle.set()

    def next_deadline(self) -> float | None:
        """When ``handle_timeout`` must next be called (the engine's driver asks)."""
        if self._failed:
            # A protocol error ends the sockets at once, not when the session's close is done.
            return None if self._ended else -math.inf
        return self.core.next_deadline()

    def handle_timeout(self, now: float) -> None:
        """Fire what is due at ``now``: ack and connect timeouts (the engine's driver calls it)."""
        if self._failed:
            self._end()
            return
        rest = self._act_nowait(self.core.handle_timeout(now=now))
        assert rest is None, "timeouts report no event, so no handler can be left to await"

    def session_closed(self) -> trio.Event | None:
        """The session closed: end every socket; returns an event set once the link's tasks
        are done, or ``None`` when none runs."""
        self._end()
        if not self._children:
            return None
        self._idle = trio.Event()
        return self._idle

    def receive(self, message: str | bytes) -> Awaitable[None] | None:
        """Feed one Engine.IO message to the core and act on it (the engine's receiver): returns
        ``None`` when done, or what is left to await when a handler queue is full."""
        if self._failed:
            return None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("session %s: received %s", self.engine.sid, _shown((message,)))
        try:
            events = self.core.receive_message(message, now=trio.current_time())
        except sio.ProtocolError as error:
            log.debug("closing %s: %s", self.engine.sid, error)
            for socket in self.sockets.values():  # as Node: each socket's "error", then the close
                socket.handle_error(error)
            # Node's Client.onerror closes the Engine.IO connection, so its sockets hear that
            # close's reason, "forced close"; "parse error" is the Engine.IO layer's own.
            self.close_reason = "forced close" if error.reason == "parse error" else error.reason
            self.flush()
            self._failed = True
            self.engine.close()
            return None
        return self._act_nowait(events)

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        reason = self.close_reason or self.engine.close_reason or "transport close"
        if self.server.shutting_down:
            reason = "server shutting down"
        for socket in list(self.sockets.values()):
            socket.handle_close(reason)
        self.sockets.clear()
        for waiter in self.waiters.values():
            waiter.fail(ConnectionError(reason))
        self.waiters.clear()

    async def _act(self, events: Sequence[sio.ServerEvent]) -> None:
        rest = self._act_nowait(events)
        if rest is not None:
            await rest

    def _act_nowait(self, events: Sequence[sio.ServerEvent]) -> Awaitable[None] | None:
        """Act on the core's events; returns ``None`` when done, or what is left to await (an
        event that found its socket's handler queue full, and the events after it)."""
        for index, event in enumerate(events):
            match event:
                case sio.EventReceived():
                    socket = self.sockets.get(event.namespace)
                    if socket is None:
                        continue
                    ack = None
                    if event.ack_id is not None:
                        ack = _LinkAck(self, event.namespace, event.ack_id)
                    # The last event of the last message read may start its handler in
                    # this task, the reader then handing reading off if the handler waits.
                    handoff = (self.engine.reading_handoff() if index == len(events) - 1
                               else None)
                    rest = socket.handle_event(event.event, event.args, ack, handoff)
                    if rest is not None:
                        return self._act_after(rest, events[index + 1:])
                case sio.AckReceived():
                    waiter = self.waiters.pop((event.namespace, event.ack_id), None)
                    if waiter is not None:
                        waiter.resolve(tuple(event.args))
                case sio.AckTimedOut():
                    waiter = self.waiters.pop((event.namespace, event.ack_id), None)
                    if waiter is not None:
                        waiter.fail(TimeoutError(sio.ACK_TIMEOUT_MESSAGE))
                case sio.ConnectRequested():
                    self.spawn(self._connect, event.namespace, event.auth)
                case sio.Disconnected():
                    self._fail_acks(event.namespace, event.pending_acks)
                    socket = self.sockets.pop(event.namespace, None)
                    if socket is not None:
                        socket.handle_close(event.reason)
                case sio.ConnectTimedOut():
                    self.close_reason = "forced server close"
                    self.engine.close()
                case _:
                    assert_never(event)
        self.flush()
        return None

    async def _act_after(
        self, first: Awaitable[None], events: Sequence[sio.ServerEvent]
    ) -> None:
        self.flush()
        await first
        await self._act(events)

    async def _connect(self, name: str, auth: dict[str, Any]) -> None:
        namespace = self.server.namespace_for(name, auth)
        if namespace is None:
            if not self.core.closed:  # a malformed packet may have closed it meanwhile
                self.core.reject(name, sio.INVALID_NAMESPACE_MESSAGE)
                self.flush()
            return
        engine = self.engine.handshake
        handshake = Handshake(
            headers=engine.headers, query=engine.query, auth=auth,
            address=engine.address, url=engine.url, secure=engine.secure,
            xdomain="origin" in engine.headers,
        )
        recovery = self.server.connection_state_recovery
        restoring = None
        if recovery is not None:
            restoring = await self._restore(namespace, auth)
        if restoring is not None:
            session = restoring.session
            socket = Socket(namespace, namespace.adapter, self, session.sid, handshake,
                            pid=session.pid, recovered=True)
            socket.data = session.data
        else:
            socket = Socket(namespace, namespace.adapter, self, self.server.sid_factory(),
                            handshake,
                            pid=None if recovery is None else self.server.sid_factory())

        def admitted() -> bool:
            # The CONNECT goes once the connection handlers have run to their first wait
            # (Socket.handle_connection), so that one of them can still refuse.
            if self.core.closed:
                return False
            self.sockets[name] = socket
            if restoring is not None:
                # As Node: the rooms come back and the missed packets go out before the
                # CONNECT answer (the client emits them after its "connect").
                socket.join(*restoring.session.rooms)
                self.flush()
                for _, parts in restoring.finish():
                    self.engine.send_nowait(*parts)
            return True

        skip = restoring is not None and recovery is not None and recovery.skip_middlewares
        try:
            await namespace.admit(socket, admitted, middlewares=not skip)
        except ConnectError as refusal:
            log.info("connection of session %s to %s refused by a middleware: %s",
                     self.engine.sid, name, refusal.message)
            self.reject(name, refusal.message, refusal.data)
        finally:
            if restoring is not None:
                restoring.cancel()

    async def _restore(self, namespace: Namespace, auth: dict[str, Any]) -> Restoring | None:
        """The session a CONNECT's ``{pid, offset}`` asks for, if it can be restored (socket.io
        ``Namespace._createSocket``: only when both are strings)."""
        pid, offset = auth.get("pid"), auth.get("offset")
        if not (isinstance(pid, str) and isinstance(offset, str)):
            return None
        previous = namespace.socket_with_pid(pid)
        if previous is not None:
            # The client is back on a new connection before this server noticed its old one
            # go: end the old one now, which keeps the session to restore.
            previous.link_lost()
        try:
            return await namespace.adapter.restore_session(pid, offset)
        except Exception as error:
            log.warning("restoring a session on %s failed: %s: %s", namespace.name,
                        type(error).__name__, error)
            return None
