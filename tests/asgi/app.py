"""The interop contract server (tests/interop/app.py), mounted with ``ASGIApp`` next to a plain
ASGI app, for ``hypercorn -k trio tests.asgi.app:app``."""

from __future__ import annotations

from socketio_core import ASGIApp
from socketio_core.asgi import Receive, Scope, Send
from tests.interop.app import build

lifespan_events: list[str] = []


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    """The "existing" application: answers every HTTP path with where it was asked."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            lifespan_events.append(message["type"])
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = f"hello from the other app at {scope['path']}; lifespan {lifespan_events}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


app = ASGIApp(build(), other_app=hello)
no_other = ASGIApp(build())
