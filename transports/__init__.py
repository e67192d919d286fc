"""HTTP/1.1 (h11), long-polling and WebSocket (wsproto) on trio sockets; no Engine.IO knowledge.

Server: ``serve_http``/``handle_stream`` call a handler with each ``Request``, which answers with
``respond`` or turns into a ``WebSocket`` with ``accept_websocket``. ``Request`` and
``WebSocket`` are Protocols: our HTTP/1.1 server's ``HTTPRequest`` and ``StreamWebSocket`` are
one implementation, an ASGI server's (``transports.asgi``) another. Client: ``HTTPConnection``
(``http_request``) and ``connect_websocket`` over a stream from ``open_stream``.
"""

from ._config import HTTPConfig
from ._errors import (
    BadRequest,
    BodyTooLarge,
    HTTPClientError,
    HTTPError,
    RequestTimeout,
    TransportError,
    WebSocketClosed,
)
from ._interfaces import HeaderList, Request, WebSocket
from .http_client import HTTPConnection, HTTPResponse, http_request, open_stream
from .http_server import Handler, HTTPRequest, handle_stream, serve_http
from .websocket import StreamWebSocket, connect_websocket, frame_message

__all__ = [
    "BadRequest",
    "BodyTooLarge",
    "HTTPClientError",
    "HTTPConfig",
    "HTTPConnection",
    "HTTPError",
    "HTTPRequest",
    "HTTPResponse",
    "Handler",
    "HeaderList",
    "Request",
    "RequestTimeout",
    "StreamWebSocket",
    "TransportError",
    "WebSocket",
    "WebSocketClosed",
    "connect_websocket",
    "frame_message",
    "handle_stream",
    "http_request",
    "open_stream",
    "serve_http",
]
