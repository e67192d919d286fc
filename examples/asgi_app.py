"""The chat server mounted next to another ASGI application, for an ASGI server on trio.

Run: ``hypercorn -k trio examples.asgi_app:app`` (``pip install 'hypercorn[trio]'``), then open
http://127.0.0.1:8000: the page comes from ``web_app`` below, ``/socket.io/`` from the chat.
"""

from __future__ import annotations

from socketio_core import ASGIApp
from socketio_core.asgi import Receive, Scope, Send

from .chat.server import STATIC, build

_TYPES = {"index.html": b"text/html", "chat.js": b"text/javascript", "chat.css": b"text/css"}


async def web_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands for your existing ASGI application (Starlette, Quart, ...): here, the chat page."""
    if scope["type"] != "http":
        return  # this tiny app has no lifespan work and takes no WebSockets
    name = "index.html" if scope["path"] == "/" else scope["path"].lstrip("/")
    if name not in _TYPES:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"Not Found"})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", _TYPES[name] + b"; charset=utf-8")]})
    await send({"type": "http.response.body", "body": (STATIC / name).read_bytes()})


app = ASGIApp(build(), other_app=web_app)
