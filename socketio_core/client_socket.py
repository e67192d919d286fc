"""The client-side ``Socket``: one namespace over a ``Manager``'s connection (socket.io-client's
``Socket``).

Handlers start in the order things happened, as Node calls its listeners: an async handler
runs until it first waits, then the next starts (a slow one does not hold back the next
event); a plain handler with nothing waiting before it runs in the reading task, with no task
of its own (``socketio_core.dispatch``). When handlers fall behind, the connection stops reading
until they catch up. Emits made while disconnected wait in a buffer and go out, in order, once
the socket (re)connects; volatile ones are dropped instead. With ``retries``, emits go through
a queue that sends one packet at a time and resends it when its ack does not come within
``ack_timeout``, as socket.io-client does.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, assert_never

import trio

from ._client_flags import Compressed, Volatile, WithTimeout
from .dispatch import Call, Dispatcher
from .errors import ConnectError
from .handlers import Ack, Handler, call_handler, start_handler
from .listeners import Listeners
from .protocol import (
    AckReceived,
    AckTimedOut,
    ClientConnection,
    ClientEvent,
    Connected,
    ConnectRefused,
    Disconnected,
    EventReceived,
    JSONCodec,
    LocalProtocolError,
    NamespaceState,
    Packet,
    PacketType,
    encode,
)
from .protocol.reasons import (
    ACK_TIMEOUT_MESSAGE,
    DISCONNECTED_MESSAGE,
    RESERVED_EVENTS,
    ClientDisconnectReason,
)
from .waiter import Waiter

__all__ = ["Auth", "ClientSocket", "SocketManager"]

log = logging.getLogger("socketio_core.client")

Auth = dict[str, Any] | Callable[[], dict[str, Any] | Awaitable[dict[str, Any]]] | None
"""The CONNECT payload: a dict, or a (sync or async) callable returning one at each connect."""

DISPATCH_QUEUE = 256


@dataclass(slots=True)
class _Outgoing:
    event: str
    args: tuple[Any, ...]
    waiter: Waiter | None = None
    timeout: float | None = None
    tries: int = 0
    final: Waiter = field(default_factory=Waiter)


def _one_or_tuple(values: tuple[Any, ...]) -> Any:
    return values[0] if len(values) == 1 else values


class SocketManager(Protocol):
    """The ``Manager`` of a ``ClientSocket``, as the socket uses it."""

    @property
    def closed(self) -> bool:
        """Whether the manager is closing."""
        ...

    @property
    def running(self) -> bool:
        """Whether it is connected or trying to connect."""
        ...

    @property
    def is_open(self) -> bool:
        """Whether the Engine.IO connection is open."""
        ...

    @property
    def transport(self) -> str | None:
        """The Engine.IO transport in use, if open."""
        ...

    @property
    def connection(self) -> ClientConnection | None:
        """The Socket.IO core of the current connection."""
        ...

    @property
    def json(self) -> JSONCodec | None:
        """The application's JSON codec, if it gave one."""
        ...

    def open(self) -> None:
        """Connect, unless connected or connecting."""
        ...

    def flush(self) -> None:
        """Send what the connection's core queued."""
        ...

    def send_connect(self, namespace: str, auth: dict[str, Any] | None) -> None:
        """Ask to join ``namespace``."""
        ...

    def release(self, socket: ClientSocket) -> None:
        """``socket`` stopped for good."""
        ...

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``fn(*args)`` in a task of the manager."""
        ...

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register a handler for a manager event."""
        ...


