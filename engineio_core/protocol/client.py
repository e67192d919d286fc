"""``ClientSession``: one Engine.IO v4 session, client side, with no I/O.

The runtime drives it like this (after ``engine.io-client``'s ``lib/socket.ts``):

Polling: while ``should_poll()``, call ``start_poll(now=)``, send a GET with ``query()`` and feed
the body to ``receive_poll_response(body, now=)``. While ``post_ready()``, POST ``take_post_body()``
and call ``post_done(now=)`` when it is answered. A failed request: ``transport_closed(reason=
"transport error", now=)``.

WebSocket: write ``take_ws_frames()``, feed each message to ``receive_ws_message(data, now=)``; a
closed socket: ``transport_closed(reason="transport close", now=)``.

Upgrade: when ``should_upgrade()``, open a WebSocket with ``probe_query()``, call
``begin_upgrade(now=)``, write ``take_probe_frames()`` (``"2probe"``) and feed its messages to
``receive_probe_message(data, now=)``. On ``"3probe"`` the session pauses polling (no new GET or
POST) until the requests in flight end, then queues ``"5"`` on the probe and emits ``Upgraded``:
from then on the probe is the active WebSocket (``take_ws_frames`` returns what the probe had not
written yet, then everything queued). ``UpgradeFailed``: close the probe, keep polling.
``probe_closed(now=)`` when the probe dies.

State: the session's machines (its lifecycle, the GET and the POST in flight, the transport,
the upgrade attempt) are tables in ``states.py``; ``states`` shows them.

Time: ``next_deadline()`` / ``handle_timeout(now=)``. No ping within ``ping_interval +
ping_timeout`` (from the open or the last ping) closes with ``"ping timeout"``.

Close: ``close()`` aborts an upgrade under way, then on polling lets the pending messages drain
(their POSTs taken and answered), then queues ``"1"`` alone and closes (``"forced close"``) when
the POST carrying it is taken, as engine.io-client waits for ``drain`` before closing (so a
Socket.IO DISCONNECT reaches the server before the Engine.IO close, in a POST of its own); on
WebSocket it closes at once, the queued frames still taken (the runtime then closes the socket).
A ``"1"`` from the server closes with ``"transport close"``; a malformed packet with
``"transport error"`` (the reference reports a parse failure as a server error).

Once closed, ``should_poll``, ``post_ready`` and ``should_upgrade`` are false (so
``start_poll``, ``take_post_body`` and ``begin_upgrade`` raise ``LocalProtocolError``) and every
other input is ignored (returns ``[]``).

Known differences from the reference: ``close()`` does not wait for an upgrade under way to finish;
a first packet that is not ``open`` is an error; a ``"1"`` on the WebSocket closes the session.
"""

from __future__ import annotations

import enum
import json
import math
from collections import deque
from typing import Any

from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .events import Event, MessageReceived, Opened, SessionClosed, Upgraded, UpgradeFailed
from .packet import Packet, PacketType, decode_ws_frame, encode_ws_frame
from .payload import SEPARATOR, decode_payload, encode_payload
from .states import (
    CLIENT_TRANSITIONS,
    SLOT_TRANSITIONS,
    TRANSPORT_TRANSITIONS,
    UPGRADE_TRANSITIONS,
    ClientInput,
    ClientState,
    Slot,
    SlotInput,
    Transport,
    TransportInput,
    UpgradeAttempt,
    UpgradeInput,
)

__all__ = ["ClientSession"]


_C = ClientState
_J = ClientInput
_IDLE = Slot.IDLE
_BUSY = Slot.BUSY
_POLLING = Transport.POLLING
_ON_WS = Transport.WEBSOCKET

_REMOTE_INPUTS = frozenset({_J.OPEN_PACKET, _J.PROBE_PONG})
_UNLIMITED = 2**62
# engine.io-client counts a binary packet as its base64 size (lib/util.ts, byteLength).
_BASE64_OVERHEAD = 1.33


def _local(message: str) -> LocalProtocolError:
    return LocalProtocolError(message, http_status=None, ws_close_code=None)


def _transport_error(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, reason="transport error", http_status=None)


