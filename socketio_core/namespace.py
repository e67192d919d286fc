"""Namespaces: their sockets, connection middlewares and handlers, and the dynamic kind."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from .adapter import Adapter
from .broadcast import BroadcastOperator
from .errors import ConnectError
from .handlers import Ack, H, Handler, NamespaceHandler, call_handler
from .protocol.rooms import Rooms

if TYPE_CHECKING:
    from .interfaces import FetchedSocket, LocalSocket, NamespaceLike, ServerLike
    from .socket import Socket

__all__ = ["Namespace", "NamespaceMatcher"]

NamespaceMatcher = str | re.Pattern[str] | Callable[[str, dict[str, Any]], bool]

#: Names a server-side event may not take (Node's namespace ``RESERVED_EVENTS``).
SERVER_RESERVED_EVENTS = frozenset({"connect", "connection", "new_namespace"})


class Namespace:
    """A namespace: ``server.of("/admin")``.

    Broadcast shortcuts (``to``, ``emit``, ``fetch_sockets``…) act on every socket in it.
    """

    def __init__(
        self,
        server: ServerLike,
        name: str,
        adapter: Callable[[NamespaceLike], Adapter],
        *,
        parent: Namespace | None = None,
        on_empty: Callable[[Namespace], None] | None = None,
    ) -> None:
        self.server = server
        self.name = name
        self.sockets: dict[str, Socket] = {}
        self.adapter = adapter(self)
        #: The dynamic namespace (``server.of(regex_or_callable)``) this one was made for: its
        #: handlers and middlewares are the parent's, shared.
        self.parent = parent
        self._on_empty = on_empty
        self._middlewares: list[Handler] = [] if parent is None else parent._middlewares
        self._handlers: dict[str, list[Handler]] = {} if parent is None else parent._handlers
        self._table: dict[str, tuple[Handler, ...]] = {}
        self._table_key: tuple[tuple[str, tuple[Handler, ...]], ...] = ()
        #: Made by a dynamic matcher (``server.of(regex_or_callable)``) for a name seen.
        self.dynamic = parent is not None
        self._admitting = 0
        self._server_handlers: dict[str, list[Handler]] = {}
        self._pids: dict[str, Socket] = {}  # connection state recovery's private ids

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    @overload
    def on(self, event: str) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """``on("connection", fn)`` (or ``"connect"``) — ``fn(socket)`` for each new socket
        (usable as a decorator); raising ``ConnectError`` before it first waits refuses the
        client (see ``Socket``). Any other event name registers ``fn(socket, *args)`` on every
        socket of the namespace."""

        def register(fn: Handler) -> Handler:
            self._handlers.setdefault("connect" if event == "connection" else event, []).append(fn)
            return fn

        return register(handler) if handler is not None else register

    def event(self, handler: Handler) -> Handler:
        """Decorator: ``@namespace.event`` registers ``handler(socket, *args)`` under its name."""
        return self.on(handler.__name__, handler)

    @overload
    def on_server_event(self, event: str) -> Callable[[H], H]: ...
    @overload
    def on_server_event(self, event: str, handler: H) -> H: ...

    def on_server_event(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler(*args)`` for the server-side event ``event``, which another server
        of the cluster (or an emitter) sends with ``server_side_emit`` (Node's ``io.on(event,
        ...)`` for server-side events; ``on`` here registers socket handlers). When the sender
        asked for an ack, the first handler's return value answers it, or the handler takes a
        keyword-only ``ack`` and calls it."""

        def register(fn: Handler) -> Handler:
            self._server_handlers.setdefault(event, []).append(fn)
            return fn

        return register(handler) if handler is not None else register

    def use(self, middleware: Handler) -> Handler:
        """A connection middleware ``middleware(socket)``, sync or async; raising
        ``ConnectError`` (or any exception) refuses the connection with ``connect_error``."""
        self._middlewares.append(middleware)
        return middleware

    @property
    def _all(self) -> BroadcastOperator:
        return BroadcastOperator(self.adapter)

    def to(self, *rooms: Rooms) -> BroadcastOperator:
        """Every socket of the namespace in ``rooms`` (names, or iterables of names)."""
        return self._all.to(*rooms)

    in_ = to

    def except_(self, *rooms: Rooms) -> BroadcastOperator:
        """Every socket of the namespace not in ``rooms`` (names, or iterables of names)."""
        return self._all.except_(*rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        """Broadcasts dropped for clients not ready to take them."""
        return self._all.volatile

    @property
    def local(self) -> BroadcastOperator:
        """Only this server's sockets (matters with a cluster adapter)."""
        return self._all.local

    def compress(self, compress: bool) -> BroadcastOperator:
        """As Node's ``compress`` (see ``BroadcastOperator.compress``)."""
        return self._all.compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """How long ``emit_with_ack`` waits for every ack."""
        return self._all.timeout(seconds)

    async def emit(self, event: str, *args: Any) -> None:
        """Send an event to every socket of the namespace."""
        await self._all.emit(event, *args)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send an event to every socket and gather their acks, as ``BroadcastOperator``."""
        return await self._all.emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[FetchedSocket]:
        """Every socket of the namespace (on other servers too, with a cluster adapter)."""
        return await self._all.fetch_sockets()

    def sockets_join(self, *rooms: Rooms) -> None:
        """Make every socket join ``rooms`` (names, or lists of names)."""
        self._all.sockets_join(*rooms)

    def sockets_leave(self, *rooms: Rooms) -> None:
        """Make every socket leave ``rooms`` (names, or lists of names)."""
        self._all.sockets_leave(*rooms)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket (``close``: their whole connection)."""
        await self._all.disconnect_sockets(close)

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to this namespace's server-side listeners on every other server of
        the cluster (Node's ``serverSideEmit``); not to this server's own."""
        if event in SERVER_RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        await self.adapter.server_side_emit([event, *args])

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """As ``server_side_emit``, and return one answer per other server. Raises
        ``ServerSideEmitTimeoutError`` (its ``responses`` holding the answers that came) when
        some server did not answer within the adapter's request timeout."""
        if event in SERVER_RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        return await self.adapter.server_side_emit_with_ack([event, *args])

    async def server_count(self) -> int:
        """How many servers share this namespace (Node's ``adapter.serverCount()``)."""
        return await self.adapter.server_count()

    async def receive_server_event(self, args: list[Any], ack: Ack | None) -> None:
        """Run the server-side listeners of ``args[0]`` (a cluster adapter calls this for what
        another server sent); the first one answers ``ack``."""
        event, *rest = args
        for index, handler in enumerate(list(self._server_handlers.get(event, []))):
            await call_handler(handler, tuple(rest), ack if index == 0 else None)

    async def admit(self, socket: Socket, accept: Callable[[], bool], *,
                    middlewares: bool = True) -> None:
        """Let a new ``socket`` in, if the connection middlewares agree (unless
        ``middlewares`` is false: a recovered socket may skip them) and then ``accept()``
        does (its connection: ``False`` when it closed meanwhile); the socket then joins its
        own room and its ``connection`` handlers are queued, after which the client is told it
        is in (``Socket.handle_connection``). Its connection calls this.

        Raises:
            ConnectError: a middleware refused (any exception it raises refuses).
        """
        self._admitting += 1
        try:
            for middleware in self._middlewares if middlewares else ():
                try:
                    result = middleware(socket)
                    if inspect.isawaitable(result):
                        await result
                except ConnectError:
                    raise
                except Exception as error:
                    raise ConnectError(str(error), getattr(error, "data", None)) from error
            if not accept():
                return
            self.sockets[socket.id] = socket
            if socket.pid is not None:
                self._pids[socket.pid] = socket
            self.adapter.add_all(socket.id, (socket.id,))
            socket.add_namespace_handlers(self._socket_table())
        finally:
            self._admitting -= 1
            self._forget_if_empty()
        await socket.handle_connection(list(self._handlers.get("connect", ())))

    def socket_with_pid(self, pid: str) -> Socket | None:
        """The socket of this server whose private session id is ``pid`` (connection state
        recovery), if connected."""
        return self._pids.get(pid)

    def _socket_table(self) -> dict[str, tuple[Handler, ...]]:
        """The handlers every socket gets, as one table they share (made again when the
        namespace's handlers changed since)."""
        key = tuple((event, tuple(handlers)) for event, handlers in self._handlers.items()
                    if event != "connect")
        if key != self._table_key:
            self._table = {event: tuple(NamespaceHandler(h) for h in handlers)
                           for event, handlers in key if handlers}
            self._table_key = key
        return self._table

    def forget(self, socket: LocalSocket) -> None:
        """Forget a socket that left: out of ``sockets`` and every room (its ``Socket`` calls
        this as it closes; to disconnect one, use ``socket.disconnect()``)."""
        self.sockets.pop(socket.id, None)
        pid = getattr(socket, "pid", None)
        if pid is not None and self._pids.get(pid) is socket:
            del self._pids[pid]
        self.adapter.delete_all(socket.id)
        self._forget_if_empty()

    def _forget_if_empty(self) -> None:
        if self._on_empty is not None and not self.sockets and not self._admitting:
            self._on_empty(self)
