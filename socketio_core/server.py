"""The Socket.IO server on trio.

One ``_Link`` per Engine.IO session owns that session's ``ServerConnection`` core: it feeds it
the session's messages, acts on its events and on its timers (fired by the session's driver
task), and writes what it queues. User code calls the core through ``Socket`` and the link
synchronously (trio runs that atomically), so there are no locks around cores.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, overload

import trio

import engineio_core
from engineio_core.cors import CorsSetting
from transports import Handler as HTTPHandler
from transports import Request, serve_http

from . import protocol as sio
from .adapter import Adapter, InMemoryAdapter
from .broadcast import BroadcastOperator, RemoteSocket
from .handlers import Ack, H, Handler, call_handler
from .namespace import ConnectError, Namespace, NamespaceMatcher
from .socket import Handshake, Socket
from .static import ClientBundle, find_client_dist

__all__ = ["Server"]

log = logging.getLogger("socketio_core")


def _default_sid() -> str:
    return secrets.token_urlsafe(15)


class _AckWaiter:
    __slots__ = ("done", "error", "values")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.values: tuple[Any, ...] = ()
        self.error: Exception | None = None


class _LinkAck(Ack):
    """The ack of one event received on a link: an ``Ack`` without a callable to build."""

    __slots__ = ("_id", "_link", "_namespace")

    def __init__(self, link: _Link, namespace: str, ack_id: int) -> None:
        self._link = link
        self._namespace = namespace
        self._id = ack_id
        self.called = False

    def __call__(self, *args: Any) -> None:
        if not self.called:
            self.called = True
            self._link.send_ack(self._namespace, self._id, args)


class _Link:
    """One Engine.IO session carrying Socket.IO: the owner of its ``ServerConnection``.

    It has no task of its own (an ``engineio_core.Application``): messages are acted on in the
    task that read them, its timers are fired by the session's driver, and what it starts (the
    sockets' dispatchers, namespace admission) runs in the engine's nursery, counted, so that
    the engine's ``aclose`` waits for them as it waits for a handler.
    """

    __slots__ = ("_children", "_ended", "_failed", "_idle", "close_reason", "core", "engine",
                 "server", "sockets", "waiters")

    def __init__(self, server: Server, engine: engineio_core.Socket) -> None:
        self.server = server
        self.engine = engine
        self.core = sio.ServerConnection(
            connect_timeout=server.connect_timeout,
            max_attachments=server.max_attachments,
            max_attachment_bytes=server.max_http_buffer_size,
            now=trio.current_time(),
        )
        self.sockets: dict[str, Socket] = {}
        self.waiters: dict[tuple[str, int], _AckWaiter] = {}
        self.close_reason: str | None = None
        self._failed = False
        self._ended = False
        self._children = 0  # tasks started by ``spawn`` still running
        self._idle: trio.Event | None = None  # set when they are done, once the session closed

    # ----------------------------------------------------------------- called by sockets

    def flush(self) -> None:
        data = self.core.data_to_send()
        if data:
            self.engine.send_nowait(*data)

    def _rearm(self) -> None:
        """Wake the session's driver earlier if the core now has an earlier deadline. Only an emit
        with an ack timeout adds one; any other change only removes or delays deadlines, which
        the driver sees when it wakes."""
        deadline = self.core.next_deadline()
        if deadline is not None:
            self.engine.wake_at(deadline)

    def emit(self, namespace: str, event: str, args: Sequence[Any]) -> None:
        self.core.emit(namespace, event, args)
        self.flush()

    async def emit_with_ack(
        self, namespace: str, event: str, args: Sequence[Any], timeout: float | None
    ) -> tuple[Any, ...]:
        ack_id = self.core.emit(
            namespace, event, args, ack=True, timeout=timeout, now=trio.current_time()
        )
        assert ack_id is not None
        waiter = _AckWaiter()
        self.waiters[(namespace, ack_id)] = waiter
        self.flush()
        self._rearm()
        await waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error
        return waiter.values

    def send_ack(self, namespace: str, ack_id: int, values: tuple[Any, ...]) -> None:
        if namespace in self.sockets:
            self.core.ack(namespace, ack_id, values)
            self.flush()

    def disconnect(self, namespace: str) -> None:
        self.sockets.pop(namespace, None)
        self._fail_acks(namespace, self.core.disconnect(namespace))
        self.flush()

    def _fail_acks(self, namespace: str, ack_ids: Sequence[int]) -> None:
        for ack_id in ack_ids:
            waiter = self.waiters.pop((namespace, ack_id), None)
            if waiter is not None:
                waiter.error = ConnectionError(sio.DISCONNECTED_MESSAGE)
                waiter.done.set()

    def close(self, reason: str) -> None:
        """Disconnect every socket on the session (each gets DISCONNECT and leaves with
        ``"server namespace disconnect"``, as in Node), then close it; ``reason`` is recorded as
        the session's close reason."""
        for namespace, socket in list(self.sockets.items()):
            self.disconnect(namespace)
            socket._closed("server namespace disconnect")
        self.close_reason = reason
        self.engine.close()

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.server.engine._spawn(partial(self._child, fn, args)):
            self._children += 1

    async def _child(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        try:
            await fn(*args)
        except Exception:
            log.exception("task of session %s failed", self.engine.sid)
            self.engine.close()
        finally:
            self._children -= 1
            if not self._children and self._idle is not None:
                self._idle.set()

    # ----------------------------------------------------------------- run by the driver

    def next_deadline(self) -> float | None:
        if self._failed:
            # A protocol error ends the sockets at once, not when the session's close is done.
            return None if self._ended else -math.inf
        return self.core.next_deadline()

    def handle_timeout(self, now: float) -> None:
        if self._failed:
            self._end()
            return
        rest = self._act_nowait(self.core.handle_timeout(now=now))
        if rest is not None:  # timeouts queue no handler; kept for safety
            self.spawn(lambda: rest)

    def session_closed(self) -> trio.Event | None:
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
        try:
            events = self.core.receive_message(message, now=trio.current_time())
        except sio.ProtocolError as error:
            log.debug("closing %s: %s", self.engine.sid, error)
            for socket in self.sockets.values():  # as Node: each socket's "error", then the close
                socket._queue(socket._fire, "error", (error,))
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
        if self.server._shutting_down:
            reason = "server shutting down"
        for socket in list(self.sockets.values()):
            socket._closed(reason)
        self.sockets.clear()
        for waiter in self.waiters.values():
            waiter.error = ConnectionError(reason)
            waiter.done.set()
        self.waiters.clear()

    async def _act(self, events: Sequence[sio.Event]) -> None:
        rest = self._act_nowait(events)
        if rest is not None:
            await rest

    def _act_nowait(self, events: Sequence[sio.Event]) -> Awaitable[None] | None:
        """Act on the core's events; returns ``None`` when done, or what is left to await (an
        event that found its socket's handler queue full, and the events after it)."""
        for index, event in enumerate(events):
            if isinstance(event, sio.EventReceived):
                socket = self.sockets.get(event.namespace)
                if socket is None:
                    continue
                ack = None
                if event.ack_id is not None:
                    ack = _LinkAck(self, event.namespace, event.ack_id)
                rest = socket._event(event.event, event.args, ack)
                if rest is not None:
                    return self._act_after(rest, events[index + 1:])
            elif isinstance(event, sio.AckReceived):
                waiter = self.waiters.pop((event.namespace, event.ack_id), None)
                if waiter is not None:
                    waiter.values = tuple(event.args)
                    waiter.done.set()
            elif isinstance(event, sio.AckTimedOut):
                waiter = self.waiters.pop((event.namespace, event.ack_id), None)
                if waiter is not None:
                    waiter.error = TimeoutError("operation has timed out")
                    waiter.done.set()
            elif isinstance(event, sio.ConnectRequested):
                self.spawn(self._connect, event.namespace, event.auth)
            elif isinstance(event, sio.Disconnected):
                self._fail_acks(event.namespace, event.pending_acks)
                socket = self.sockets.pop(event.namespace, None)
                if socket is not None:
                    socket._closed(event.reason)
            elif isinstance(event, sio.ConnectTimedOut):
                self.close_reason = "forced server close"
                self.engine.close()
        self.flush()
        return None

    async def _act_after(self, first: Awaitable[None], events: Sequence[sio.Event]) -> None:
        self.flush()
        await first
        await self._act(events)

    async def _connect(self, name: str, auth: dict[str, Any]) -> None:
        namespace = self.server._namespace_for(name, auth)
        if namespace is None:
            self.core.reject(name, sio.INVALID_NAMESPACE_MESSAGE)
            self.flush()
            return
        engine = self.engine.handshake
        handshake = Handshake(
            headers=engine.headers, query=engine.query, auth=auth,
            address=engine.address, url=engine.url, secure=engine.secure,
            xdomain="origin" in engine.headers,
        )
        socket = Socket(namespace, self, self.server.sid_factory(), handshake)
        try:
            await namespace._admit(socket)
        except ConnectError as refusal:
            namespace._forget_if_empty()
            if not self.core.closed:
                self.core.reject(name, refusal.message, refusal.data)
                self.flush()
            return
        if self.core.closed:
            namespace._forget_if_empty()
            return
        self.sockets[name] = socket
        namespace._add(socket)
        self.core.accept(name, socket.id)
        handlers = namespace._connection_handlers()
        if not handlers:
            self.flush()
            return
        await socket._enqueue(self._connected, socket, handlers[0])
        for handler in handlers[1:]:
            await socket._enqueue(call_handler, handler, (socket,), None)

    async def _connected(self, socket: Socket, handler: Handler) -> None:
        # As Node (Namespace._doConnect): the CONNECT leaves and the first connection handler
        # starts in one step, nothing between them, so a client that saw the CONNECT finds
        # what the handler did before its first await (rooms joined, handlers set).
        self.flush()
        await call_handler(handler, (socket,), None)


class Server(trio.abc.AsyncResource):
    """A Socket.IO v5 server, with the options of Node's ``Server`` in Python naming.

    Args:
        path: where the server answers (``/socket.io/``).
        connect_timeout: seconds a client has to join a namespace after the Engine.IO handshake.
        max_attachments: binary attachments allowed in one packet (Node: 10).
        max_buffered_bytes: per-client outbound high-water mark: ``await emit`` waits above it,
            volatile emits are dropped while anything is queued, and a client whose queue passes
            four times it is disconnected (``"transport error"``).
        adapter: what makes each namespace's adapter: an ``Adapter`` class, or a factory
            ``namespace -> Adapter`` (a cluster adapter bound to its connection); see
            docs/adapter.md.
        cleanup_empty_child_namespaces: forget a namespace made by a dynamic matcher once its
            last socket leaves (off by default, as in Node; without it, each name a client
            connects to stays).
        serve_client: serve the official browser client at ``<path>/socket.io.js`` (and
            ``.min.js``, ``.esm.min.js``, ``.msgpack.min.js``, ``.map``) from an installed npm
            ``socket.io-client``: ``True`` looks for ``node_modules`` in the current directory
            and its parents, a path names a ``node_modules`` (or package) directory. Raises
            ``ClientBundleNotFound`` here when it is missing.
        The remaining options are those of ``engineio_core.Server``.
    """

    def __init__(
        self,
        *,
        path: str = "/socket.io",
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        connect_timeout: float = 45.0,
        transports: Sequence[str] = ("polling", "websocket"),
        allow_upgrades: bool = True,
        cors_allowed_origins: CorsSetting = None,
        cors_credentials: bool = True,
        cookie: bool | str | Mapping[str, Any] | None = None,
        allow_request: engineio_core.AllowRequest | None = None,
        per_message_deflate: bool = False,
        http_compression: bool = True,
        max_attachments: int = 10,
        max_buffered_bytes: int = 4 * 1024 * 1024,
        adapter: Callable[[Namespace], Adapter] = InMemoryAdapter,
        cleanup_empty_child_namespaces: bool = False,
        sid_factory: Callable[[], str] = _default_sid,
        serve_client: bool | str | os.PathLike[str] = False,
    ) -> None:
        self.client_bundle: ClientBundle | None = None
        if serve_client is not False:
            where = None if serve_client is True else serve_client
            self.client_bundle = ClientBundle(find_client_dist(where), path)
        self.connect_timeout = connect_timeout
        self.max_attachments = max_attachments
        self.max_http_buffer_size = max_http_buffer_size
        self.sid_factory = sid_factory
        self._adapter = adapter
        self.cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        self.engine = engineio_core.Server(
            attach=self._attach_engine_socket,
            path=path,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            upgrade_timeout=upgrade_timeout,
            max_http_buffer_size=max_http_buffer_size,
            transports=transports,
            allow_upgrades=allow_upgrades,
            cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials,
            cookie=cookie,
            allow_request=allow_request,
            per_message_deflate=per_message_deflate,
            http_compression=http_compression,
            max_buffered_bytes=max_buffered_bytes,
        )
        self._namespaces: dict[str, Namespace] = {"/": Namespace(self, "/", adapter)}
        self._dynamic: list[tuple[NamespaceMatcher, Namespace]] = []
        self._shutting_down = False

    # ----------------------------------------------------------------- namespaces

    def of(self, name: NamespaceMatcher) -> Namespace:
        """The namespace ``name``, created on first use. A compiled regex or a callable
        ``(name, auth) -> bool`` declares dynamic namespaces: each matching name becomes a
        namespace sharing this one's handlers and middlewares."""
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            if name not in self._namespaces:
                self._namespaces[name] = Namespace(self, name, self._adapter)
            return self._namespaces[name]
        parent = Namespace(self, repr(name), self._adapter)
        self._dynamic.append((name, parent))
        return parent

    def _namespace_for(self, name: str, auth: dict[str, Any]) -> Namespace | None:
        if name in self._namespaces:
            return self._namespaces[name]
        for matcher, parent in self._dynamic:
            matched = (
                matcher.fullmatch(name) is not None
                if isinstance(matcher, re.Pattern)
                else bool(matcher(name, auth))  # type: ignore[operator]
            )
            if matched:
                child = Namespace(self, name, self._adapter)
                child.dynamic = True
                child._handlers = parent._handlers
                child._middlewares = parent._middlewares
                self._namespaces[name] = child
                return child
        return None

    @property
    def sockets(self) -> dict[str, Socket]:
        """The sockets of the main namespace, by id."""
        return self._namespaces["/"].sockets

    # The main namespace's API, as on Node's ``io``.

    @overload
    def on(self, event: str) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register a handler on the main namespace, as ``Namespace.on``."""
        if handler is None:
            return self._namespaces["/"].on(event)
        return self._namespaces["/"].on(event, handler)

    def event(self, handler: Handler) -> Handler:
        """Decorator: ``@sio.event`` registers ``handler(socket, *args)`` under its name."""
        return self._namespaces["/"].event(handler)

    def use(self, middleware: Handler) -> Handler:
        """A connection middleware on the main namespace (see ``Namespace.use``)."""
        return self._namespaces["/"].use(middleware)

    def to(self, *rooms: str) -> BroadcastOperator:
        """Every socket of the main namespace in ``rooms`` (Node's ``io.to``)."""
        return self._namespaces["/"].to(*rooms)

    in_ = to

    def except_(self, *rooms: str) -> BroadcastOperator:
        """Every socket of the main namespace not in ``rooms``."""
        return self._namespaces["/"].except_(*rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        """Broadcasts dropped for clients not ready to take them."""
        return self._namespaces["/"].volatile

    @property
    def local(self) -> BroadcastOperator:
        """Only this server's sockets (matters with a cluster adapter)."""
        return self._namespaces["/"].local

    def compress(self, compress: bool) -> BroadcastOperator:
        """As Node's ``compress`` (see ``BroadcastOperator.compress``)."""
        return self._namespaces["/"].compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """How long ``emit_with_ack`` waits for every ack."""
        return self._namespaces["/"].timeout(seconds)

    async def emit(self, event: str, *args: Any) -> None:
        """Send an event to every socket of the main namespace."""
        await self._namespaces["/"].emit(event, *args)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send an event to every socket and gather their acks, as ``BroadcastOperator``."""
        return await self._namespaces["/"].emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """Every socket of the main namespace (on other servers too, with a cluster adapter)."""
        return await self._namespaces["/"].fetch_sockets()

    def sockets_join(self, *rooms: str) -> None:
        """Make every socket of the main namespace join ``rooms``."""
        self._namespaces["/"].sockets_join(*rooms)

    def sockets_leave(self, room: str) -> None:
        """Make every socket of the main namespace leave ``room``."""
        self._namespaces["/"].sockets_leave(room)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket (``close``: their whole connection)."""
        await self._namespaces["/"].disconnect_sockets(close)

    # ----------------------------------------------------------------- lifetime

    async def serve(
        self,
        host: str | None = "127.0.0.1",
        port: int = 0,
        *,
        other: HTTPHandler | None = None,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` and serve until cancelled or closed.

        Requests that are not for Socket.IO go to ``other`` (as Node's ``io.attach`` leaves them
        to the HTTP server's own listeners), or get 404."""
        async with trio.open_nursery() as nursery:
            await self.engine.run_in(nursery)
            handler = partial(self._handle_or_fallback, other)
            listeners = await nursery.start(
                partial(serve_http, handler, host, port, config=self.engine.http_config))
            task_status.started(listeners)

    async def handle_request(self, request: Request) -> bool:
        """Serve one HTTP request if it is for Socket.IO (or the client bundle); returns
        ``False``, without answering, when it is not."""
        if self.client_bundle is not None and await self.client_bundle.handle_request(request):
            return True
        return await self.engine.handle_request(request)

    async def _handle_or_fallback(self, other: HTTPHandler | None, request: Request) -> None:
        # Straight to the engine when there is no bundle: a frame less under every WebSocket's
        # reader, which lives as long as its connection.
        if await (self.engine.handle_request(request) if self.client_bundle is None
                  else self.handle_request(request)):
            return
        if other is not None:
            await other(request)
        else:
            await request.respond(404, [("Content-Type", "text/plain")], b"Not Found")

    async def aclose(self) -> None:
        """Shut down: every socket leaves with ``server shutting down``, sessions are closed."""
        self._shutting_down = True
        await self.engine.aclose()

    def _attach_engine_socket(self, engine: engineio_core.Socket) -> _Link:
        return _Link(self, engine)

