"""Sans-IO Engine.IO v4: codecs, request checks and session state machines.

Nothing here performs I/O, reads the clock or draws random numbers.
"""

from __future__ import annotations

from .client import ClientSession
from .config import TRANSPORTS, ServerConfig, available_upgrades, open_packet_data
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .events import Event, MessageReceived, Opened, SessionClosed, Upgraded, UpgradeFailed
from .jsonp import decode_jsonp_body, encode_jsonp, jsonp_index
from .packet import (
    Packet,
    PacketType,
    decode_text_packet,
    decode_ws_frame,
    encode_text_packet,
    encode_ws_frame,
)
from .payload import SEPARATOR, decode_payload, encode_payload, only_messages_and_pongs
from .prepared import PreparedPacket, prepare_message, prepare_packet
from .request import ERROR_MESSAGES, RequestKind, check_request, error_body, request_error
from .server import ServerSession
from .states import (
    CLIENT_TRANSITIONS,
    SERVER_TRANSITIONS,
    ClientInput,
    ClientState,
    ServerInput,
    ServerState,
)

__all__ = [
    "CLIENT_TRANSITIONS",
    "ERROR_MESSAGES",
    "SEPARATOR",
    "SERVER_TRANSITIONS",
    "TRANSPORTS",
    "ClientInput",
    "ClientSession",
    "ClientState",
    "Event",
    "LocalProtocolError",
    "MessageReceived",
    "Opened",
    "Packet",
    "PacketType",
    "PreparedPacket",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestKind",
    "ServerConfig",
    "ServerInput",
    "ServerSession",
    "ServerState",
    "SessionClosed",
    "UpgradeFailed",
    "Upgraded",
    "available_upgrades",
    "check_request",
    "decode_jsonp_body",
    "decode_payload",
    "decode_text_packet",
    "decode_ws_frame",
    "encode_jsonp",
    "encode_payload",
    "encode_text_packet",
    "encode_ws_frame",
    "error_body",
    "jsonp_index",
    "only_messages_and_pongs",
    "open_packet_data",
    "prepare_message",
    "prepare_packet",
    "request_error",
]
