"""Sans-IO Socket.IO v5: packet codec, binary attachments, connection state, rooms.

Nothing here performs I/O, reads the clock or draws random numbers.
"""

from __future__ import annotations

from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]
