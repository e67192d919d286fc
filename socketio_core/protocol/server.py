"""``ServerConnection``: the server side of one Socket.IO connection (one Engine.IO session).

Node's behaviour it follows (socket.io ``Client``, ``Namespace``, ``Socket``):

- CONNECT for a namespace gives ``ConnectRequested``; the runtime answers ``accept`` (CONNECT
  ``{"sid":...}``, and ``"pid"`` with connection state recovery on) or ``reject``
  (CONNECT_ERROR ``{"message":...,"data":...}``; an unknown namespace is rejected with
  ``"Invalid namespace"``).
- Until one namespace is accepted, a deadline ``now + connect_timeout`` runs; when it passes,
  ``ConnectTimedOut`` is reported, the core closes, and the runtime closes the Engine.IO
  session (Node: ``"forced server close"``).
- A packet for a namespace not connected (binary ones refused at their header, before any
  attachment is kept), a second CONNECT, or a CONNECT_ERROR from the client is an invalid state:
  Node closes the client, so we raise ``RemoteProtocolError(reason="forced server close")``.
- DISCONNECT from the client: ``Disconnected(reason="client namespace disconnect")``; our
  ``disconnect`` sends DISCONNECT (the socket's reason is ``"server namespace disconnect"``).
- An ACK with an id we are not waiting for is ignored (Node: "bad ack").
"""

from __future__ import annotations

from typing import Any

from .connection import Connection
from .events import ConnectRequested, ConnectTimedOut, Disconnected, ServerEvent
from .json_codec import JSONCodec
from .packet import DEFAULT_MAX_ATTACHMENT_BYTES, DEFAULT_MAX_ATTACHMENTS, Packet, encode
from .packet import PacketType as T
from .reasons import ServerDisconnectReason
from .states import SERVER_TRANSITIONS, Input

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "ServerConnection"]

#: Node's ``connectTimeout`` default (45 000 ms), in seconds.
DEFAULT_CONNECT_TIMEOUT = 45.0

_RECEIVE = {
    T.CONNECT: Input.RECEIVE_CONNECT,
    T.DISCONNECT: Input.RECEIVE_DISCONNECT,
    T.EVENT: Input.RECEIVE_EVENT,
    T.ACK: Input.RECEIVE_ACK,
    T.CONNECT_ERROR: Input.RECEIVE_CONNECT_ERROR,
}


class ServerConnection(Connection[ServerEvent]):
    """The Sans-IO server side of a Socket.IO connection.

    Args:
        now: the current time; the connect deadline is ``now + connect_timeout``.
        connect_timeout: seconds the client has to get a namespace accepted.
        max_attachments: binary attachments allowed in one packet (Node: 10).
        max_attachment_bytes: attachment bytes allowed in one packet.
        json: the application's JSON codec (``json_codec``), for every payload; by default
            JSON as ``JSON.stringify`` writes it.

    Input: ``receive_message(payload, now=)`` with each Engine.IO message payload (``str`` or
    ``bytes``), ``handle_timeout(now=)`` at ``next_deadline()``. Output: returned events, and
    ``take_messages()`` for the Engine.IO messages to send.
    """

    _table = SERVER_TRANSITIONS
    _invalid_state_reason = ServerDisconnectReason.FORCED_SERVER_CLOSE

    def __init__(
        self,
        *,
        now: float,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        json: JSONCodec | None = None,
    ) -> None:
        super().__init__(
            max_attachments=max_attachments, max_attachment_bytes=max_attachment_bytes,
            json=json,
        )
        self._connect_deadline: float | None = now + connect_timeout

    def next_deadline(self) -> float | None:
        if self._closed:
            return None
        deadline = self._acks.next_deadline()  # as Connection.next_deadline, one call less
        connect = self._connect_deadline
        if connect is None:
            return deadline
        return connect if deadline is None else min(deadline, connect)

    def handle_timeout(self, *, now: float) -> list[ServerEvent]:
        events = super().handle_timeout(now=now)
        deadline = self._connect_deadline
        if not self._closed and deadline is not None and now >= deadline:
            self._shut()
            events.append(ConnectTimedOut())
        return events

    def accept(self, namespace: str, sid: str, pid: str | None = None) -> None:
        """Admit the client to ``namespace`` (after ``ConnectRequested``) as socket ``sid``;
        ``pid``, the private session id of connection state recovery, goes with it when set
        (CONNECT ``{"sid":...,"pid":...}``, socket.io ``Socket._onconnect``).

        Raises:
            LocalProtocolError: no CONNECT is waiting on ``namespace``, or the core is closed.
        """
        self._check_open()
        self._step(namespace, Input.ACCEPT)
        self._connect_deadline = None
        answer = {"sid": sid} if pid is None else {"sid": sid, "pid": pid}
        self._queue(encode(Packet(T.CONNECT, namespace, answer), json=self._json))

    def reject(self, namespace: str, message: str, data: Any = None) -> None:
        """Refuse the client on ``namespace``: CONNECT_ERROR ``{"message", "data"}`` (``data``
        left out when ``None``, as ``JSON.stringify`` drops ``undefined``).

        Raises:
            TypeError: ``data`` holds a value JSON cannot represent.
            LocalProtocolError: no CONNECT is waiting on ``namespace``, or the core is closed.
        """
        self._check_open()
        payload: dict[str, Any] = {"message": message}
        if data is not None:
            payload["data"] = data
        parts = encode(Packet(T.CONNECT_ERROR, namespace, payload), json=self._json)
        self._step(namespace, Input.REJECT)
        self._queue(parts)

    def disconnect(self, namespace: str) -> tuple[int, ...]:
        """Make the client leave ``namespace`` (DISCONNECT; the server-side socket's reason is
        ``"server namespace disconnect"``). Returns the ack ids of ours on it that will never
        be answered now.

        Raises:
            LocalProtocolError: not connected on ``namespace``, or the core is closed.
        """
        self._check_open()
        self._step(namespace, Input.DISCONNECT)
        self._queue(encode(Packet(T.DISCONNECT, namespace)))
        return self._acks.drop_namespace(namespace)

    def _check_binary_header(self, header: Packet) -> None:
        self._step(header.namespace, _RECEIVE[header.type])

    def _on_packet(self, packet: Packet, events: list[ServerEvent]) -> None:
        kind = packet.type
        self._step(packet.namespace, _RECEIVE[kind])
        if kind is T.CONNECT:
            auth = packet.data if packet.data is not None else {}
            events.append(ConnectRequested(packet.namespace, auth))
        elif kind is T.EVENT:
            self._on_event(packet, events)
        elif kind is T.ACK:
            self._on_ack(packet, events)
        else:
            reason = ServerDisconnectReason.CLIENT_NAMESPACE_DISCONNECT
            pending = self._acks.drop_namespace(packet.namespace)
            events.append(Disconnected(packet.namespace, reason, pending))

