"""``ClientConnection``: the client side of one Socket.IO connection (one Engine.IO session).

Node's behaviour it follows (socket.io-client ``Socket`` and ``Manager``):

- ``connect(namespace, auth)`` sends CONNECT (``0``, ``0/admin,``, ``0{"token":"x"}``); the
  server answers CONNECT ``{"sid":...}`` (``Connected``) or CONNECT_ERROR (``ConnectRefused``
  with its ``message`` and ``data``). A CONNECT answer without a ``sid`` is a v2 server:
  ``ConnectRefused`` with socket.io-client's message for that case.
- Packets for a namespace we are not on or connecting to are ignored (binary ones without
  keeping their attachments). An event arriving while connecting is reported at once (Node
  buffers it until ``connect``; the runtime may do the same).
- DISCONNECT from the server: ``Disconnected(reason="io server disconnect")``; our
  ``disconnect`` sends DISCONNECT when connected (nothing while still connecting), and the
  socket's reason is ``"io client disconnect"``.
- An ACK with an id we are not waiting for is ignored. Unanswered acks of a namespace that
  disconnects are listed in ``Disconnected.pending_acks`` (Node fails them with
  ``"socket has been disconnected"``).
- A malformed packet raises ``RemoteProtocolError(reason="parse error")`` (Node's Manager
  closes with ``"parse error"``).
"""

from __future__ import annotations

from typing import Any

from .connection import Connection
from .events import ClientEvent, Connected, ConnectRefused, Disconnected
from .json_codec import JSONCodec
from .packet import DEFAULT_MAX_ATTACHMENT_BYTES, DEFAULT_MAX_ATTACHMENTS, Packet, encode
from .packet import PacketType as T
from .reasons import V2_SERVER_MESSAGE, ClientDisconnectReason
from .states import CLIENT_TRANSITIONS, Input, NamespaceState

__all__ = ["ClientConnection"]

_RECEIVE = {
    T.CONNECT: Input.RECEIVE_CONNECT,
    T.DISCONNECT: Input.RECEIVE_DISCONNECT,
    T.EVENT: Input.RECEIVE_EVENT,
    T.ACK: Input.RECEIVE_ACK,
    T.CONNECT_ERROR: Input.RECEIVE_CONNECT_ERROR,
}


class ClientConnection(Connection[ClientEvent]):
    """The Sans-IO client side of a Socket.IO connection.

    Args:
        max_attachments: binary attachments allowed in one packet (Node: 10).
        max_attachment_bytes: attachment bytes allowed in one packet.
        json: the application's JSON codec (``json_codec``), for every payload; by default
            JSON as ``JSON.stringify`` writes it.

    Input: ``receive_message(payload, now=)`` with each Engine.IO message payload,
    ``handle_timeout(now=)`` at ``next_deadline()``. Output: returned events, and
    ``take_messages()`` for the Engine.IO messages to send.
    """

    _table = CLIENT_TRANSITIONS
    _invalid_state_reason = ClientDisconnectReason.PARSE_ERROR

    def __init__(
        self,
        *,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        json: JSONCodec | None = None,
    ) -> None:
        super().__init__(
            max_attachments=max_attachments, max_attachment_bytes=max_attachment_bytes,
            json=json,
        )

    def connect(self, namespace: str = "/", auth: dict[str, Any] | None = None) -> None:
        """Ask to join ``namespace``, with ``auth`` as the CONNECT payload.

        Raises:
            TypeError: ``auth`` holds a value JSON cannot represent.
            LocalProtocolError: already connected or connecting there, an invalid namespace, or
                the core is closed.
        """
        self._check_open()
        parts = encode(Packet(T.CONNECT, namespace, auth), json=self._json)
        self._step(namespace, Input.CONNECT)
        self._queue(parts)

    def disconnect(self, namespace: str) -> tuple[int, ...]:
        """Leave ``namespace`` (the socket's reason is ``"io client disconnect"``). Sends
        DISCONNECT only when connected. Returns the ack ids of ours on it that will never be
        answered now.

        Raises:
            LocalProtocolError: neither connected nor connecting there, or the core is closed.
        """
        self._check_open()
        if self._step(namespace, Input.DISCONNECT) is NamespaceState.CONNECTED:
            self._queue(encode(Packet(T.DISCONNECT, namespace)))
        return self._acks.drop_namespace(namespace)

    def _check_binary_header(self, header: Packet) -> None:
        if self.state(header.namespace) is NamespaceState.IDLE:
            self._decoder.discard_pending()
        else:
            self._step(header.namespace, _RECEIVE[header.type])

    def _on_packet(self, packet: Packet, events: list[ClientEvent]) -> None:
        kind, namespace, data = packet.type, packet.namespace, packet.data
        accepted = kind is T.CONNECT and isinstance(data, dict) and isinstance(data.get("sid"), str)
        step = Input.RECEIVE_CONNECT_ERROR if kind is T.CONNECT and not accepted else _RECEIVE[kind]
        if self._step(namespace, step) is NamespaceState.IDLE:
            return
        if accepted:
            pid = data.get("pid")
            events.append(Connected(namespace, data["sid"], pid if isinstance(pid, str) else None))
        elif kind is T.CONNECT:
            events.append(ConnectRefused(namespace, V2_SERVER_MESSAGE))
        elif kind is T.CONNECT_ERROR:
            if isinstance(data, str):
                events.append(ConnectRefused(namespace, data))
            else:
                message = data.get("message")
                events.append(
                    ConnectRefused(
                        namespace, message if isinstance(message, str) else "", data.get("data")
                    )
                )
        elif kind is T.EVENT:
            self._on_event(packet, events)
        elif kind is T.ACK:
            self._on_ack(packet, events)
        else:
            reason = ClientDisconnectReason.IO_SERVER_DISCONNECT
            events.append(Disconnected(namespace, reason, self._acks.drop_namespace(namespace)))
