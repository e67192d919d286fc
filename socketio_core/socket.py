"""The server-side ``Socket``: one client connected to one namespace."""

from __future__ import annotations

import contextvars
import logging
import types
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, overload

from .broadcast import BroadcastOperator
from .dispatch import Call, Dispatcher, before_first_wait, resume
from .errors import ConnectError
from .handlers import Ack, H, Handler, NamespaceHandler, call_handler, start_handler
from .protocol import RECOVERABLE_REASONS, BroadcastTarget, Packet, PacketType, Session
from .protocol.packet import encode_event
from .protocol.rooms import Rooms, flatten_rooms

if TYPE_CHECKING:
    import engineio_core
    from engineio_core.protocol import PreparedPacket

    from .adapter import Adapter
    from .handshake import Handshake
    from .interfaces import NamespaceLike, ServerLike, SocketLink
    from .protocol import Packet

__all__ = ["Socket"]

log = logging.getLogger("socketio_core")

_DISPATCH_QUEUE = 64


class Socket:
    """One client on one namespace.

    Handlers registered with ``on`` start in the order the packets arrived, as Node calls its
    listeners: an async handler runs until it first waits, then the next one starts, so a
    slow handler does not hold back the socket's next event (``disconnect`` starts after
    every earlier event's handlers). A plain handler runs to its end before the next starts.
    An event handler's return value answers the client's ack; a handler that declares a
    keyword-only ``ack`` parameter gets the ``Ack`` (or ``None``) instead.

    With connection state recovery on, ``pid`` is its private session id and ``recovered``
    says whether it took over the session (id, rooms, ``data``) of a socket whose client lost
    its connection; its events without an ack then go through the adapter, as in Node, which
    keeps them and appends their offset.

    The client is told it is connected (CONNECT) once the namespace's ``connection``
    handlers have run up to their first wait (or to their end), with what they sent it
    before then right behind: a ``connection`` handler that raises ``ConnectError`` before it
    first waits refuses the client, as a middleware does (``connect_error`` with the error's
    ``message`` and ``data``), and the client gets nothing it sent.
    """

    def __init__(
        self, namespace: NamespaceLike, adapter: Adapter, link: SocketLink, sid: str,
        handshake: Handshake, *, pid: str | None = None, recovered: bool = False,
    ) -> None:
        self.namespace = namespace
        self._adapter = adapter
        self.id = sid
        self.pid = pid
        self.recovered = recovered
        self.handshake = handshake
        self.data: Any = {}
        self.connected = True
        self._link = link
        # The Engine.IO messages sent before the client is told it is connected, sent right
        # after it: ``None`` once it has been told (or refused).
        self._held: list[Sequence[str | bytes | PreparedPacket]] | None = []
        # Tuples, which a copy of the table shares (a list per event and socket would be one
        # more object for the garbage collector's full collections to visit).
        self._handlers: dict[str, tuple[Handler, ...]] = {}
        self._handlers_shared = False  # ``_handlers`` is the namespace's table, copied on write
        # Tuples until the first is added (most sockets never have one): an empty tuple is
        # shared, an empty list is 56 bytes per socket.
        self._any: Sequence[Handler] = ()
        self._any_outgoing: Sequence[Handler] = ()
        self._middlewares: Sequence[Handler] = ()
        # Not a bound method of the socket: the dispatcher would be a cycle with it.
        self._dispatcher = Dispatcher(link.spawn, _HandlerFailed(namespace.name, sid),
                                      _DISPATCH_QUEUE)

    def __repr__(self) -> str:
        return f"<Socket {self.id} on {self.namespace.name}>"

    def _failed(self, event: str) -> None:
        """Log the exception being handled, which a handler of ``event`` raised."""
        _HandlerFailed(self.namespace.name, self.id)(event)

    def _drop_handlers(self) -> None:
        """Forget every handler, once the last of them (``disconnect``'s) has started: handlers
        registered on a socket commonly close over it (``@socket.on`` in a connection handler),
        a reference cycle that would leave the closed socket to the garbage collector."""
        self._handlers = {}
        self._handlers_shared = False
        self._any = self._any_outgoing = self._middlewares = ()

    @property
    def server(self) -> ServerLike:
        """The ``Server`` this socket belongs to."""
        return self.namespace.server

    @property
    def rooms(self) -> frozenset[str]:
        """The rooms this socket is in (its own id among them)."""
        return self._adapter.rooms_of(self.id)

    @property
    def conn(self) -> engineio_core.Socket:
        """The Engine.IO session under this socket (``socket.conn.close()`` drops the transport)."""
        return self._link.engine

    @property
    def transport(self) -> str:
        """The Engine.IO transport in use: ``"polling"`` or ``"websocket"``."""
        return self._link.engine.transport

    @overload
    def on(self, event: str) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler`` for ``event`` (usable as a decorator)."""

        def register(fn: Handler) -> Handler:
            handlers = self._own_handlers()
            handlers[event] = (*handlers.get(event, ()), fn)
            return fn

        return register(handler) if handler is not None else register

    def off(self, event: str, handler: Handler | None = None) -> None:
        """Remove one handler of ``event``, or all of them."""
        handlers = self._own_handlers()
        if handler is None:
            handlers.pop(event, None)
        elif handler in (registered := handlers.get(event, ())):
            at = registered.index(handler)
            handlers[event] = registered[:at] + registered[at + 1:]

    def _own_handlers(self) -> dict[str, tuple[Handler, ...]]:
        if self._handlers_shared:
            self._handlers = dict(self._handlers)
            self._handlers_shared = False
        return self._handlers

    def add_namespace_handlers(self, table: dict[str, tuple[Handler, ...]]) -> None:
        """Take the namespace's handlers (``table``, of ``NamespaceHandler``), after any this
        socket already has; an idle socket shares the table rather than holding a copy."""
        if not self._handlers:
            self._handlers = table
            self._handlers_shared = True
            return
        own = self._own_handlers()
        for event, handlers in table.items():
            own[event] = (*own.get(event, ()), *handlers)

    def _target(
        self, handler: Handler, args: tuple[Any, ...]
    ) -> tuple[Handler, tuple[Any, ...]]:
        """What to call for ``handler`` with ``args``: a namespace handler gets the socket first."""
        if isinstance(handler, NamespaceHandler):
            return handler.handler, (self, *args)
        return handler, args

    def on_any(self, handler: Handler) -> Handler:
        """``handler(event, *args)`` sees every incoming event."""
        self._any = [*self._any, handler]
        return handler

    def on_any_outgoing(self, handler: Handler) -> Handler:
        """``handler(event, *args)`` sees every event sent to this socket."""
        self._any_outgoing = [*self._any_outgoing, handler]
        return handler

    def use(self, middleware: Handler) -> Handler:
        """A per-packet middleware ``middleware(event, args)``; raising drops the packet and
        passes the exception to the socket's ``error`` handlers."""
        self._middlewares = [*self._middlewares, middleware]
        return middleware

    async def emit(self, event: str, *args: Any) -> None:
        """Send an event; waits while the client is far behind (bounded outbound buffer).

        With connection state recovery on, it goes through the adapter, as in Node, even once
        the socket has disconnected: it is kept (with its offset) for the client to get when
        it recovers the session.

        Raises:
            TypeError: data JSON cannot represent (a ``datetime``, say, without
                ``Server(json=...)``), named by its type.
        """
        if self.pid is not None:
            await self._adapter.broadcast(self._packet(event, args), self._own_target(False))
        else:
            self._emit(event, args, volatile=False)
        await self._link.engine.wait_for_drain()

    async def wait_for_drain(self) -> None:
        """Wait while the client is behind by more than the engine's ``max_buffered_bytes``; a
        client that takes nothing for the engine's ``stall_timeout`` meanwhile is dropped
        (``"transport error"``)."""
        await self._link.engine.wait_for_drain()

    def saturated(self) -> bool:
        """Whether the client is behind by more than the engine's ``max_buffered_bytes``
        (``await emit`` would wait); see ``engineio_core.Socket.saturated``."""
        return self._link.engine.saturated()

    def emit_nowait(self, event: str, *args: Any) -> None:
        """Send an event without waiting for the outbound buffer to drain."""
        self._emit(event, args, volatile=False)

    def _emit(self, event: str, args: tuple[Any, ...], *, volatile: bool) -> None:
        if self.pid is not None:
            # socket.io Socket.emit with recovery on: through the adapter, to the socket's own
            # room, so that the packet is kept (with its offset) for a recovering client.
            if volatile and not self.connected:
                return
            self._adapter.broadcast_nowait(self._packet(event, args), self._own_target(volatile))
            return
        if not self.connected:
            return
        for listener in self._any_outgoing:
            listener(event, *args)
        if volatile and self._link.engine.behind():
            return
        if self._held is not None:
            self._held.append(encode_event(PacketType.EVENT, self.namespace.name,
                                           [event, *args], None, self.namespace.server.json))
            return
        self._link.emit(self.namespace.name, event, args)

    def _packet(self, event: str, args: tuple[Any, ...]) -> Packet:
        return Packet(PacketType.EVENT, self.namespace.name, [event, *args])

    def _own_target(self, volatile: bool) -> BroadcastTarget:
        return BroadcastTarget(rooms=frozenset((self.id,)), volatile=volatile)

    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send an event and wait for the client's ack; returns its single argument (or a tuple
        when it sent several). Raises ``TimeoutError`` after ``timeout`` seconds, and
        ``ConnectionError`` if the socket disconnects first."""
        if not self.connected:
            raise ConnectionError("socket is disconnected")
        self._accept()
        for listener in self._any_outgoing:
            listener(event, *args)
        values = await self._link.emit_with_ack(self.namespace.name, event, args, timeout)
        return values[0] if len(values) == 1 else values

    def timeout(self, seconds: float) -> _TimedSocket:
        """``socket.timeout(s).emit_with_ack(...)``: wait at most ``seconds`` for the client's
        ack, then raise ``TimeoutError`` (Node's ``socket.timeout(ms)``; the client's
        ``timeout`` alike)."""
        return _TimedSocket(self, seconds)

    @property
    def volatile(self) -> _VolatileSocket:
        """``socket.volatile.emit(...)``: dropped when the client is not ready to take it."""
        return _VolatileSocket(self._emit_volatile)

    def _emit_volatile(self, event: str, args: tuple[Any, ...]) -> None:
        self._emit(event, args, volatile=True)

    def write_encoded(
        self, packet: Packet, parts: Sequence[str | bytes | PreparedPacket], *, volatile: bool
    ) -> bool:
        """Queue an EVENT ``packet`` already encoded as ``parts`` (the Engine.IO messages of
        ``protocol.encode``), as an adapter does for each recipient of a broadcast; the
        ``on_any_outgoing`` listeners see it, as Node's adapter notifies them. ``False`` when
        it was not queued (the socket is gone, or ``volatile`` and its client is behind)."""
        if not self.connected:
            return False
        if self._any_outgoing:
            event, *args = packet.data
            for listener in self._any_outgoing:
                listener(event, *args)
        if volatile and self._link.engine.behind():
            return False
        if self._held is not None:
            self._held.append(parts)
            return True
        self._link.engine.send_nowait(*parts)
        return True

    def plain_engine(self) -> engineio_core.Socket | None:
        """Its Engine.IO socket, when ``write_encoded(packet, parts, volatile=False)`` would
        do nothing but ``send_nowait(*parts)`` on it: connected, told so, and no
        ``on_any_outgoing`` listener; else ``None``."""
        if self.connected and self._held is None and not self._any_outgoing:
            return self._link.engine
        return None

    def join(self, *rooms: Rooms) -> None:
        """Join ``rooms``: names, or iterables of names (Node's ``socket.join(room | room[])``)."""
        self._adapter.add_all(self.id, flatten_rooms(*rooms))

    def leave(self, room: str) -> None:
        """Leave ``room``."""
        self._adapter.delete(self.id, room)

    def to(self, *rooms: Rooms) -> BroadcastOperator:
        """Every socket in ``rooms`` (names, or iterables of names) but this one."""
        return self.broadcast.to(*rooms)

    in_ = to

    def except_(self, *rooms: Rooms) -> BroadcastOperator:
        """Every socket of the namespace but this one and those in ``rooms`` (names, or
        iterables of names)."""
        return self.broadcast.except_(*rooms)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Every socket of the namespace but this one."""
        return BroadcastOperator(self._adapter, BroadcastTarget(except_rooms=frozenset({self.id})))

    def link_lost(self) -> None:
        """Its client came back on another connection (connection state recovery): end this
        one as if its transport closed, which keeps the session."""
        self._link.lost()

    async def disconnect(self, close: bool = False) -> None:
        """Leave the namespace (the client hears ``io server disconnect``); with ``close``, close
        the whole Engine.IO connection too."""
        if not self.connected:
            return
        self._accept()  # as in Node, a client disconnected by a connection handler connected
        if close:
            self._link.close("forced server close")
            return
        self._link.disconnect(self.namespace.name)
        self.handle_close("server namespace disconnect")

    def handle_close(self, reason: str) -> None:
        """The socket left its namespace, for ``reason``: run the ``disconnecting`` handlers
        while still in the rooms, keep the session when the client may come back for it
        (connection state recovery), leave every room, then queue the ``disconnect`` handlers.
        (Its connection calls this; applications call ``disconnect``.)"""
        if not self.connected:
            return
        reason = str(reason)  # the core's reasons are StrEnum members: handlers get plain text
        log.debug("socket %s left %s: %s", self.id, self.namespace.name, reason)
        for handler in list(self._handlers.get("disconnecting", [])):
            try:
                fn, args = self._target(handler, (reason,))
                fn(*args)
            except Exception:
                self._failed("disconnecting")
        if self.pid is not None and reason in RECOVERABLE_REASONS:
            rooms = self.rooms
            ordered = (self.id, *sorted(rooms - {self.id})) if self.id in rooms else (
                tuple(sorted(rooms)))
            try:
                self._adapter.persist_session(Session(self.id, self.pid, ordered, self.data))
            except Exception:
                log.exception("keeping the session of %r failed", self)
        self.connected = False
        self._held = None
        self.namespace.forget(self)
        self._dispatcher.submit_nowait(
            "disconnect", partial(self._start_reserved, "disconnect", (reason,)),
            self._drop_handlers)
        self._dispatcher.close()

    def handle_error(self, error: Exception) -> None:
        """Queue the ``error`` handlers with ``error`` (its connection calls this when the
        client sent something invalid, before closing)."""
        self._dispatcher.submit_nowait("error", partial(self._start_reserved, "error", (error,)))

    async def handle_connection(self, handlers: Sequence[Handler]) -> None:
        """Queue the namespace's ``connection`` handlers for this new socket, then the CONNECT
        that tells the client it is in, waiting while its queue is full (its namespace calls
        this once the socket is in)."""
        calls: list[Call] = [partial(self._run_connection, handler) for handler in handlers]
        rest = self._dispatcher.submit("connection", *calls, self._accept)
        if rest is not None:
            await rest

    async def _run_connection(self, handler: Handler) -> None:
        if not self.connected:  # an earlier connection handler refused
            return
        try:
            await before_first_wait(call_handler(handler, (self,), None), self._accept)
        except ConnectError as refusal:
            self._refuse(refusal)

    def _accept(self) -> None:
        """Tell the client it is connected, then send what was held until then (once)."""
        held, self._held = self._held, None
        if held is None or not self.connected:
            return
        if not self._link.accept(self.namespace.name, self.id, self.pid):
            return
        send = self._link.engine.send_nowait
        for parts in held:
            send(*parts)

    def _refuse(self, refusal: ConnectError) -> None:
        """A connection handler raised ``refusal``: refuse the client (CONNECT_ERROR), or, once
        it was told it is connected, disconnect it."""
        if not self.connected:
            return
        if self._held is None:
            log.warning(
                "a connection handler of namespace %r raised ConnectError(%r) after it first "
                "waited, once socket %s was connected: disconnecting it instead (a middleware, "
                "Namespace.use, refuses after waiting)", self.namespace.name, refusal.message,
                self.id)
            self._link.disconnect(self.namespace.name)
            self.handle_close("server namespace disconnect")
            return
        self._held = None
        self.connected = False
        self.namespace.forget(self)
        self._dispatcher.submit_nowait("connection", self._drop_handlers)
        self._dispatcher.close()
        self._link.reject(self.namespace.name, refusal.message, refusal.data)

    def handle_event(
        self, event: str, args: tuple[Any, ...], ack: Ack | None,
        handoff: Callable[[], bool] | None = None,
    ) -> Awaitable[None] | None:
        """Dispatch an event the client sent (its connection calls this). Handlers start in
        arrival order, each without waiting for the last to finish. With nothing waiting to
        start, no middleware or catch-all listener and one handler, the handler is called at
        once: a plain one then finishes here, with no task; so does an async one that
        finishes without waiting, when the reader can hand reading off (``handoff``, see
        ``engineio_core.Socket.reading_handoff``); one that waits is then left to this task
        and returned, while a new task reads on. Otherwise returns what the reader must await
        when the socket's queue is full (backpressure), else ``None``."""
        handlers = self._handlers.get(event)
        dispatcher = self._dispatcher
        if self._middlewares:
            return dispatcher.submit(event, partial(self._through_middlewares, event, args, ack))
        if not dispatcher.idle or not handlers or len(handlers) != 1 or self._any:
            # Which handlers is settled when the event's turn comes: a connection handler
            # still queued may register them first.
            return dispatcher.submit(event, partial(self._start_event, event, args, ack))
        handler = handlers[0]
        try:
            if isinstance(handler, NamespaceHandler):  # as _target, without the extra tuple
                rest = start_handler(handler.handler, (self, *args), ack, handler.declares_ack)
            else:
                rest = start_handler(handler, args, ack)
        except Exception:
            self._failed(event)
            return None
        if rest is not None:
            if handoff is not None and type(rest) is types.CoroutineType:
                return self._run_here(event, rest, handoff)
            return dispatcher.submit(event, lambda: rest)
        return None

    def _run_here(self, event: str, coro: types.CoroutineType[Any, Any, Any],
                  handoff: Callable[[], bool]) -> Awaitable[None] | None:
        """Run an async handler in the reading task until it first waits; then have reading
        handed to a new task, and return the rest of the handler for this task to run. In a
        context of its own, as a task of its own would have."""
        context = contextvars.copy_context()
        try:
            trap = context.run(coro.send, None)
        except StopIteration:
            return None
        except Exception:
            self._failed(event)
            return None
        handoff()  # if no task could take reading over, this one reads on after the handler
        return self._link.run_counted(self._finish_here(event, context, coro, trap))

    async def _finish_here(self, event: str, context: contextvars.Context,
                           coro: types.CoroutineType[Any, Any, Any], trap: Any) -> None:
        try:
            await resume(coro, trap, context)
        except Exception:
            self._failed(event)

    def _start_event(self, event: str, args: tuple[Any, ...], ack: Ack | None) -> None:
        self._dispatcher.submit_first(event, self._event_calls(event, args, ack))

    def _start_reserved(self, event: str, args: tuple[Any, ...]) -> None:
        self._dispatcher.submit_first(event, self._calls(event, args))

    def _calls(self, event: str, args: tuple[Any, ...]) -> list[Call]:
        """A call for each handler of ``event`` (a reserved one: no ack)."""
        return [partial(call_handler, *self._target(handler, args), None)
                for handler in self._handlers.get(event, ())]

    def _event_calls(self, event: str, args: tuple[Any, ...], ack: Ack | None) -> list[Call]:
        """A call for each catch-all listener, then each handler of ``event``; the first handler
        answers ``ack``."""
        calls: list[Call] = [partial(call_handler, listener, (event, *args), None)
                             for listener in self._any]
        for index, handler in enumerate(self._handlers.get(event, ())):
            calls.append(partial(call_handler, *self._target(handler, args),
                                 ack if index == 0 else None))
        return calls

    async def _through_middlewares(
        self, event: str, args: tuple[Any, ...], ack: Ack | None
    ) -> None:
        """Run the per-packet middlewares; if they let the event through, its listeners and
        handlers start next. A middleware that raises drops it and passes the exception to the
        ``error`` handlers."""
        for middleware in self._middlewares:
            try:
                result = middleware(event, list(args))
                if hasattr(result, "__await__"):
                    await result
            except Exception as error:
                self._dispatcher.submit_first("error", self._calls("error", (error,)))
                return
        self._dispatcher.submit_first(event, self._event_calls(event, args, ack))


class _HandlerFailed:
    """Logs the exception being handled, which a handler of one socket's ``event`` raised."""

    __slots__ = ("_namespace", "_sid")

    def __init__(self, namespace: str, sid: str) -> None:
        self._namespace = namespace
        self._sid = sid

    def __call__(self, event: str) -> None:
        log.exception("handler of %r failed (namespace %r, socket %s)",
                      event, self._namespace, self._sid)


class _VolatileSocket:
    __slots__ = ("_send",)

    def __init__(self, send: Callable[[str, tuple[Any, ...]], None]) -> None:
        self._send = send

    async def emit(self, event: str, *args: Any) -> None:
        """Send ``event``, unless the client is not ready to take it."""
        self._send(event, args)


class _TimedSocket:
    __slots__ = ("_seconds", "_socket")

    def __init__(self, socket: Socket, seconds: float) -> None:
        self._socket = socket
        self._seconds = seconds

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        return await self._socket.emit_with_ack(event, *args, timeout=self._seconds)
