"""Sans-IO Socket.IO v5: packet codec, binary attachments, connection state, rooms.

Nothing here performs I/O, reads the clock or draws random numbers.
"""

from __future__ import annotations

from .client import ClientConnection
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .events import (
    AckReceived,
    AckTimedOut,
    ClientEvent,
    Connected,
    ConnectRefused,
    ConnectRequested,
    ConnectTimedOut,
    Disconnected,
    Event,
    EventReceived,
    ServerEvent,
)
from .json_codec import JSONCodec, JSONOption, as_codec
from .packet import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    DEFAULT_MAX_ATTACHMENTS,
    MAX_ACK_ID,
    Decoder,
    Packet,
    PacketType,
    encode,
)
from .reasons import (
    ACK_TIMEOUT_MESSAGE,
    DISCONNECTED_MESSAGE,
    INVALID_NAMESPACE_MESSAGE,
    RECOVERABLE_REASONS,
    RESERVED_EVENTS,
    V2_SERVER_MESSAGE,
    ClientDisconnectReason,
    ServerDisconnectReason,
)
from .recovery import PacketHistory, RestoredSession, Session, session_includes
from .rooms import BroadcastTarget, RoomIndex, Rooms, flatten_rooms
from .server import DEFAULT_CONNECT_TIMEOUT, ServerConnection
from .states import NamespaceState

__all__ = [
    "ACK_TIMEOUT_MESSAGE",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_ATTACHMENTS",
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "DISCONNECTED_MESSAGE",
    "INVALID_NAMESPACE_MESSAGE",
    "MAX_ACK_ID",
    "RECOVERABLE_REASONS",
    "RESERVED_EVENTS",
    "V2_SERVER_MESSAGE",
    "AckReceived",
    "AckTimedOut",
    "BroadcastTarget",
    "ClientConnection",
    "ClientDisconnectReason",
    "ClientEvent",
    "ConnectRefused",
    "ConnectRequested",
    "ConnectTimedOut",
    "Connected",
    "Decoder",
    "Disconnected",
    "Event",
    "EventReceived",
    "JSONCodec",
    "JSONOption",
    "LocalProtocolError",
    "NamespaceState",
    "Packet",
    "PacketHistory",
    "PacketType",
    "ProtocolError",
    "RemoteProtocolError",
    "RestoredSession",
    "RoomIndex",
    "Rooms",
    "ServerConnection",
    "ServerDisconnectReason",
    "ServerEvent",
    "Session",
    "as_codec",
    "encode",
    "flatten_rooms",
    "session_includes",
]
