"""HTTP/1.1 (h11), long-polling and WebSocket (wsproto) on trio sockets; no Engine.IO knowledge.

Server: ``serve_http``/``handle_stream`` call a handler with each ``Request``, which answers with
``respond`` or turns into a ``WebSocket`` with ``accept_websocket``. Client: ``HTTPConnection``
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
from .http_client import HTTPConnection, HTTPResponse, http_request, open_stream
from .http_server import Handler, HeaderList, Request, handle_stream, serve_http
from .websocket import WebSocket, connect_websocket, frame_message

ConnectionClosed = WebSocketClosed

__all__ = [
    "BadRequest",
    "BodyTooLarge",
    "ConnectionClosed",
    "HTTPClientError",
    "HTTPConfig",
    "HTTPConnection",
    "HTTPError",
    "HTTPResponse",
    "Handler",
    "HeaderList",
    "Request",
    "RequestTimeout",
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
