"""Socket.IO v5 on trio: the Sans-IO core in ``protocol`` and the user API around it.

The user's names are here, as Node's ``socket.io`` and ``socket.io-client`` export theirs; what
adapter authors and tests need lives in the submodules that define it (``adapter``:
``Adapter``, ``InMemoryAdapter``, ``AckCollector``, ``Restoring``; ``recovery``:
``SessionAwareAdapter``; ``handshake``: ``Handshake``;
``handlers``: ``Ack``; ``static``: ``ClientBundleNotFound``; ``interfaces``: the Protocols).

The names are imported lazily, so ``import socketio_core.protocol`` (the pure core) does not
pull in trio, h11 or wsproto, and the client does not load the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .asgi import ASGIApp
    from .broadcast import BroadcastOperator, RemoteSocket
    from .client import ClientSocket, Manager, connect
    from .errors import AckTimeoutError, ConnectError, ServerSideEmitTimeoutError
    from .namespace import Namespace
    from .protocol.recovery import ConnectionStateRecovery
    from .server import Server
    from .socket import Socket

_EXPORTS = {
    "ASGIApp": "asgi",
    "AckTimeoutError": "errors",
    "BroadcastOperator": "broadcast",
    "ClientSocket": "client",
    "ConnectError": "errors",
    "ConnectionStateRecovery": "protocol.recovery",
    "Manager": "client",
    "Namespace": "namespace",
    "RemoteSocket": "broadcast",
    "Server": "server",
    "ServerSideEmitTimeoutError": "errors",
    "Socket": "socket",
    "connect": "client",
}
__all__ = [
    "ASGIApp",
    "AckTimeoutError",
    "BroadcastOperator",
    "ClientSocket",
    "ConnectError",
    "ConnectionStateRecovery",
    "Manager",
    "Namespace",
    "RemoteSocket",
    "Server",
    "ServerSideEmitTimeoutError",
    "Socket",
    "connect",
]


# Under TYPE_CHECKING mypy sees only the imports above, so a name this module does not
# export is an error there instead of a silent Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'socketio_core' has no attribute {name!r}")
        from importlib import import_module

        return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    # The lazy names too, for dir(), completion and documentation tools.
    return sorted({*globals(), *__all__})
