"""Socket.IO shares the Engine.IO exception family, so a runtime catches one base class."""

from __future__ import annotations

from engineio_core.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]
