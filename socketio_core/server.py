"""The Socket.IO server on trio: its options, namespaces, and serving.

Each Engine.IO session the engine accepts gets a ``Link`` (``link.py``), which owns that
session's Socket.IO core.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import ssl
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import Any, Unpack, overload

import trio

import engineio_core
from engineio_core.ids import random_id
from engineio_core.options import ServerOptions
from transports import Handler as HTTPHandler
from transports import Request, serve_http

from . import _gc
from ._stop_signals import StopSignals, stop_signals
from .adapter import Adapter, InMemoryAdapter
from .broadcast import BroadcastOperator
from .handlers import H, Handler
from .interfaces import FetchedSocket, NamespaceLike
from .link import Link
from .namespace import Namespace, NamespaceMatcher
from .protocol import JSONCodec, JSONOption, as_codec
from .protocol.recovery import ConnectionStateRecovery, recovery_options
from .protocol.rooms import Rooms
from .recovery import SessionAwareAdapter
from .socket import Socket
from .static import ClientBundle, find_client_dist

__all__ = ["Server"]

log = logging.getLogger("socketio_core")


def server_ssl_context(
    certfile: str | os.PathLike[str] | None, keyfile: str | os.PathLike[str] | None = None
) -> ssl.SSLContext:
    """A server-side TLS context serving ``certfile`` (a PEM chain) with ``keyfile`` (its
    private key, when not in ``certfile``), for HTTP/1.1.

    Raises:
        OSError: a file is missing or unreadable, or holds no usable certificate or key
            (``ssl.SSLError``).
    """
    if certfile is None:
        raise FileNotFoundError("a TLS key needs its certificate (ssl_certfile)")
    for path in (certfile, keyfile):
        if path is not None and not os.path.isfile(path):  # ssl's error would not name it
            raise FileNotFoundError(errno.ENOENT, "no such file", os.fspath(path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["http/1.1"])
    return context


class Server(trio.abc.AsyncResource):
    """A Socket.IO v5 server, with the options of Node's ``Server`` in Python naming.

    Args:
        path: where the server answers (``/socket.io/``).
        connect_timeout: seconds a client has to join a namespace after the Engine.IO handshake.
        max_attachments: binary attachments allowed in one packet (Node: 10).
        max_buffered_bytes: per-client outbound high-water mark: ``await emit`` (and an
            awaited broadcast, for each client it reaches) waits above it, volatile emits are
            dropped while anything is queued, and a client is disconnected
            (``"transport error"``) when its queue passes four times it, or when it takes
            nothing for the engine's ``stall_timeout`` (2 s) while an emit waits for it.
        adapter: what makes each namespace's adapter: an ``Adapter`` class, or a factory
            ``namespace -> Adapter`` (a cluster adapter bound to its connection); see
            docs/adapter.md. By default ``InMemoryAdapter``, or ``SessionAwareAdapter`` with
            connection state recovery.
        connection_state_recovery: recover a client that lost its connection (Node's
            ``connectionStateRecovery``): ``True`` (or ``{}``) for the defaults, a mapping of
            ``max_disconnection_duration`` (seconds, 120), ``skip_middlewares`` (``True``),
            ``max_packets`` and ``max_bytes`` (the in-memory history's bounds), or a
            ``ConnectionStateRecovery``. See docs/recovery.md.
        cleanup_empty_child_namespaces: forget a namespace made by a dynamic matcher once its
            last socket leaves (off by default, as in Node; without it, each name a client
            connects to stays).
        serve_client: serve the official browser client at ``<path>/socket.io.js`` (and
            ``.min.js``, ``.esm.min.js``, ``.msgpack.min.js``, ``.map``) from an installed npm
            ``socket.io-client``: ``True`` looks for ``node_modules`` in the current directory
            and its parents, a path names a ``node_modules`` (or package) directory. Raises
            ``ClientBundleNotFound`` here when it is missing.
        max_http_buffer_size: the largest message or polling body accepted, and the largest
            binary attachment (bytes).
        sid_factory: makes socket ids (20 characters of a CSPRNG by default, as Node's).
        json: the JSON that writes and reads every packet's data, as python-socketio's
            ``json``: a module with ``dumps`` and ``loads`` (called as
            ``dumps(obj, separators=(",", ":"))`` and ``loads(text)``), or an
            ``(encode, decode)`` pair of one-argument callables. By default, JSON as
            ``JSON.stringify`` writes it, and a value it cannot hold raises ``TypeError``.
            Binary values are sent as attachments either way. See docs/json.md.
        engine_options: the options of ``engineio_core.Server`` (``ServerOptions``:
            ``ping_interval``, ``ping_timeout``, ``upgrade_timeout``, ``transports``,
            ``allow_upgrades``, ``cors_allowed_origins``, ``cors_credentials``, ``cookie``,
            ``allow_request``, ``per_message_deflate``, ``http_compression``,
            ``max_buffered_bytes``, ``forwarded_allow_ips``), passed on as they are.
            ``forwarded_allow_ips`` names the reverse proxies (addresses, networks, or ``"*"``)
            whose ``X-Forwarded-For`` gives ``socket.handshake.address`` (and
            ``X-Forwarded-Proto``, ``handshake.secure``); no one by default. See
            docs/deployment.md.
    """

    def __init__(
        self,
        *,
        path: str = "/socket.io",
        connect_timeout: float = 45.0,
        max_http_buffer_size: int = 1_000_000,
        max_attachments: int = 10,
        adapter: Callable[[NamespaceLike], Adapter] | None = None,
        connection_state_recovery: bool | Mapping[str, Any] | ConnectionStateRecovery | None
        = None,
        cleanup_empty_child_namespaces: bool = False,
        sid_factory: Callable[[], str] = random_id,
        serve_client: bool | str | os.PathLike[str] = False,
        json: JSONOption | None = None,
        **engine_options: Unpack[ServerOptions],
    ) -> None:
        #: The application's JSON codec (``json=``), or ``None`` for the built-in one.
        self.json: JSONCodec | None = None if json is None else as_codec(json)
        self.client_bundle: ClientBundle | None = None
        if serve_client is not False:
            where = None if serve_client is True else serve_client
            self.client_bundle = ClientBundle(find_client_dist(where), path)
        self.connect_timeout = connect_timeout
        self.max_attachments = max_attachments
        self.max_http_buffer_size = max_http_buffer_size
        self.sid_factory = sid_factory
        #: The connection state recovery options, ``None`` when it is off.
        self.connection_state_recovery = recovery_options(connection_state_recovery)
        if adapter is None:
            adapter = (InMemoryAdapter if self.connection_state_recovery is None
                       else SessionAwareAdapter)
        self._adapter = adapter
        self.cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        self.engine = engineio_core.Server(
            attach=self._attach_engine_socket, path=path,
            max_http_buffer_size=max_http_buffer_size, **engine_options)
        self._namespaces: dict[str, Namespace] = {"/": Namespace(self, "/", adapter)}
        main = self._namespaces["/"].adapter
        if self.connection_state_recovery is not None and not main.keeps_sessions:
            log.warning("connection state recovery is on, but %s keeps no sessions: no client "
                        "will be recovered", type(main).__name__)
        self._dynamic: list[tuple[NamespaceMatcher, Namespace]] = []
        self._new_namespace: list[Handler] = []
        self._shutting_down = False
        #: The signal (SIGINT or SIGTERM) that made ``serve`` close the server, if one did.
        self.shutdown_signal: signal.Signals | None = None
        self._closed = trio.Event()

    def of(self, name: NamespaceMatcher) -> Namespace:
        """The namespace ``name``, created on first use. A compiled regex or a callable
        ``(name, auth) -> bool`` declares dynamic namespaces: each matching name becomes a
        namespace sharing this one's handlers and middlewares."""
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            namespace = self._namespaces.get(name)
            if namespace is None:
                namespace = self._namespaces[name] = Namespace(self, name, self._adapter)
                self._created(namespace)
            return namespace
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
                child = Namespace(self, name, self._adapter, parent=parent,
                                  on_empty=self._forget_child)
                self._namespaces[name] = child
                self._created(child)
                return child
        return None

    def _created(self, namespace: Namespace) -> None:
        for handler in self._new_namespace:
            handler(namespace)

    def _forget_child(self, namespace: Namespace) -> None:
        """A namespace made by a dynamic matcher has no socket left: forget it and close its
        adapter if ``cleanup_empty_child_namespaces`` (as Node does)."""
        if (self.cleanup_empty_child_namespaces
                and self._namespaces.get(namespace.name) is namespace):
            del self._namespaces[namespace.name]
            namespace.adapter.close()

    @property
    def shutting_down(self) -> bool:
        """Whether ``aclose`` has begun: every socket leaves with ``server shutting down``."""
        return self._shutting_down

    @property
    def namespaces(self) -> Mapping[str, Namespace]:
        """The namespaces by name: those made by ``of(name)``, and those made for a dynamic
        matcher (not the matchers' own). Read-only: ``of`` makes one."""
        return MappingProxyType(self._namespaces)

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
        """Register a handler on the main namespace, as ``Namespace.on``; or, for
        ``"new_namespace"`` (as Node's), a plain function called with each namespace made from
        now on (by ``of``, or for a dynamic matcher)."""
        if event == "new_namespace":
            def register(fn: Handler) -> Handler:
                self._new_namespace.append(fn)
                return fn

            return register(handler) if handler is not None else register
        if handler is None:
            return self._namespaces["/"].on(event)
        return self._namespaces["/"].on(event, handler)

    def event(self, handler: Handler) -> Handler:
        """Decorator: ``@sio.event`` registers ``handler(socket, *args)`` under its name."""
        return self._namespaces["/"].event(handler)

    @overload
    def on_server_event(self, event: str) -> Callable[[H], H]: ...
    @overload
    def on_server_event(self, event: str, handler: H) -> H: ...

    def on_server_event(self, event: str, handler: Handler | None = None) -> Any:
        """A server-side event listener on the main namespace (see
        ``Namespace.on_server_event``)."""
        if handler is None:
            return self._namespaces["/"].on_server_event(event)
        return self._namespaces["/"].on_server_event(event, handler)

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send a server-side event to the other servers (see ``Namespace.server_side_emit``)."""
        await self._namespaces["/"].server_side_emit(event, *args)

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send a server-side event and gather the other servers' answers (see
        ``Namespace.server_side_emit_with_ack``)."""
        return await self._namespaces["/"].server_side_emit_with_ack(event, *args)

    async def server_count(self) -> int:
        """How many servers share the main namespace."""
        return await self._namespaces["/"].server_count()

    def use(self, middleware: Handler) -> Handler:
        """A connection middleware on the main namespace (see ``Namespace.use``)."""
        return self._namespaces["/"].use(middleware)

    def to(self, *rooms: Rooms) -> BroadcastOperator:
        """Every socket of the main namespace in ``rooms`` (Node's ``io.to``): room names, or
        iterables of them (``sio.to(["a", "b"])``)."""
        return self._namespaces["/"].to(*rooms)

    in_ = to

    def except_(self, *rooms: Rooms) -> BroadcastOperator:
        """Every socket of the main namespace not in ``rooms`` (names, or iterables of names)."""
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

    def sockets_join(self, *rooms: Rooms) -> None:
        """Make every socket of the main namespace join ``rooms`` (names, or lists of names)."""
        self._namespaces["/"].sockets_join(*rooms)

    def sockets_leave(self, *rooms: Rooms) -> None:
        """Make every socket of the main namespace leave ``rooms`` (names, or lists of names)."""
        self._namespaces["/"].sockets_leave(*rooms)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket (``close``: their whole connection)."""
        await self._namespaces["/"].disconnect_sockets(close)

    async def serve(
        self,
        host: str | None = "127.0.0.1",
        port: int = 0,
        *,
        other: HTTPHandler | None = None,
        ssl_certfile: str | os.PathLike[str] | None = None,
        ssl_keyfile: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        handle_signals: bool = True,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` and serve until closed, cancelled or stopped by a signal.

        ``task_status.started`` reports the listeners: with port 0, read the port picked with
        ``listeners[0].socket.getsockname()[1]``.

        Args:
            host: the address to bind; ``None`` binds every interface.
            port: the port; 0 picks a free one.
            other: answers the requests that are not for Socket.IO (as Node's ``io.attach``
                leaves them to the HTTP server's own listeners); without it they get 404.
            ssl_certfile: serve HTTPS (and WSS) with this PEM certificate chain.
            ssl_keyfile: the PEM private key of ``ssl_certfile`` (when not in that file).
            ssl_context: a server-side ``ssl.SSLContext`` to use instead of the two files.
            handle_signals: on SIGINT (Ctrl-C) or SIGTERM, close the server as ``aclose`` does
                (every client is told; disconnect handlers see ``"server shutting down"``) and
                return; ``shutdown_signal`` then names the signal. A second signal while
                closing is left to the program (a second Ctrl-C raises ``KeyboardInterrupt``).
                Signals reach only the main thread: elsewhere this does nothing.

        Raises:
            OSError: the address cannot be listened on (such as a port in use), or the
                certificate or key cannot be loaded (``ssl.SSLError``, ``FileNotFoundError``):
                raised as itself, before anything is served.
        """
        if ssl_context is None and (ssl_certfile is not None or ssl_keyfile is not None):
            ssl_context = server_ssl_context(ssl_certfile, ssl_keyfile)
        listeners = await trio.open_tcp_listeners(port, host=host)
        stops = stop_signals() if handle_signals else None
        if stops is not None:
            stops.enter()
        try:
            async with trio.open_nursery() as nursery:
                self.engine.use_nursery(nursery)
                handler = partial(self._handle_or_fallback, other)
                await nursery.start(partial(
                    serve_http, handler, host, port, listeners=listeners,
                    config=self.engine.http_config, ssl_context=ssl_context))
                scheme = "http" if ssl_context is None else "https"
                for listener in listeners:
                    address = listener.socket.getsockname()
                    shown = f"[{address[0]}]" if ":" in address[0] else address[0]
                    log.info("listening on %s://%s:%d%s", scheme, shown, address[1],
                             self.engine.path)
                if stops is not None:
                    nursery.start_soon(self._stop_on_signal, stops)
                task_status.started(listeners)
        finally:
            if stops is not None:
                stops.exit()

    async def _stop_on_signal(self, stops: StopSignals) -> None:
        await stops.received.wait()
        assert stops.signum is not None
        self.shutdown_signal = stops.signum
        log.info("%s: shutting down", stops.signum.name)
        await self.aclose()

    def run(self, host: str | None = "127.0.0.1", port: int = 8000, *,
            gc_threshold: Sequence[int] | None = None, **options: Any) -> None:
        """Serve from a script until Ctrl-C or SIGTERM, as ``uvicorn.run`` does: ``serve``
        (the same options) under ``trio.run``.

        Either signal closes the server cleanly (see ``serve``). After Ctrl-C the program then
        exits with status 130, as on a ``KeyboardInterrupt``, without its traceback (by raising
        ``SystemExit(130)``); after SIGTERM this returns.

        ``gc_threshold``: the garbage collector's thresholds while serving
        (``gc.set_threshold``, restored after), such as ``(700, 10, 1000)``: full collections,
        which pause the whole process for longer the more connections it holds, become that
        much rarer. Off by default; see ``docs/deployment.md`` for when it is safe.
        """
        with _gc.gc_threshold(gc_threshold):
            trio.run(partial(self.serve, host, port, **options))
        if self.shutdown_signal == signal.SIGINT:
            raise SystemExit(128 + signal.SIGINT)

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
        self._closed.set()

    async def wait_closed(self) -> None:
        """Wait until the server is closed (by ``aclose``, or by ``serve`` on a signal)."""
        await self._closed.wait()

    def _attach_engine_socket(self, engine: engineio_core.Socket) -> Link:
        return Link(self, engine)

