"""Mount a Socket.IO server in any ASGI server that runs on trio (Hypercorn's trio worker).

``ASGIApp(server, other_app)`` answers the Socket.IO path (and the client bundle, with
``serve_client``) and passes every other request to ``other_app`` (404 without one)::

    app = ASGIApp(sio, other_app=my_web_app)
    # hypercorn -k trio mymodule:app

It runs on trio: under an ASGI server on asyncio (uvicorn) the lifespan startup fails, and
any request raises, with a ``RuntimeError`` that says so.

The server's session tasks need a trio nursery that outlives any one request: the app opens it
when the ASGI server runs the **lifespan** protocol (Hypercorn always does) and closes the
Socket.IO server on shutdown. ``other_app``'s own lifespan events are forwarded to it. Without
a lifespan, Socket.IO requests fail with a ``RuntimeError`` that says so.

Each ASGI ``http``/``websocket`` scope reaches the Engine.IO server as a ``transports.Request``
(``transports.asgi.ASGIRequest``), as a request of our own HTTP server does, so the engine's
drivers run unchanged.
"""

from __future__ import annotations

import logging

import trio

from transports import HTTPError, Request
from transports.asgi import ASGIApplication, ASGIRequest, Message, Receive, Scope, Send

from .server import Server

__all__ = ["ASGIApp", "ASGIApplication", "Receive", "Scope", "Send"]

log = logging.getLogger("socketio_core.asgi")

_NOT_TRIO = (
    "ASGIApp runs on trio, and this ASGI server runs applications on another event loop "
    "(asyncio: uvicorn, or hypercorn without -k trio). Serve it with an ASGI server on trio: "
    "`hypercorn -k trio module:app`."
)
_NO_LIFESPAN = (
    "ASGIApp: the Socket.IO server is not running; it starts with the ASGI lifespan "
    "protocol (lifespan.startup), which this ASGI server did not run or which failed. "
    "Run it under a server with lifespan support (e.g. `hypercorn -k trio module:app`)."
)


class ASGIApp:
    """An ASGI application serving ``server``, and ``other_app`` for every other path.

    Args:
        server: the Socket.IO server; started by the ASGI lifespan, closed at its shutdown.
        other_app: the ASGI application for requests that are not for Socket.IO (none: 404).
    """

    def __init__(self, server: Server, other_app: ASGIApplication | None = None) -> None:
        self.server = server
        self.other_app = other_app
        self._running = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if not trio.lowlevel.in_trio_run():
            if kind == "lifespan":  # the ASGI server then stops, with this message
                await receive()
                await send({"type": "lifespan.startup.failed", "message": _NOT_TRIO})
                return
            raise RuntimeError(_NOT_TRIO)
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind not in ("http", "websocket"):
            raise ValueError(f"ASGIApp: unsupported ASGI scope type {kind!r}")
        request = ASGIRequest(scope, receive, send,
                              max_message_size=self.server.engine.http_config.max_message_size)
        if self._ours(request):
            if not self._running:
                raise RuntimeError(_NO_LIFESPAN)
            try:
                await self.server.handle_request(request)
            except HTTPError as error:
                if not request.responded:
                    await request.respond(error.status, [("Content-Type", "text/plain")],
                                          str(error).encode())
            return
        if self.other_app is not None:
            await self.other_app(scope, receive, send)
        else:
            await request.respond(404, [("Content-Type", "text/plain")], b"Not Found")

    def _ours(self, request: Request) -> bool:
        bundle = self.server.client_bundle
        return self.server.engine.owns(request) or (
            bundle is not None and bundle.owns(request))

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        async with trio.open_nursery() as nursery:
            self.server.engine.use_nursery(nursery)
            other = None
            if self.other_app is not None:
                other = _ForwardedLifespan(self.other_app, scope)
                failure = await other.start(nursery)
                if failure is not None:
                    await send({"type": "lifespan.startup.failed", "message": failure})
                    nursery.cancel_scope.cancel()
                    return
            self._running = True
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            self._running = False
            failure = await other.stop() if other is not None else None
            await self.server.aclose()
            nursery.cancel_scope.cancel()
        if failure is not None:
            await send({"type": "lifespan.shutdown.failed", "message": failure})
        else:
            await send({"type": "lifespan.shutdown.complete"})


class _ForwardedLifespan:
    """``other_app``'s lifespan, run beside ours: it sees startup and shutdown, and we wait
    for its answers. An app that raises on lifespan does not support it (ASGI spec), which
    is fine."""

    def __init__(self, app: ASGIApplication, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.to_app, self._app_inbox = trio.open_memory_channel[Message](2)
        self._replies, self.from_app = trio.open_memory_channel[Message](2)
        self.supported = True

    async def _run(self) -> None:
        async def receive() -> Message:
            return await self._app_inbox.receive()

        async def send(message: Message) -> None:
            await self._replies.send(message)

        try:
            await self.app(self.scope, receive, send)
        except Exception:
            log.debug("other_app does not run the lifespan protocol", exc_info=True)
        finally:
            self.supported = False
            self._replies.close()

    async def _exchange(self, kind: str) -> str | None:
        if not self.supported:
            return None
        await self.to_app.send({"type": f"lifespan.{kind}"})
        try:
            reply = await self.from_app.receive()
        except trio.EndOfChannel:
            return None
        if reply["type"].endswith(".failed"):
            return str(reply.get("message", ""))
        return None

    async def start(self, nursery: trio.Nursery) -> str | None:
        nursery.start_soon(self._run)
        return await self._exchange("startup")

    async def stop(self) -> str | None:
        return await self._exchange("shutdown")
