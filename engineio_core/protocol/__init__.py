"""Sans-IO Engine.IO v4: codecs, request checks and session state machines.

Nothing here performs I/O, reads the clock or draws random numbers.
"""

from __future__ import annotations

from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]
