"""The Socket.IO client: ``connect()``, and a ``Manager`` multiplexing namespaces over one
Engine.IO connection, as socket.io-client's ``io()`` and ``Manager`` do.

``async with connect("http://host:port/admin", auth={...}) as socket:`` joins one namespace;
``async with Manager(url) as manager: manager.socket("/a"); manager.socket("/b")`` shares one
connection between several. The manager reconnects as socket.io-client does: exponential
backoff with jitter, the ``reconnect_*`` events, every active socket joining again; never after
a deliberate ``disconnect()``, nor for a socket the server disconnected or refused.

Manager events (``manager.on``): ``"open"``, ``"close"`` (reason), ``"error"`` (a
``ConnectError``), ``"reconnect_attempt"`` (attempt), ``"reconnect"`` (attempts),
``"reconnect_error"`` (a ``ConnectError``), ``"reconnect_failed"``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random as _random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any, TypedDict, Unpack

import trio

from engineio_core.client import Client as EngineClient
from engineio_core.client import ConnectionFailed, StreamFactory, make_ssl_context, parse_url

from ._backoff import Backoff
from .client_socket import DISPATCH_QUEUE, Auth, ClientSocket
from .dispatch import Dispatcher
from .errors import ConnectError
from .handlers import Handler, call_handler
from .protocol import (
    ClientConnection,
    ClientEvent,
    JSONCodec,
    JSONOption,
    NamespaceState,
    RemoteProtocolError,
    as_codec,
)
from .protocol.reasons import ClientDisconnectReason

__all__ = ["ClientSocket", "Manager", "ManagerOptions", "Socket", "connect"]

Socket = ClientSocket

log = logging.getLogger("socketio_core.client")

_CLOSE_WAIT = 3.0


class ManagerOptions(TypedDict, total=False):
    """The options of ``Manager`` (all but ``url``), which ``connect`` passes on to it."""

    path: str
    transports: Sequence[str]
    upgrade: bool
    query: Mapping[str, str] | None
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None
    ssl_verify: bool
    ssl_context: ssl.SSLContext | None
    reconnection: bool
    reconnection_attempts: float
    reconnection_delay: float
    reconnection_delay_max: float
    randomization_factor: float
    connect_timeout: float | None
    auto_connect: bool
    max_attachments: int
    json: JSONOption | None
    random: Callable[[], float] | None
    stream_factory: StreamFactory | None


class Manager(trio.abc.AsyncResource):
    """One Engine.IO connection shared by the sockets of several namespaces.

    Use it with ``async with``; its background tasks (the connection, handlers, reconnection)
    run inside it. Options are socket.io-client's, in Python naming (seconds, not ms).

    Args:
        url: ``http(s)://host:port``; its query is sent with every request.
        path: the server's path (``/socket.io``).
        transports: ``("polling", "websocket")`` (polling, then upgrade), ``("websocket",)``
            or ``("polling",)``.
        upgrade: try the upgrade from polling to WebSocket.
        query: extra query parameters; headers: extra HTTP headers (every request).
        ssl_verify: verify the server's certificate; ``False`` turns it off (logged).
        ssl_context: a TLS context of your own (e.g. a private CA).
        reconnection: reconnect when the connection is lost.
        reconnection_attempts: how many attempts before ``reconnect_failed``.
        reconnection_delay, reconnection_delay_max, randomization_factor: the backoff.
        connect_timeout: seconds to open the Engine.IO connection (Node's ``timeout``); ``None``
            for no limit. Past it: ``connect_error`` ``"timeout"``.
        auto_connect: ``socket()`` connects the sockets it makes.
        max_attachments: binary attachments allowed in one packet from the server.
        json: the JSON that writes and reads every packet's data, as ``Server``'s ``json``: a
            module with ``dumps`` and ``loads``, or an ``(encode, decode)`` pair.
        random: the random source of the backoff jitter (floats in ``[0, 1)``).
        stream_factory: how to open connections (tests use memory streams).
    """

    def __init__(
        self,
        url: str,
        *,
        path: str = "/socket.io",
        transports: Sequence[str] = ("polling", "websocket"),
        upgrade: bool = True,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        ssl_verify: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        reconnection: bool = True,
        reconnection_attempts: float = math.inf,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        connect_timeout: float | None = 20.0,
        auto_connect: bool = True,
        max_attachments: int = 10,
        json: JSONOption | None = None,
        random: Callable[[], float] | None = None,
        stream_factory: StreamFactory | None = None,
    ) -> None:
        tls = parse_url(url)[0]
        if tls and ssl_context is None:
            # Made once, so that turning verification off is logged once, not per attempt.
            ssl_context = make_ssl_context(ssl_verify)
        self.url = url
        self._engine_options: dict[str, Any] = dict(
            path=path, transports=tuple(transports), upgrade=upgrade, query=query,
            headers=headers, ssl_verify=ssl_verify, ssl_context=ssl_context,
            stream_factory=stream_factory)
        self.reconnection = reconnection
        self.reconnection_attempts = reconnection_attempts
        self.connect_timeout = connect_timeout
        self.auto_connect = auto_connect
        self.max_attachments = max_attachments
        self.json: JSONCodec | None = None if json is None else as_codec(json)
        self.backoff = Backoff(reconnection_delay, reconnection_delay_max, randomization_factor,
                               random=random or _random.random)
        self.engine: EngineClient | None = None
        self._conn: ClientConnection | None = None
        self._sockets: dict[str, ClientSocket] = {}
        self._handlers: dict[str, list[Handler]] = {}
        self._nursery: trio.Nursery | None = None
        self._stack = contextlib.AsyncExitStack()
        self._dispatcher: Dispatcher | None = None
        self._running = False
        self._skip_reconnect = False
        self._run_scope: trio.CancelScope | None = None
        self._close_reason: str | None = None
        self._closed = False
        self._reopen = False

    async def __aenter__(self) -> Manager:
        await self._stack.__aenter__()
        try:
            self._nursery = await self._stack.enter_async_context(trio.open_nursery())
        except BaseException:
            await self._stack.aclose()
            raise
        self._dispatcher = Dispatcher(self.start_soon, self._failed, DISPATCH_QUEUE)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The body's exception is not handed to the nursery, so it propagates as itself rather
        # than wrapped in an ExceptionGroup.
        try:
            await self.aclose()
        finally:
            await self._stack.__aexit__(None, None, None)

    async def aclose(self) -> None:
        """Disconnect every socket (``"io client disconnect"``), close the connection gracefully
        and stop every background task. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            for socket in list(self._sockets.values()):
                if socket.connected:
                    await socket.disconnect()
            self.disconnect()
            engine = self.engine
            if engine is not None:
                with trio.move_on_after(_CLOSE_WAIT) as scope:
                    scope.shield = True
                    await engine.wait_finished()
        finally:
            error = ConnectionError("the client is closed")
            for socket in self._sockets.values():
                socket.handle_manager_closed(error)
            if self._nursery is not None:
                self._nursery.cancel_scope.cancel()

    def disconnect(self) -> None:
        """Close the connection for good (reason ``"forced close"`` for the sockets still on
        it); no reconnection follows."""
        self._skip_reconnect = True
        if self.engine is not None and not self.engine.closed:
            self.engine.close()
        elif self._run_scope is not None:
            self._run_scope.cancel()

    @property
    def is_open(self) -> bool:
        """Whether the Engine.IO connection is open."""
        return self._conn is not None and not self._conn.closed and self.engine is not None \
            and not self.engine.closed

    @property
    def transport(self) -> str | None:
        """The Engine.IO transport in use (``"polling"`` or ``"websocket"``), if open."""
        return self.engine.transport if self.is_open and self.engine is not None else None

    def socket(
        self,
        namespace: str = "/",
        *,
        auth: Auth = None,
        ack_timeout: float | None = None,
        retries: int = 0,
    ) -> ClientSocket:
        """The socket for ``namespace`` (made on first use, connecting if ``auto_connect``).

        Raises:
            RuntimeError: the manager is not entered (``async with``) or already closed.
        """
        if self._nursery is None or self._closed:
            raise RuntimeError("use the Manager inside `async with`")
        if not namespace.startswith("/"):
            namespace = "/" + namespace
        socket = self._sockets.get(namespace)
        if socket is None:
            socket = ClientSocket(self, namespace, auth=auth, ack_timeout=ack_timeout,
                                  retries=retries)
            self._sockets[namespace] = socket
            if self.auto_connect:
                socket.connect()
        elif self.auto_connect and not socket.active:
            socket.connect()
        return socket

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler`` for a manager event; without ``handler``, a decorator."""
        def register(fn: Handler) -> Handler:
            self._handlers.setdefault(event, []).append(fn)
            return fn

        return register if handler is None else register(handler)

    def _fire(self, event: str, *args: Any) -> None:
        assert self._dispatcher is not None
        for handler in self._handlers.get(event, []):
            self._dispatcher.submit_nowait(event, partial(call_handler, handler, args, None))

    def _failed(self, event: str) -> None:
        log.exception("manager handler of %r failed (%s)", event, self.url)

    def _active(self) -> list[ClientSocket]:
        return [s for s in self._sockets.values() if s.active]

    @property
    def closed(self) -> bool:
        """Whether ``aclose`` has begun."""
        return self._closed

    @property
    def running(self) -> bool:
        """Whether the manager is connected or trying to connect (it stops for good after a
        deliberate ``disconnect``, or when reconnection gave up)."""
        return self._running

    @property
    def connection(self) -> ClientConnection | None:
        """The Socket.IO core of the current Engine.IO connection (``None`` before the first);
        its sockets send through it, then call ``flush``."""
        return self._conn

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``fn(*args)`` in a task of the manager (its sockets' handlers, retries, auth)."""
        assert self._nursery is not None
        self._nursery.start_soon(fn, *args)

    def open(self) -> None:
        """Connect, unless connected or connecting (``socket.connect()`` calls it)."""
        if self._closed:
            return
        if self._running:
            if self._skip_reconnect:
                # Still closing after a deliberate disconnect: open again straight after.
                self._skip_reconnect = False
                self._reopen = True
            return
        assert self._nursery is not None
        self._running = True
        self._skip_reconnect = False
        self._nursery.start_soon(self._run)

    def release(self, socket: ClientSocket) -> None:
        """``socket`` stopped for good: close the connection if no socket is active now."""
        if not self._active():
            self.disconnect()

    def send_connect(self, namespace: str, auth: dict[str, Any] | None) -> None:
        """Ask to join ``namespace`` with ``auth``, if the connection is open and it is not
        joined or joining."""
        conn = self._conn
        if conn is None or conn.closed or not self.is_open:
            return
        if conn.state(namespace) is not NamespaceState.IDLE:
            return
        conn.connect(namespace, auth)
        self.flush()

    def flush(self) -> None:
        """Send what the connection's core queued."""
        if self._conn is None or self.engine is None:
            return
        for message in self._conn.take_messages():
            self.engine.send(message)

    async def _run(self) -> None:
        try:
            with trio.CancelScope() as self._run_scope:
                await self._connect_loop()
        finally:
            self._run_scope = None
            self._running = False
            reopen, self._reopen = self._reopen, False
            if reopen and self._active():
                self.open()
            else:
                for socket in self._sockets.values():
                    socket.handle_gave_up()

    async def _connect_loop(self) -> None:
        reconnecting = False
        while not self._skip_reconnect:
            if reconnecting:
                if self.backoff.attempts >= self.reconnection_attempts:
                    self.backoff.reset()
                    self._fire("reconnect_failed")
                    return
                await trio.sleep(self.backoff.duration())
                if self._skip_reconnect:
                    return
                self._fire("reconnect_attempt", self.backoff.attempts)
            error = await self._open_engine()
            if error is not None:
                self._fire("error", error)
                for socket in self._active():
                    socket.handle_connect_error(error)
                if reconnecting:
                    self._fire("reconnect_error", error)
                if not self.reconnection:
                    return
                reconnecting = True
                continue
            if reconnecting:
                attempts = self.backoff.attempts
                self.backoff.reset()
                self._fire("reconnect", attempts)
            reconnecting = False
            await self._serve_engine()
            self.backoff.reset()
            if self._reopen:
                self._reopen = False
                continue
            if not self.reconnection:
                return
            reconnecting = True

    async def _open_engine(self) -> ConnectError | None:
        assert self._nursery is not None
        conn = ClientConnection(max_attachments=self.max_attachments, json=self.json)
        engine = EngineClient(self.url, on_message=partial(self._on_message, conn),
                              **self._engine_options)
        self._conn, self.engine, self._close_reason = conn, engine, None
        limit = math.inf if self.connect_timeout is None else self.connect_timeout
        try:
            with trio.fail_after(limit):
                await self._nursery.start(engine.run)
        except ConnectionFailed as failure:
            conn.close(ClientDisconnectReason.TRANSPORT_ERROR)
            error = ConnectError(failure.message, failure.description)
            error.__cause__ = failure
            return error
        except trio.TooSlowError:
            conn.close(ClientDisconnectReason.TRANSPORT_ERROR)
            return ConnectError("timeout")
        return None

    async def _serve_engine(self) -> None:
        engine, conn = self.engine, self._conn
        assert engine is not None and conn is not None
        self._fire("open")
        for socket in self._active():
            socket.handle_open()
        reason = await engine.wait_closed()
        reason = self._close_reason or reason or ClientDisconnectReason.TRANSPORT_CLOSE
        conn.close(reason)
        for socket in self._sockets.values():
            if socket.connected:
                socket.handle_close(reason)
        self._fire("close", reason)

    def _on_message(
        self, conn: ClientConnection, data: str | bytes
    ) -> Awaitable[None] | None:
        """The engine's receiver: returns what the reader must await while a socket's handlers
        are behind (it then reads no more: the server's packets wait in the transport)."""
        if conn is not self._conn or conn.closed:
            return None
        try:
            events = conn.receive_message(data, now=trio.current_time())
        except RemoteProtocolError:
            # socket.io-client's Manager closes with "parse error" (and then reconnects).
            self._close_reason = ClientDisconnectReason.PARSE_ERROR
            if self.engine is not None:
                self.engine.close()
            return None
        return self._hand_out(conn, events)

    def _hand_out(
        self, conn: ClientConnection, events: Sequence[ClientEvent]
    ) -> Awaitable[None] | None:
        for index, event in enumerate(events):
            socket = self._sockets.get(event.namespace)
            if socket is not None and socket.active:
                rest = socket.handle_packet(event, conn)
                if rest is not None:
                    self.flush()
                    return self._hand_out_after(rest, conn, events[index + 1:])
        self.flush()
        return None

    async def _hand_out_after(
        self, rest: Awaitable[None], conn: ClientConnection, events: Sequence[ClientEvent]
    ) -> None:
        await rest
        if conn is self._conn and not conn.closed:
            more = self._hand_out(conn, events)
            if more is not None:
                await more


@contextlib.asynccontextmanager
async def connect(
    url: str,
    *,
    namespace: str | None = None,
    auth: Auth = None,
    ack_timeout: float | None = None,
    retries: int = 0,
    wait: bool = True,
    **options: Unpack[ManagerOptions],
) -> AsyncIterator[ClientSocket]:
    """Connect to a Socket.IO server (socket.io-client's ``io(url, options)``).

    The namespace is ``namespace``, else the URL's path (``http://h/admin`` joins ``/admin``).
    With ``wait`` (the default) the socket is connected when the block starts; otherwise it
    connects in the background (emits are buffered meanwhile). Leaving the block disconnects.
    The other options are ``Manager``'s.

    Raises:
        ConnectError: with ``wait``, the first attempt failed (``message`` and ``data`` of the
            ``connect_error``).
    """
    url_path = parse_url(url)[3]
    manager = Manager(url, **options)
    async with manager:
        socket = manager.socket(namespace or url_path or "/", auth=auth,
                                ack_timeout=ack_timeout, retries=retries)
        if wait:
            await socket.wait_connected()
        yield socket
