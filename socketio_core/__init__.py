"""Socket.IO v5 on trio: the Sans-IO core in ``protocol`` and the user API around it.

The runtime names are imported lazily, so ``import socketio_core.protocol`` (the pure core)
does not pull in trio, h11 or wsproto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import AckCollector, Adapter, InMemoryAdapter
    from .asgi import ASGIApp
    from .broadcast import BroadcastOperator, RemoteSocket
    from .client import ClientSocket, Manager, connect
    from .errors import AckTimeoutError, ConnectError
    from .handlers import Ack
    from .handshake import Handshake
    from .namespace import Namespace
    from .server import Server
    from .socket import Socket
    from .static import ClientBundleNotFound

_EXPORTS = {
    "ASGIApp": "asgi",
    "Ack": "handlers",
    "AckCollector": "adapter",
    "AckTimeoutError": "errors",
    "Adapter": "adapter",
    "BroadcastOperator": "broadcast",
    "ClientSocket": "client",
    "ClientBundleNotFound": "static",
    "ConnectError": "errors",
    "Handshake": "handshake",
    "InMemoryAdapter": "adapter",
    "Manager": "client",
    "Namespace": "namespace",
    "RemoteSocket": "broadcast",
    "Server": "server",
    "Socket": "socket",
    "connect": "client",
}
__all__ = [
    "ASGIApp",
    "Ack",
    "AckCollector",
    "AckTimeoutError",
    "Adapter",
    "BroadcastOperator",
    "ClientBundleNotFound",
    "ClientSocket",
    "ConnectError",
    "Handshake",
    "InMemoryAdapter",
    "Manager",
    "Namespace",
    "RemoteSocket",
    "Server",
    "Socket",
    "connect",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'socketio_core' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