def _parse_open(data: str | bytes | None) -> Opened:
    try:
        value: Any = json.loads(data) if isinstance(data, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise _transport_error("the open packet does not carry a JSON object")
    sid = value.get("sid")
    upgrades = value.get("upgrades", [])
    numbers: list[Any] = [value.get(k) for k in ("pingInterval", "pingTimeout")]
    max_payload = value.get("maxPayload", 0)
    if not isinstance(sid, str) or not sid \
            or not isinstance(upgrades, list) or not all(isinstance(u, str) for u in upgrades) \
            or any(isinstance(n, bool) or not isinstance(n, int) or n <= 0 for n in numbers) \
            or isinstance(max_payload, bool) or not isinstance(max_payload, int) \
            or max_payload < 0:
        raise _transport_error("the open packet is missing or has invalid fields")
    interval: int = numbers[0]
    timeout: int = numbers[1]
    return Opened(sid=sid, upgrades=tuple(upgrades), ping_interval=interval / 1000,
                  ping_timeout=timeout / 1000, max_payload=max_payload)


class ClientSession:
    """One Engine.IO session, client side (see the module docstring for the whole contract).

    Args:
        transport: the transport to open with, ``"polling"`` or ``"websocket"``.
        now: the current time, seconds.
        upgrade: whether to upgrade from polling to WebSocket when the server offers it.
        transports: the transports this client may use.

    Raises:
        LocalProtocolError: ``transport`` is not one of ``transports``.
    """

    def __init__(self, *, transport: str = "polling", now: float, upgrade: bool = True,
                 transports: tuple[str, ...] = ("polling", "websocket")) -> None:
        if transport not in transports or transport not in ("polling", "websocket"):
            raise _local(f"transport {transport!r} is not enabled")
        self._transport = Transport(transport)
        self._transports = transports
        self._upgrade = upgrade
        self._state = _C.OPENING
        self._now = now
        self._outbox: deque[Packet] = deque()
        self._probe_out: list[str | bytes] = []
        self._pending: list[Event] = []
        self._poll = _IDLE
        self._post = _IDLE
        self._upgrade_attempt = UpgradeAttempt.NOT_TRIED
        self._ping_due: float | None = None
        self.opened: Opened | None = None
        self.close_reason: str | None = None

    @property
    def state(self) -> ClientState:
        """The current state."""
        return self._state

    @property
    def states(self) -> dict[str, enum.Enum]:
        """The state of each machine of the session, by the names of ``CLIENT_TABLES``."""
        return {"session": self._state, "poll": self._poll, "post": self._post,
                "transport": self._transport, "upgrade": self._upgrade_attempt}

    @property
    def transport(self) -> str:
        """The transport carrying the session: ``"websocket"`` once upgraded."""
        return self._transport.value

    @property
    def sid(self) -> str | None:
        """The session id from the open packet (``None`` before it)."""
        return self.opened.sid if self.opened is not None else None

    @property
    def upgrading(self) -> bool:
        """Whether a WebSocket probe is in progress."""
        return self._state in (_C.PROBING, _C.PAUSING)

    @property
    def closed(self) -> bool:
        """Whether the session is closed."""
        return self._state is _C.CLOSED

    def query(self) -> dict[str, str]:
        """The query parameters of the next request on the active transport."""
        params = {"EIO": "4", "transport": self._transport.value}
        if self.sid is not None:
            params["sid"] = self.sid
        return params

    def probe_query(self) -> dict[str, str]:
        """The query parameters of the probe WebSocket."""
        return {**self.query(), "transport": "websocket"}

    def _move(self, event: ClientInput) -> None:
        try:
            self._state = CLIENT_TRANSITIONS[self._state, event]
        except KeyError:
            message = f"{event.name} is not allowed in state {self._state.name}"
            if event in _REMOTE_INPUTS:
                raise _transport_error(message) from None
            raise _local(message) from None

    def _events(self) -> list[Event]:
        events, self._pending = self._pending, []
        return events

    def events_after_error(self) -> list[Event]:
        """The events left behind when an input raised ``ProtocolError``."""
        return self._events()

    def _close(self, event: ClientInput, reason: str, description: str | None = None) -> None:
        if self._state is _C.CLOSED:
            return
        if self.upgrading:
            self._probe_out.clear()
            self._pending.append(UpgradeFailed("socket closed"))
        self._move(event)
        self._ping_due = None
        if reason != "forced close":
            self._outbox.clear()
        self.close_reason = reason
        self._pending.append(SessionClosed(reason, description))

    def _fail(self, error: ProtocolError) -> None:
        self._close(_J.FAIL, error.reason, error.message)

    def close(self, *, now: float | None = None) -> list[Event]:
        """Close with reason ``"forced close"``; idempotent (see the module docstring).
        Returns the events of the close itself (``SessionClosed`` when it closes at once,
        ``UpgradeFailed`` for an upgrade it cuts short)."""
        if now is not None:
            self._now = now
        if self._state in (_C.DRAINING, _C.CLOSING, _C.CLOSED):
            return []
        if self._state is _C.OPENING:
            self._close(_J.LOCAL_CLOSE, "forced close")
            self._outbox.clear()
            return self._events()
        if self.upgrading:
            self._abort_upgrade("socket closed")
        self._move(_J.LOCAL_CLOSE)
        if self._transport is _POLLING:
            self._maybe_drained()
        else:  # the queued frames are the writer's already: nothing to wait for
            self._move(_J.DRAINED)
            self._close(_J.CLOSE_SENT, "forced close")
        return self._events()

    def _maybe_drained(self) -> None:
        """While draining, once every queued message was posted and answered: queue "1"."""
        if self._state is _C.DRAINING and not self._outbox and self._post is _IDLE:
            self._move(_J.DRAINED)
            self._outbox.append(Packet(PacketType.CLOSE))

    def transport_closed(self, *, reason: str = "transport close", now: float) -> list[Event]:
        """The active transport failed (``"transport error"``) or closed (``"transport
        close"``). Ignored when already closed."""
        self._now = now
        self._poll = SLOT_TRANSITIONS[self._poll, SlotInput.DROP]
        self._post = SLOT_TRANSITIONS[self._post, SlotInput.DROP]
        self._close(_J.FAIL, reason)
        return self._events()

    def next_deadline(self) -> float | None:
        """The earliest time ``handle_timeout`` has something to do, or ``None``."""
        if self._pending:
            return self._now if self._ping_due is None else min(self._now, self._ping_due)
        return self._ping_due

    def handle_timeout(self, *, now: float) -> list[Event]:
        """Close with ``"ping timeout"`` when no ping came in time; a no-op when early."""
        self._now = now
        if self._ping_due is not None and now >= self._ping_due:
            self._close(_J.FAIL, "ping timeout")
        return self._events()

    def _reset_ping(self, now: float) -> None:
        assert self.opened is not None
        self._ping_due = now + self.opened.ping_interval + self.opened.ping_timeout

    def _on_packet(self, packet: Packet, now: float) -> None:
        if self._state is _C.OPENING:
            if packet.type is not PacketType.OPEN:
                raise _transport_error(f"expected the open packet, got {packet.type.name}")
            self.opened = _parse_open(packet.data)
            self._move(_J.OPEN_PACKET)
            self._pending.append(self.opened)
            self._reset_ping(now)
            return
        match packet.type:
            case PacketType.PING:
                if self._state not in (_C.DRAINING, _C.CLOSING):
                    self._outbox.append(Packet(PacketType.PONG, packet.data))
                self._reset_ping(now)
            case PacketType.MESSAGE:
                assert packet.data is not None
                self._pending.append(MessageReceived(packet.data))
            case PacketType.CLOSE:
                self._close(_J.FAIL, "transport close", "transport closed by the server")
            case _:
                pass  # a second open, pong, upgrade and noop are ignored

    def _receive(self, packets: list[Packet], now: float) -> None:
        try:
            for packet in packets:
                self._on_packet(packet, now)
                if self._state is _C.CLOSED:
                    break
        except RemoteProtocolError as error:
            self._fail(error)
            raise

    def should_poll(self) -> bool:
        """Whether the runtime should send a polling GET now."""
        return (self._transport is _POLLING and self._poll is _IDLE
                and self._state in (_C.OPENING, _C.OPEN, _C.PROBING)
                and (self._state is not _C.OPENING or self.opened is None))

    def start_poll(self, *, now: float) -> None:
        """Record that a GET is in flight.

        Raises:
            LocalProtocolError: ``should_poll()`` is false.
        """
        if not self.should_poll():
            raise _local(f"no poll may start in state {self._state.name}")
        self._now = now
        poll = SLOT_TRANSITIONS[self._poll, SlotInput.START]
        self._move(_J.POLL_START)
        self._poll = poll

    def receive_poll_response(self, body: bytes, *, now: float) -> list[Event]:
        """The body answering the GET in flight. Ignored once closed.

        Raises:
            LocalProtocolError: no GET is in flight.
            RemoteProtocolError: a malformed body (reason ``"transport error"``); closes first.
        """
        self._now = now
        if self._state is _C.CLOSED:
            self._poll = SLOT_TRANSITIONS[self._poll, SlotInput.DROP]
            return self._events()
        try:
            poll = SLOT_TRANSITIONS[self._poll, SlotInput.END]
        except KeyError:
            raise _local("no poll is in flight") from None
        self._move(_J.POLL_RESPONSE)
        self._poll = poll
        try:
            packets = decode_payload(body, max_payload=_UNLIMITED)
        except RemoteProtocolError as error:
            self._close(_J.FAIL, "transport error", error.message)
            raise _transport_error(error.message) from error
        self._receive(packets, now)
        self._maybe_finish_pause()
        return self._events()

    def receive_ws_message(self, data: str | bytes, *, now: float) -> list[Event]:
        """A message on the active WebSocket. Ignored once closed.

        Raises:
            LocalProtocolError: the session is not on WebSocket.
            RemoteProtocolError: a malformed message (reason ``"transport error"``); closes first.
        """
        self._now = now
        if self._state is _C.CLOSED:
            return self._events()
        if self._transport is not _ON_WS:
            raise _local("the session is not on WebSocket")
        self._move(_J.WS_MESSAGE)
        try:
            packet = decode_ws_frame(data)
        except RemoteProtocolError as error:
            self._close(_J.FAIL, "transport error", error.message)
            raise _transport_error(error.message) from error
        self._receive([packet], now)
        return self._events()

    def should_upgrade(self) -> bool:
        """Whether the runtime should open a probe WebSocket now."""
        return (self._upgrade and self._upgrade_attempt is UpgradeAttempt.NOT_TRIED
                and self._state is _C.OPEN and self._transport is _POLLING
                and "websocket" in self._transports
                and self.opened is not None and "websocket" in self.opened.upgrades)

    def begin_upgrade(self, *, now: float) -> list[Event]:
        """The probe WebSocket is open: queue ``"2probe"`` on it.

        Raises:
            LocalProtocolError: ``should_upgrade()`` is false.
        """
        self._now = now
        if not self.should_upgrade():
            raise _local(f"no upgrade may start in state {self._state.name}")
        attempt = UPGRADE_TRANSITIONS[self._upgrade_attempt, UpgradeInput.BEGIN]
        self._move(_J.BEGIN_UPGRADE)
        self._upgrade_attempt = attempt
        self._probe_out.append(encode_ws_frame(Packet(PacketType.PING, "probe")))
        return self._events()

    def _abort_upgrade(self, reason: str) -> None:
        self._move(_J.PROBE_ABORT)
        self._probe_out.clear()
        self._pending.append(UpgradeFailed(reason))

    def _maybe_finish_pause(self) -> None:
        if self._state is _C.PAUSING and self._poll is _IDLE and self._post is _IDLE:
            self._move(_J.PAUSED)
            self._transport = TRANSPORT_TRANSITIONS[self._transport, TransportInput.UPGRADED]
            self._probe_out.append(encode_ws_frame(Packet(PacketType.UPGRADE)))
            self._pending.append(Upgraded())

    def receive_probe_message(self, data: str | bytes, *, now: float) -> list[Event]:
        """A message on the probe: ``"3probe"`` pauses polling (and completes the upgrade once
        nothing is in flight); anything else aborts the upgrade. Ignored when not probing."""
        self._now = now
        if self._state is not _C.PROBING:
            return self._events()
        try:
            packet = decode_ws_frame(data)
        except RemoteProtocolError:
            packet = Packet(PacketType.NOOP)
        if packet.type is PacketType.PONG and packet.data == "probe":
            self._move(_J.PROBE_PONG)
            self._maybe_finish_pause()
        else:
            self._abort_upgrade("probe error")
        return self._events()

    def probe_closed(self, *, now: float) -> list[Event]:
        """The probe WebSocket closed or failed; aborts the upgrade if one is under way."""
        self._now = now
        if self.upgrading:
            self._abort_upgrade("transport closed")
        return self._events()

    def send_message(self, data: str | bytes) -> None:
        """Queue a message (sent once open). Ignored while closing or closed.

        Raises:
            LocalProtocolError: not ``str``/``bytes``, or text containing ``"\\x1e"``.
        """
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if not isinstance(data, str | bytes):
            raise _local(f"a message is str or bytes, not {type(data).__name__}")
        if isinstance(data, str) and SEPARATOR in data:
            raise _local("a text message cannot contain the record separator \\x1e")
        if self._state in (_C.DRAINING, _C.CLOSING, _C.CLOSED):
            return
        self._outbox.append(Packet(PacketType.MESSAGE, data))

    def post_ready(self) -> bool:
        """Whether the runtime should POST ``take_post_body()`` now."""
        return (self._transport is _POLLING and self._post is _IDLE and bool(self._outbox)
                and self._state in (_C.OPEN, _C.PROBING, _C.DRAINING, _C.CLOSING))

    def _writable_count(self) -> int:
        # engine.io-client's _getWritablePackets: stop before the packet that would push the
        # payload over the server's maxPayload (but always send at least one).
        limit = self.opened.max_payload if self.opened is not None else 0
        if not limit or len(self._outbox) < 2:
            return len(self._outbox)
        size = 1
        for index, packet in enumerate(self._outbox):
            data = packet.data
            if isinstance(data, bytes):
                size += math.ceil(len(data) * _BASE64_OVERHEAD)
            elif data:
                size += len(data.encode("utf-8"))
            if index > 0 and size > limit:
                return index
            size += 2
        return len(self._outbox)

    def take_post_body(self) -> bytes:
        """The body of the next POST (marks it in flight until ``post_done``).

        Raises:
            LocalProtocolError: ``post_ready()`` is false.
        """
        if not self.post_ready():
            raise _local("nothing may be posted now")
        post = SLOT_TRANSITIONS[self._post, SlotInput.START]
        self._move(_J.POST_TAKE)
        packets = [self._outbox.popleft() for _ in range(self._writable_count())]
        self._post = post
        if self._state is _C.CLOSING and packets[-1].type is PacketType.CLOSE:
            self._close(_J.CLOSE_SENT, "forced close")
        return encode_payload(packets)

    def post_done(self, *, now: float) -> list[Event]:
        """The POST in flight was answered (``ok``)."""
        self._now = now
        if self._state is _C.CLOSED:
            self._post = SLOT_TRANSITIONS[self._post, SlotInput.DROP]
            return self._events()
        try:
            post = SLOT_TRANSITIONS[self._post, SlotInput.END]
        except KeyError:
            raise _local("no POST is in flight") from None
        self._move(_J.POST_DONE)
        self._post = post
        self._maybe_finish_pause()
        self._maybe_drained()
        return self._events()

    def take_ws_frames(self) -> list[str | bytes]:
        """The frames to write on the active WebSocket, in order (``[]`` while on polling)."""
        if self._transport is not _ON_WS or self._state is _C.OPENING:
            return []
        frames = self._probe_out + [encode_ws_frame(p) for p in self._outbox]
        self._probe_out = []
        self._outbox.clear()
        return frames

    def take_probe_frames(self) -> list[str | bytes]:
        """The frames to write on the probe WebSocket (``"2probe"``, then ``"5"``)."""
        frames, self._probe_out = self._probe_out, []
        return frames
