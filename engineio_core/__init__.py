"""Engine.IO v4 on trio: the Sans-IO core in ``protocol`` and the runtime around it.

The runtime names are imported lazily, so ``import engineio_core.protocol`` (the pure core)
does not pull in trio, h11 or wsproto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client, ConnectionFailed
    from .server import AllowRequest, Application, Handshake, Server, Socket, SocketHandler

__all__ = [
    "AllowRequest", "Application", "Client", "ConnectionFailed", "Handshake", "Server", "Socket",
    "SocketHandler",
]
_CLIENT_NAMES = frozenset({"Client", "ConnectionFailed"})


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from . import client

        return getattr(client, name)
    if name in __all__:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module 'engineio_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazy names too, for dir(), completion and documentation tools.
    return sorted({*globals(), *__all__})
