"""The Socket.IO server on trio: its options, namespaces, and serving.

Each Engine.IO session the engine accepts gets a ``Link`` (``link.py``), which owns that
session's Socket.IO core.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, overload

import trio

import engineio_core
from engineio_core.cors import CorsSetting
from transports import Handler as HTTPHandler
from transports import Request, serve_http

from .adapter import Adapter, InMemoryAdapter
from .broadcast import BroadcastOperator
from .handlers import H, Handler
from .interfaces import FetchedSocket, NamespaceLike
from .link import Link
from .namespace import Namespace, NamespaceMatcher
from .socket import Socket
from .static import ClientBundle, find_client_dist

__all__ = ["Server"]



def _default_sid() -> str:
    return secrets.token_urlsafe(15)


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
        adapter: Callable[[NamespaceLike], Adapter] = InMemoryAdapter,
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

    def namespace_for(self, name: str, auth: dict[str, Any]) -> Namespace | None:
        """The namespace a client asking for ``name`` (with ``auth``) joins: an existing one, or
        one made for a dynamic matcher that accepts it; ``None`` for an unknown name."""
        if name in self._namespaces:
            return self._namespaces[name]
        for matcher, parent in self._dynamic:
            matched = (
                matcher.fullmatch(name) is not None
                if isinstance(matcher, re.Pattern)
                else bool(matcher(name, auth))  # type: ignore[operator]
            )
            if matched:
                child = Namespace(self, name, self._adapter, on_empty=self._forget_child)
                child.dynamic = True
                child._handlers = parent._handlers
                child._middlewares = parent._middlewares
                self._namespaces[name] = child
                return child
        return None

    def _forget_child(self, namespace: Namespace) -> None:
        """A namespace made by a dynamic matcher has no socket left: forget it if
        ``cleanup_empty_child_namespaces``."""
        if (self.cleanup_empty_child_namespaces
                and self._namespaces.get(namespace.name) is namespace):
            del self._namespaces[namespace.name]

    @property
    def shutting_down(self) -> bool:
        """Whether ``aclose`` has begun: every socket leaves with ``server shutting down``."""
        return self._shutting_down

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

    async def fetch_sockets(self) -> list[FetchedSocket]:
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

    def _attach_engine_socket(self, engine: engineio_core.Socket) -> Link:
        return Link(self, engine)