class ClientSocket(Listeners):
    """One namespace of a client connection; made by ``Manager.socket`` or ``connect``.

    Reserved events for ``on``: ``"connect"``, ``"connect_error"`` (a ``ConnectError`` with
    ``message`` and ``data``) and ``"disconnect"`` (the reason, spelled as Node spells it).
    An event handler's return value answers the server's ack; a handler declaring a keyword-only
    ``ack`` parameter gets the ``Ack`` to call itself.

    Attributes:
        namespace: the namespace name; id: the socket id while connected (else ``None``);
        connected: whether the namespace is joined; manager: the ``Manager`` (also ``io``);
        recovered: whether the last connect recovered the session of the connection before
            (the server's connection state recovery: same id, rooms and data, and the events
            missed meanwhile received first).
    """

    def __init__(
        self,
        manager: SocketManager,
        namespace: str,
        *,
        auth: Auth = None,
        ack_timeout: float | None = None,
        retries: int = 0,
    ) -> None:
        self.manager = self.io = manager
        self.namespace = namespace
        self.auth = auth
        self.ack_timeout = ack_timeout
        self.retries = retries
        self.id: str | None = None
        self.connected = False
        self.active = False
        self.recovered = False
        # Connection state recovery (socket.io-client's _pid and _lastOffset): the session id
        # the server gave, and the last argument of the last event when it was a string.
        self._pid: str | None = None
        self._last_offset: str | None = None
        super().__init__()
        self._send_buffer: list[_Outgoing] = []
        self._receive_buffer: list[tuple[str, tuple[Any, ...], Ack | None]] = []
        self._acks: dict[int, Waiter] = {}
        self._queue: deque[_Outgoing] = deque()
        self._queue_running = False
        self._connect_waiters: list[Waiter] = []
        self._changed = trio.lowlevel.ParkingLot()  # unparked whenever the state changes
        self._dispatcher = Dispatcher(manager.start_soon, self._failed, DISPATCH_QUEUE)

    def __repr__(self) -> str:
        return f"<ClientSocket {self.namespace} id={self.id!r}>"

    def _failed(self, event: str) -> None:
        """Log the exception being handled, which a handler of ``event`` raised."""
        log.exception("handler of %r failed (namespace %r, socket %s)",
                      event, self.namespace, self.id)

    @property
    def disconnected(self) -> bool:
        """Whether the namespace is not joined (``not connected``)."""
        return not self.connected

    def _fire(self, event: str, *args: Any) -> None:
        for handler in self._take(event):
            self._call(event, handler, args)

    def _call(self, event: str, handler: Handler, args: tuple[Any, ...]) -> None:
        self._dispatcher.submit_nowait(event, partial(call_handler, handler, args, None))

    def _kick(self) -> None:
        self._changed.unpark_all()

    def connect(self) -> None:
        """Join the namespace (again), opening the manager's connection if needed."""
        if self.connected:
            return
        self.active = True
        self._kick()
        self.manager.open()
        if self.manager.is_open:
            self.handle_open()

    async def wait_connected(self) -> None:
        """Wait until the socket is connected.

        Raises:
            ConnectError: the next attempt failed (``connect_error``; ``message`` and ``data``
                are the server's, or engine.io-client's ``"xhr poll error"``, ``"websocket
                error"``, ``"timeout"``).
            ConnectionError: the socket stopped trying (disconnected, or reconnection gave up).
        """
        if self.connected:
            return
        if not (self.active and self.manager.running):
            raise ConnectionError("the socket is not connecting")
        waiter = Waiter()
        self._connect_waiters.append(waiter)
        await waiter.result()

    async def wait(self) -> None:
        """Wait until the socket is done: disconnected for good (``disconnect()``, the server
        disconnecting it, a ``connect_error`` from the server) or reconnection gave up."""
        while self.active and self.manager.running:
            await self._changed.park()

    def handle_open(self) -> None:
        """The manager's connection opened: ask to join the namespace (the manager calls
        this)."""
        if callable(self.auth):
            self.manager.start_soon(self._connect_with, self.auth, self.manager.connection)
        else:
            self.manager.send_connect(self.namespace, self._connect_payload(self.auth))

    def _connect_payload(self, auth: dict[str, Any] | None) -> dict[str, Any] | None:
        """The CONNECT payload: ``auth``, after the ``pid`` and last offset of a session to
        recover (socket.io-client ``_sendConnectPacket``; no offset yet, no ``offset`` key)."""
        if self._pid is None:
            return auth
        payload: dict[str, Any] = {"pid": self._pid}
        if self._last_offset is not None:
            payload["offset"] = self._last_offset
        payload.update(auth or {})
        return payload

    async def _connect_with(self, auth: Callable[[], Any], conn: ClientConnection | None) -> None:
        try:
            data = auth()
            if inspect.isawaitable(data):
                data = await data
        except Exception as error:
            log.exception("the auth callable of %r failed", self)
            self._on_connect_error(ConnectError(f"auth failed: {error}"), refused=False)
            return
        if conn is self.manager.connection and self.active:
            self.manager.send_connect(self.namespace, self._connect_payload(data))

    def _on_connect(self, sid: str, pid: str | None = None) -> None:
        self.id = sid
        self.recovered = pid is not None and pid == self._pid
        self._pid = pid
        self.connected = True
        for event, args, ack in self._receive_buffer:
            self._note_offset(args, ack)
            self._dispatcher.submit_nowait(
                event, *self._event_calls(event, self._take(event), args, ack))
        self._receive_buffer.clear()
        buffered, self._send_buffer = self._send_buffer, []
        for item in buffered:
            try:
                self._send(item)
            except (TypeError, LocalProtocolError):
                log.exception("a buffered emit of %r cannot be sent", self)
        self._fire("connect")
        for waiter in self._connect_waiters:
            waiter.resolve(())
        self._connect_waiters.clear()
        self._kick()

    def handle_connect_error(self, error: ConnectError) -> None:
        """The manager's connection could not be opened (the manager calls this; it retries
        as its reconnection options say)."""
        self._on_connect_error(error, refused=False)

    def handle_packet(
        self, event: ClientEvent, conn: ClientConnection
    ) -> Awaitable[None] | None:
        """What the connection's core reported for this namespace (the manager calls this).
        Returns what the reader must await while the socket's handlers are behind."""
        match event:
            case Connected(sid=sid, pid=pid):
                self._on_connect(sid, pid)
            case ConnectRefused(message=message, data=data):
                self._on_connect_error(ConnectError(message, data), refused=True)
            case EventReceived(event=name, args=args, ack_id=ack_id):
                return self._on_event(name, args, ack_id, conn)
            case AckReceived(ack_id=ack_id, args=args):
                self._on_ack(ack_id, args)
            case Disconnected():
                self._destroy()
                self.handle_close(ClientDisconnectReason.IO_SERVER_DISCONNECT)
            case AckTimedOut():
                pass  # the socket times its acks itself
            case _:
                assert_never(event)
        return None

    def _on_connect_error(self, error: ConnectError, *, refused: bool) -> None:
        if not self.connected:
            self._fire("connect_error", error)
            for waiter in self._connect_waiters:
                waiter.fail(error)
            self._connect_waiters.clear()
        if refused:
            # The server said no: socket.io-client gives this socket up (no reconnection).
            self._destroy()
        self._kick()

    def handle_close(self, reason: str) -> None:
        """The connection closed (or the server disconnected us), for ``reason``: acks of
        packets sent fail, buffered emits stay (the manager calls this)."""
        was_connected = self.connected
        self.connected = False
        self.id = None
        if was_connected:
            self._fire("disconnect", str(reason))
        # socket.io-client fails the acks of packets already sent; buffered ones stay buffered.
        acks, self._acks = self._acks, {}
        for waiter in acks.values():
            waiter.fail(ConnectionError(DISCONNECTED_MESSAGE))
        self._kick()

    def _destroy(self) -> None:
        if self.active:
            self.active = False
            self.manager.release(self)
        if not self.connected:
            for waiter in self._connect_waiters:
                waiter.fail(ConnectionError("the socket stopped connecting"))
            self._connect_waiters.clear()
        self._kick()

    def handle_gave_up(self) -> None:
        """The manager stopped trying: release whoever waits for a connection (the manager
        calls this)."""
        for waiter in self._connect_waiters:
            waiter.fail(ConnectionError("the connection could not be established"))
        self._connect_waiters.clear()
        self._kick()

    def handle_manager_closed(self, error: BaseException) -> None:
        """The manager is closing: fail every emit still waiting for an answer (the manager
        calls this)."""
        for item in [*self._send_buffer, *self._queue]:
            if item.waiter is not None:
                item.waiter.fail(error)
            item.final.fail(error)
        self._send_buffer.clear()
        self._queue.clear()
        for waiter in self._acks.values():
            waiter.fail(error)
        self._acks.clear()
        self.handle_gave_up()

    async def disconnect(self) -> None:
        """Leave the namespace for good (reason ``"io client disconnect"``; no reconnection).
        The manager's connection closes when no other socket uses it."""
        conn = self.manager.connection
        if conn is not None and not conn.closed \
                and conn.state(self.namespace) is not NamespaceState.IDLE:
            conn.disconnect(self.namespace)
            self.manager.flush()
        was_connected = self.connected
        self._destroy()
        if was_connected:
            self.handle_close(ClientDisconnectReason.IO_CLIENT_DISCONNECT)
        await trio.lowlevel.checkpoint()

    close = disconnect

    def _on_event(self, event: str, args: tuple[Any, ...], ack_id: int | None,
                  conn: ClientConnection) -> Awaitable[None] | None:
        ack = None if ack_id is None else Ack(lambda values: self._send_ack(conn, ack_id, values))
        if self.connected:
            return self._dispatch_event(event, args, ack)
        self._receive_buffer.append((event, args, ack))
        return None

    def _dispatch_event(
        self, event: str, args: tuple[Any, ...], ack: Ack | None
    ) -> Awaitable[None] | None:
        """Start the catch-all listeners and handlers of an event in arrival order; a single
        plain handler with nothing waiting to start runs here, with no task. Returns what the
        reader must await while the queue is full."""
        self._note_offset(args, ack)
        handlers = self._take(event)
        dispatcher = self._dispatcher
        if not dispatcher.idle or len(handlers) != 1 or self._any:
            return dispatcher.submit(event, *self._event_calls(event, handlers, args, ack))
        try:
            rest = start_handler(handlers[0], args, ack)
        except Exception:
            self._failed(event)
            return None
        if rest is not None:
            return dispatcher.submit(event, lambda: rest)
        return None

    def _event_calls(self, event: str, handlers: list[Handler], args: tuple[Any, ...],
                     ack: Ack | None) -> list[Call]:
        calls: list[Call] = [partial(call_handler, listener, (event, *args), None)
                             for listener in self._any]
        for index, handler in enumerate(handlers):
            calls.append(partial(call_handler, handler, args, ack if index == 0 else None))
        return calls

    def _note_offset(self, args: tuple[Any, ...], ack: Ack | None) -> None:
        if self._pid is not None and ack is None and args and isinstance(args[-1], str):
            # socket.io-client emitEvent: the last string argument is the offset to recover
            # from (an event with an ack ends with the ack function there, and is skipped).
            self._last_offset = args[-1]

    def _send_ack(self, conn: ClientConnection, ack_id: int, values: tuple[Any, ...]) -> None:
        if conn is self.manager.connection and not conn.closed \
                and conn.state(self.namespace) is NamespaceState.CONNECTED:
            conn.ack(self.namespace, ack_id, values)
            self.manager.flush()

    def _on_ack(self, ack_id: int, values: tuple[Any, ...]) -> None:
        waiter = self._acks.pop(ack_id, None)
        if waiter is not None:
            waiter.resolve(values)

    def _send(self, item: _Outgoing) -> None:
        conn = self.manager.connection
        assert conn is not None
        for listener in self._any_outgoing:
            self._call(item.event, listener, (item.event, *item.args))
        try:
            ack_id = conn.emit(self.namespace, item.event, item.args, ack=item.waiter is not None)
        except (TypeError, LocalProtocolError) as error:
            if item.waiter is None:
                raise
            item.waiter.fail(error)
            return
        if item.waiter is not None:
            assert ack_id is not None
            self._acks[ack_id] = item.waiter
        self.manager.flush()

    def _emit(self, item: _Outgoing, *, volatile: bool = False) -> None:
        if item.event in RESERVED_EVENTS or not isinstance(item.event, str):
            raise ValueError(f"{item.event!r} is a reserved event name")
        if self.manager.closed:
            raise ConnectionError("the client is closed")
        if self.connected:
            self._send(item)
        elif not volatile:
            self._check_encodable(item)
            self._send_buffer.append(item)

    def _check_encodable(self, item: _Outgoing) -> None:
        """Raise now, not when it is sent, for an emit whose data cannot be encoded."""
        encode(Packet(PacketType.EVENT, self.namespace, [item.event, *item.args]),
               json=self.manager.json)

    async def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` (any JSON-able data, ``bytes`` anywhere).

        Sent at once when connected, else buffered until the socket connects. With
        ``retries``, queued and resent until the server acknowledges it.

        Raises:
            ValueError: a reserved event name.
            ConnectionError: the manager is closed.
            TypeError: data JSON cannot represent (a ``datetime``, say, without ``json=``),
                named by its type.
            LocalProtocolError: a namespace or event name the protocol cannot carry.
        """
        if self.retries:
            self._enqueue(event, args)
        else:
            self._emit(_Outgoing(event, args))
        await trio.lowlevel.checkpoint()

    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send ``event`` and wait for the server's ack; returns its single argument (a tuple
        when it sent several).

        Raises:
            TimeoutError: no ack within ``timeout`` (default: ``ack_timeout``) seconds
                (``"operation has timed out"``; with ``retries``, after the last try).
            ConnectionError: the socket disconnected after sending it
                (``"socket has been disconnected"``).
            TypeError: data JSON cannot represent, named by its type.
        """
        if timeout is None:
            timeout = self.ack_timeout
        if self.retries:
            item = self._enqueue(event, args, timeout)
            return _one_or_tuple(await item.final.result())
        item = _Outgoing(event, args, Waiter())
        assert item.waiter is not None
        self._emit(item)
        with trio.move_on_after(math.inf if timeout is None else timeout):
            return _one_or_tuple(await item.waiter.result())
        self._forget(item)
        raise TimeoutError(ACK_TIMEOUT_MESSAGE)

    def _forget(self, item: _Outgoing) -> None:
        if item in self._send_buffer:
            self._send_buffer.remove(item)
        for ack_id, waiter in list(self._acks.items()):
            if waiter is item.waiter:
                del self._acks[ack_id]

    def compress(self, compress: bool) -> Compressed:
        """``socket.compress(False).emit(...)``: whether the next emit may be compressed, as
        the official client's flag. Our transports compress nothing per message, so it only
        records the wish (``.compress`` of what this returns)."""
        return Compressed(self.emit, self.emit_with_ack, compress)

    def timeout(self, seconds: float) -> WithTimeout:
        """``socket.timeout(s).emit_with_ack(...)``: an ack timeout for one emit."""
        return WithTimeout(self.emit_with_ack, seconds)

    @property
    def volatile(self) -> Volatile:
        """``socket.volatile.emit(...)``: dropped unless connected (never buffered or retried)."""
        return Volatile(self._emit_volatile)

    def _emit_volatile(self, event: str, args: tuple[Any, ...]) -> None:
        self._emit(_Outgoing(event, args), volatile=True)

    def _enqueue(self, event: str, args: tuple[Any, ...],
                 timeout: float | None = None) -> _Outgoing:
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        if self.manager.closed:
            raise ConnectionError("the client is closed")
        item = _Outgoing(event, args, timeout=timeout)
        self._check_encodable(item)
        self._queue.append(item)
        if not self._queue_running:
            self._queue_running = True
            self.manager.start_soon(self._drain_queue)
        self._kick()
        return item

    async def _drain_queue(self) -> None:
        # One packet in flight at a time; each try waits ack_timeout, a disconnect counts as a
        # failed try (socket.io-client's _addToQueue / _drainQueue).
        try:
            while self._queue:
                item = self._queue[0]
                while True:
                    while not self.connected:
                        await self._changed.park()
                    item.tries += 1
                    item.waiter = Waiter()
                    self._send(item)
                    limit = self.ack_timeout if item.timeout is None else item.timeout
                    error: BaseException = TimeoutError(ACK_TIMEOUT_MESSAGE)
                    with trio.move_on_after(math.inf if limit is None else limit):
                        try:
                            item.final.resolve(await item.waiter.result())
                            break
                        except (ConnectionError, TypeError, LocalProtocolError) as failure:
                            error = failure
                    self._forget(item)
                    if item.tries > self.retries or isinstance(
                            error, (TypeError, LocalProtocolError)):
                        item.final.fail(error)
                        break
                if self._queue and self._queue[0] is item:
                    self._queue.popleft()
        finally:
            self._queue_running = False
