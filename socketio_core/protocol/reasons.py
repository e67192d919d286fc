"""Disconnect reasons and fixed messages, spelled exactly as the Node reference spells them.

Server side: ``socket.io`` ``Socket`` / ``Client`` and ``engine.io`` ``Socket`` close reasons.
Client side: ``socket.io-client`` ``Socket`` / ``Manager`` close reasons. They are ``StrEnum``
members, so they compare equal to (and format as) the plain strings.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACK_TIMEOUT_MESSAGE",
    "DISCONNECTED_MESSAGE",
    "INVALID_NAMESPACE_MESSAGE",
    "RECOVERABLE_REASONS",
    "RESERVED_EVENTS",
    "V2_SERVER_MESSAGE",
    "ClientDisconnectReason",
    "ServerDisconnectReason",
]


class ServerDisconnectReason(StrEnum):
    """Why a server-side socket left its namespace (the ``disconnect`` event's argument)."""

    TRANSPORT_ERROR = "transport error"
    TRANSPORT_CLOSE = "transport close"
    FORCED_CLOSE = "forced close"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    SERVER_SHUTTING_DOWN = "server shutting down"
    FORCED_SERVER_CLOSE = "forced server close"
    CLIENT_NAMESPACE_DISCONNECT = "client namespace disconnect"
    SERVER_NAMESPACE_DISCONNECT = "server namespace disconnect"


class ClientDisconnectReason(StrEnum):
    """Why a client-side socket left its namespace (the ``disconnect`` event's argument)."""

    IO_SERVER_DISCONNECT = "io server disconnect"
    IO_CLIENT_DISCONNECT = "io client disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PARSE_ERROR = "parse error"


#: The reasons after which a socket's session is kept for its client to recover, with
#: connection state recovery on (socket.io ``RECOVERABLE_DISCONNECT_REASONS``): the transport
#: went away, not a deliberate disconnect of either side.
RECOVERABLE_REASONS = frozenset({
    ServerDisconnectReason.TRANSPORT_ERROR,
    ServerDisconnectReason.TRANSPORT_CLOSE,
    ServerDisconnectReason.FORCED_CLOSE,
    ServerDisconnectReason.PING_TIMEOUT,
    ServerDisconnectReason.SERVER_SHUTTING_DOWN,
    ServerDisconnectReason.FORCED_SERVER_CLOSE,
})

#: Event names neither side may emit nor accept (socket.io-parser ``RESERVED_EVENTS``).
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)

#: The CONNECT_ERROR message for a namespace the server does not have (socket.io ``Client``).
INVALID_NAMESPACE_MESSAGE = "Invalid namespace"

#: The error an ack with a timeout fails with (both Node sides).
ACK_TIMEOUT_MESSAGE = "operation has timed out"

#: The error a client ack fails with when its socket disconnects (socket.io-client).
DISCONNECTED_MESSAGE = "socket has been disconnected"

#: socket.io-client's connect_error when a CONNECT answer carries no ``sid`` (a v2 server).
V2_SERVER_MESSAGE = (
    "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, but they "
    "are not compatible (more information here: "
    "https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)"
)
