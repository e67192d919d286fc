"""The one exception family of the protocol cores.

Every error knows what the runtime must do about it: the close reason to report
(spelled as the Node reference spells it), the HTTP status to answer a request
with, and the WebSocket close code to send. Before a core raises, it has already
moved itself to its closed state and queued whatever the peer should be told.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class of every error raised by ``engineio_core.protocol`` and
    ``socketio_core.protocol``.

    Attributes:
        reason: the close reason to report, e.g. ``"parse error"``.
        http_status: the HTTP status to answer the current request with, if any.
        ws_close_code: the WebSocket close code to send, if any.
        code: the Engine.IO error code (0-5) for a rejected HTTP request, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str = "parse error",
        http_status: int | None = 400,
        ws_close_code: int | None = 1002,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.http_status = http_status
        self.ws_close_code = ws_close_code
        self.code = code


class LocalProtocolError(ProtocolError):
    """Our caller misused the API (e.g. sent on a closed session)."""


class RemoteProtocolError(ProtocolError):
    """The peer misbehaved (malformed data, a forbidden transition)."""
