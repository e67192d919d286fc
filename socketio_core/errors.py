"""The exceptions of the Socket.IO runtime, server and client.

A leaf module: the client imports it without loading the server side.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AckTimeoutError", "ConnectError", "ServerSideEmitTimeoutError"]


class ConnectError(Exception):
    """A refused or failed connection to a namespace, with Node's ``message`` and ``data``.

    On the server, raised by a connection middleware to refuse a client (it gets
    ``connect_error`` with ``message`` and ``data``). On the client, what ``connect_error``
    handlers get and ``wait_connected`` raises: the server's refusal, or the connection's
    failure (``"xhr poll error"``, ``"websocket error"``, ``"timeout"``).
    """

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class AckTimeoutError(TimeoutError):
    """Not every selected socket acknowledged in time; ``responses`` holds those that did."""

    def __init__(self, responses: list[Any]) -> None:
        super().__init__("operation has timed out")
        self.responses = responses


class ServerSideEmitTimeoutError(TimeoutError):
    """Not every other server answered a ``server_side_emit_with_ack`` in time (Node's
    ``timeout reached: only N responses received out of M``); ``responses`` holds the answers
    that did arrive."""

    def __init__(self, message: str, responses: list[Any]) -> None:
        super().__init__(message)
        self.responses = responses
