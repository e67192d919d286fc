"""What ``ServerConnection`` and ``ClientConnection`` share: namespace states, the decoder,
ack bookkeeping, the outbound queue and the closed state.

Outbound data is pulled, h2 style: every call that sends queues Engine.IO messages, and
``take_messages()`` hands them over (text packets as ``str``, attachments as ``bytes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from .acks import AckBook
from .errors import LocalProtocolError, ProtocolError
from .events import AckReceived, AckTimedOut, ClientEvent, Disconnected, EventReceived, ServerEvent
from .json_codec import JSONCodec
from .packet import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    DEFAULT_MAX_ATTACHMENTS,
    Decoder,
    Packet,
    decode_plain,
    encode_event,
)
from .packet import PacketType as T
from .states import Input, NamespaceState, Table, transition

__all__ = ["Connection"]

# The events one side reports: each core returns only its own kind (``ServerEvent`` or
# ``ClientEvent``), so its runtime can ``match`` them exhaustively.
E = TypeVar("E", ServerEvent, ClientEvent)

_IDLE = NamespaceState.IDLE
_CONNECTED = NamespaceState.CONNECTED
_EVENT = T.EVENT
_ACK = T.ACK
_EMIT = Input.EMIT
_ACK_INPUT = Input.ACK
# What leaves a connected namespace connected in both tables (a test checks them): the steps
# taken per event and ack, which then need no table lookup.
_KEEP_CONNECTED = (Input.RECEIVE_EVENT, Input.RECEIVE_ACK, Input.EMIT, Input.ACK)


class Connection(Generic[E]):
    """The common part of both connection cores (not used directly)."""

    _table: Table
    _invalid_state_reason: str

    def __init__(
        self,
        *,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        json: JSONCodec | None = None,
    ) -> None:
        self._json = json
        self._decoder = Decoder(
            max_attachments=max_attachments, max_attachment_bytes=max_attachment_bytes,
            json=json,
        )
        self._states: dict[str, NamespaceState] = {}
        self._acks = AckBook()
        # An empty tuple while nothing is queued: an idle connection holds no empty list (an
        # object each full collection of the garbage collector visits).
        self._outbox: list[str | bytes] | tuple[()] = ()
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether the connection is over (``close``, an error, or the connect timeout)."""
        return self._closed

    def state(self, namespace: str) -> NamespaceState:
        """Where ``namespace`` stands on this connection."""
        return self._states.get(namespace, _IDLE)

    @property
    def namespaces(self) -> frozenset[str]:
        """The namespaces currently ``CONNECTED``."""
        return frozenset(ns for ns, state in self._states.items() if state is _CONNECTED)

    def take_messages(self) -> list[str | bytes]:
        """Take the queued Engine.IO messages (may be empty)."""
        out = self._outbox
        if not out:
            return []
        self._outbox = ()
        return out

    def _queue(self, parts: list[str | bytes]) -> None:
        # ``parts``: a list of ours (the codec makes a new one each time), kept as it is when
        # nothing else is queued.
        outbox = self._outbox
        if outbox:
            outbox.extend(parts)
        else:
            self._outbox = parts

    def next_deadline(self) -> float | None:
        """The earliest moment ``handle_timeout`` has work, or ``None``. No side effect."""
        return None if self._closed else self._acks.next_deadline()

    def handle_timeout(self, *, now: float) -> list[E]:
        """Fire whatever is due at ``now`` (nothing when called early)."""
        if self._closed:
            return []
        return [AckTimedOut(ns, ack_id) for ns, ack_id in self._acks.expire(now)]

    def emit(
        self,
        namespace: str,
        event: str,
        args: Sequence[Any] = (),
        *,
        ack: bool = False,
        timeout: float | None = None,
        now: float | None = None,
    ) -> int | None:
        """Send ``event`` with ``args`` on a connected ``namespace``.

        With ``ack``, returns the ack id the answer will carry (``AckReceived``); with a
        ``timeout`` too, an ``AckTimedOut`` fires at ``now + timeout`` unless it came.

        Raises:
            TypeError: data JSON cannot represent (``encode``).
            LocalProtocolError: not connected on ``namespace``, a reserved or non-string event
                name, or a ``timeout`` without ``now``.
        """
        self._check_open()
        if timeout is not None and (not ack or now is None):
            raise LocalProtocolError("a timeout needs ack=True and now")
        self._step(namespace, _EMIT)
        ack_id = self._acks.next_id(namespace) if ack else None
        parts = encode_event(_EVENT, namespace, [event, *args], ack_id, self._json)
        if ack:
            deadline = None if timeout is None or now is None else now + timeout
            self._acks.allocate(namespace, deadline)
        self._queue(parts)
        return ack_id

    def ack(self, namespace: str, ack_id: int, args: Sequence[Any] = ()) -> None:
        """Answer the peer's event ``ack_id`` on ``namespace`` with ``args``.

        Raises:
            TypeError: data JSON cannot represent (``encode``).
            LocalProtocolError: not connected on ``namespace``.
        """
        self._check_open()
        self._step(namespace, _ACK_INPUT)
        self._queue(encode_event(_ACK, namespace, list(args), ack_id, self._json))

    def close(self, reason: str) -> list[E]:
        """End the connection (the Engine.IO session closed, for ``reason``): every connected
        namespace leaves with ``reason``. Idempotent."""
        if self._closed:
            return []
        events: list[E] = []
        for ns in sorted(self.namespaces):
            events.append(Disconnected(ns, reason, self._acks.drop_namespace(ns)))
        self._shut()
        return events

    def receive_message(self, message: str | bytes, *, now: float) -> list[E]:
        """Feed one Engine.IO message payload; returns the events it causes.

        Whatever was due at ``now`` fires first (so an ack arriving after its deadline reports
        ``AckTimedOut``); if that closed the connection, ``message`` is dropped.

        Raises:
            RemoteProtocolError: a malformed packet (reason ``"parse error"``) or a packet not
                allowed now; the connection is closed before it is raised.
            LocalProtocolError: the connection was already closed.
        """
        self._check_open()
        deadline = self.next_deadline()
        # Called early, handle_timeout does nothing: only call it when something is due.
        events = [] if deadline is None or now < deadline else self.handle_timeout(now=now)
        if self._closed:
            return events
        if type(message) is str and self._decoder.pending is None and self._json is None:
            # The usual packet, an event or ack on a connected "/", needs neither the general
            # decoder nor the state table (receiving either keeps a namespace connected).
            plain = decode_plain(message)
            if plain is not None and self._states.get("/") is _CONNECTED:
                kind, data, ack_id = plain
                if kind is _EVENT:
                    events.append(EventReceived("/", data[0], tuple(data[1:]), ack_id))
                elif self._acks.resolve("/", ack_id):  # type: ignore[arg-type]
                    events.append(AckReceived("/", ack_id, tuple(data)))  # type: ignore[arg-type]
                return events
        try:
            packet = self._decoder.receive(message)
            header = self._decoder.pending
            if header is not None and isinstance(message, str):
                self._check_binary_header(header)
            if packet is not None:
                self._on_packet(packet, events)
        except ProtocolError:
            self._shut()
            raise
        return events

    def _check_binary_header(self, header: Packet) -> None:
        """Called when a binary packet's header arrives, before its attachments."""
        raise NotImplementedError

    def _on_packet(self, packet: Packet, events: list[E]) -> None:
        raise NotImplementedError

    def _on_event(self, packet: Packet, events: list[E]) -> None:
        data = packet.data
        events.append(EventReceived(packet.namespace, data[0], tuple(data[1:]), packet.id))

    def _on_ack(self, packet: Packet, events: list[E]) -> None:
        assert packet.id is not None
        if self._acks.resolve(packet.namespace, packet.id):
            events.append(AckReceived(packet.namespace, packet.id, tuple(packet.data)))

    def _step(self, namespace: str, event: Input) -> NamespaceState:
        """Apply ``event`` to ``namespace``; returns the state it was in."""
        before = self._states.get(namespace, _IDLE)
        if before is _CONNECTED and event in _KEEP_CONNECTED:
            return before
        after = transition(
            self._table, before, event, namespace=namespace, reason=self._invalid_state_reason
        )
        if after is _IDLE:
            self._states.pop(namespace, None)
            pending = self._decoder.pending
            if pending is not None and pending.namespace == namespace:
                self._decoder.discard_pending()
        else:
            self._states[namespace] = after
        return before

    def _check_open(self) -> None:
        if self._closed:
            raise LocalProtocolError("the connection is closed")

    def _shut(self) -> None:
        self._closed = True
        self._decoder.reset()
        self._states.clear()
        self._acks.clear()
