"""``ServerSession``: one Engine.IO v4 session, server side, with no I/O.

The runtime (one driver task per session) feeds it what arrives and pulls what must be written:

Inputs (each takes ``now``, seconds, and returns the events that became due, in order):
    ``start_poll(now=)``                 a polling GET arrived; it stays *parked* until answered.
    ``receive_poll_body(body, now=)``    a polling POST body.
    ``receive_ws_message(data, now=)``   a message on the active WebSocket.
    ``begin_upgrade(now=)``              a WebSocket for this sid connected: it is the *probe*.
    ``receive_probe_message(data, now=)`` a message on the probe.
    ``probe_closed(now=)``               the probe went away before the upgrade completed.
    ``transport_closed(reason=, now=)``  the active transport died (``"transport close"`` for a
                                         clean WebSocket close, ``"transport error"`` otherwise).
    ``handle_timeout(now=)``             fires the deadlines that are due; a no-op when early.
    ``close(now=None)``                  the application closes the session ("forced close");
                                         returns its events (``SessionClosed`` on WebSocket).
    ``send_message(data)``               queue an outbound message.

Outputs:
    ``poll_ready()`` → answer the parked GET now?   ``take_poll_payload()`` → its body.
    ``take_ws_frames()`` → frames for the active WebSocket (``[]`` while on polling).
    ``take_probe_frames()`` → frames for the probe (``"3probe"``).
    ``next_deadline()`` → earliest deadline or ``None``, no side effect.
    ``events_after_error()`` → the events left behind by a ``ProtocolError`` (e.g. the messages
    decoded before it and ``SessionClosed``).

Events that do not come from an input (the close packet leaving with a poll) are due at once:
``next_deadline()`` then returns the time of the last input, and the next ``handle_timeout`` (or
any other input) returns them.

The session's state machines (its lifecycle, the parked GET, the transport, a deferred close)
are tables in ``states.py``; ``states`` shows them.

Rules, after Node's ``engine.io`` (``lib/socket.ts``, ``lib/transports/polling.ts``):

- Heartbeat: a ping is queued ``ping_interval`` after the open (or after the last pong); no pong
  within ``ping_timeout`` of the ping closes the session with ``"ping timeout"``. Any pong restarts
  the interval (Node's ``pingIntervalTimer.refresh()``), so a pong flood never adds pings.
- A second GET while one is parked is an error: the parked GET is answered with ``"1"``, the
  session closes with ``"transport error"``, the new GET is refused (400).
- A client ``"1"`` packet closes with ``"transport close"``; a parked GET then gets ``"6"``.
  Errors (parse, ping timeout, transport error) answer a parked GET with ``"1"``.
- ``close()`` on polling queues ``"1"`` after the pending messages and closes when a poll takes it
  (or after ``close_timeout``); on WebSocket it closes at once, pending frames still taken;
  during an upgrade it waits for the outcome ("5": closes on WebSocket; a poll: takes ``"1"``;
  failure: closes on polling), so a client that paused polling is not left waiting.
- Upgrade (engine.io-protocol README, "Upgrade"): ``"2probe"`` on the probe → ``"3probe"``; from
  then on a parked GET is answered at once (``"6"`` if nothing is queued) so the client can pause
  polling; ``"5"`` completes it and the WebSocket takes everything still queued, in order. Any
  other probe packet, the probe closing or ``upgrade_timeout`` abort the upgrade
  (``UpgradeFailed``), never the session. A GET still parked after the upgrade gets ``"6"``.
- Packets received while closing are ignored, except ``"1"``.
- JSONP (``jsonp=``, see ``jsonp.py``) changes only the bodies: poll answers are wrapped in the
  JSONP call, POST bodies are forms. The session may still upgrade to WebSocket.
- Once closed: ``start_poll``, ``receive_poll_body`` and ``begin_upgrade`` raise (code 1,
  "Session ID unknown"); every other input is ignored and returns ``[]``; ``send_message`` is
  ignored; a GET still parked is answered (``poll_ready()`` is true).

Known differences from Node: a ``"1"`` packet on the WebSocket closes the session (Node ignores
it and waits for the socket to close); a body over ``max_payload`` closes the session (Node answers
413 and keeps it); bad base64 after ``"b"`` is a parse error (Node's ``Buffer.from(s, "base64")``
skips bad characters and stops at ``=``, and hands on whatever bytes that leaves).
"""

from __future__ import annotations

import enum

from .config import ServerConfig, available_upgrades, open_packet_data
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .events import Event, MessageReceived, SessionClosed, Upgraded, UpgradeFailed
from .jsonp import decode_jsonp_body, encode_jsonp
from .packet import Packet, PacketType, decode_ws_frame
from .payload import SEPARATOR, check_payload_size, iter_payload_text
from .prepared import PreparedPacket, prepare_message, prepare_packet
from .states import (
    CLOSE_TRANSITIONS,
    SERVER_TRANSITIONS,
    SLOT_TRANSITIONS,
    TRANSPORT_TRANSITIONS,
    CloseInput,
    CloseRequest,
    ServerInput,
    ServerState,
    Slot,
    SlotInput,
    Transport,
    TransportInput,
)

__all__ = ["ServerSession"]


_S = ServerState
_I = ServerInput
# The members the per-message paths test, as globals (an Enum class attribute costs more).
_WEBSOCKET = ServerState.WEBSOCKET
_CLOSING = ServerState.CLOSING
_CLOSED = ServerState.CLOSED
_IDLE = Slot.IDLE
_BUSY = Slot.BUSY
_START = SlotInput.START
_END = SlotInput.END
_ON_WS = Transport.WEBSOCKET
_NO_CLOSE = CloseRequest.NONE
_DEFERRED = CloseRequest.DEFERRED

_SEPARATOR = SEPARATOR.encode("ascii")
_LOCAL_INPUTS = frozenset({_I.WS_MESSAGE, _I.LOCAL_CLOSE, _I.CLOSE_SENT})


def _bad_request(message: str = "Bad request", *, reason: str = "transport error",
                 code: int = 3) -> RemoteProtocolError:
    return RemoteProtocolError(message, reason=reason, http_status=400, ws_close_code=None,
                               code=code)


class ServerSession:
    """One Engine.IO session, server side (see the module docstring for the whole contract).

    Args:
        sid: the session id (from the runtime's id factory).
        config: the server options.
        transport: ``"polling"`` or ``"websocket"``, the transport of the handshake request.
        now: the current time, seconds.
        jsonp: the JSONP callback index (see ``jsonp_index``) when the polling handshake asked
            for JSONP: every poll answer is then a JSONP call and every POST body a form.

    Raises:
        LocalProtocolError: ``transport`` is not one of ``config.transports``.
    """

    def __init__(self, sid: str, config: ServerConfig, *, transport: str, now: float,
                 jsonp: str | None = None) -> None:
        if transport not in config.transports:
            raise LocalProtocolError(f"transport {transport!r} is not enabled",
                                     http_status=None, ws_close_code=None)
        if jsonp is not None and transport != "polling":
            raise LocalProtocolError("JSONP is a polling transport", http_status=None,
                                     ws_close_code=None)
        self.sid = sid
        self.config = config
        self.jsonp = jsonp
        self._state = _S.WEBSOCKET if transport == "websocket" else _S.POLLING
        self._poll = _IDLE
        self._transport = Transport(transport)
        # close() during an upgrade waits for its outcome, as Node does: a client that paused
        # polling for the upgrade would otherwise hear nothing until its ping timeout.
        self._close_request = _NO_CLOSE
        self._now = now
        # The queues are an empty tuple while empty, a list once something is queued: an idle
        # session holds no empty list (each is an object the garbage collector's full
        # collections visit, thousands of them on a busy server).
        self._outbox: list[PreparedPacket] | tuple[()] = [
            prepare_packet(Packet(PacketType.OPEN, open_packet_data(sid, config, transport)))]
        self._buffered = 0
        self._probe_out: list[PreparedPacket] | tuple[()] = ()
        self._pending: list[Event] | tuple[()] = ()
        self._ping_at: float | None = now + config.ping_interval
        self._pong_due: float | None = None
        self._upgrade_due: float | None = None
        self._close_due: float | None = None
        self.close_reason: str | None = None

    @property
    def state(self) -> ServerState:
        """The current state."""
        return self._state

    @property
    def states(self) -> dict[str, enum.Enum]:
        """The state of each machine of the session, by the names of ``SERVER_TABLES``."""
        return {"session": self._state, "poll": self._poll, "transport": self._transport,
                "close": self._close_request}

    @property
    def transport(self) -> str:
        """The transport carrying the session: ``"polling"`` until the upgrade completes."""
        return self._transport.value

    @property
    def upgrading(self) -> bool:
        """Whether a probe WebSocket is attached (between ``begin_upgrade`` and its outcome)."""
        return self._state in (_S.PROBING, _S.UPGRADING)

    @property
    def closed(self) -> bool:
        """Whether the session is closed."""
        return self._state is _CLOSED

    def _move(self, event: ServerInput) -> None:
        try:
            self._state = SERVER_TRANSITIONS[self._state, event]
        except KeyError:
            message = f"{event.name} is not allowed in state {self._state.name}"
            if event in _LOCAL_INPUTS:
                raise LocalProtocolError(message, http_status=None, ws_close_code=None) from None
            raise _bad_request(message) from None

    def _check_request(self, event: ServerInput) -> None:
        """Refuse an HTTP request or a WebSocket that does not fit the session (no state change)."""
        if self._state is _S.CLOSED:
            raise _bad_request("Session ID unknown", code=1)
        if (self._state, event) not in SERVER_TRANSITIONS:
            raise _bad_request()

    def _events(self) -> list[Event]:
        events = self._pending
        if not events:
            return []
        self._pending = ()
        return events

    def _note(self, event: Event) -> None:
        if self._pending:
            self._pending.append(event)
        else:
            self._pending = [event]

    def _put(self, prepared: PreparedPacket) -> None:
        if self._outbox:
            self._outbox.append(prepared)
        else:
            self._outbox = [prepared]

    def events_after_error(self) -> list[Event]:
        """The events left behind when an input raised ``ProtocolError``."""
        return self._events()

    def _close(self, event: ServerInput, reason: str, description: str | None = None, *,
               poll_reply: PacketType | None) -> None:
        if self._state is _S.CLOSED:
            return
        was_ws = self._state is _S.WEBSOCKET
        if self.upgrading:
            self._probe_out = ()
            self._note(UpgradeFailed("socket closed"))
        if self._close_request is _DEFERRED:
            self._settle_close()
        self._move(event)
        self._ping_at = self._pong_due = self._upgrade_due = self._close_due = None
        if not (was_ws and reason == "forced close"):
            self._outbox = ()
            self._buffered = 0
            if not was_ws and poll_reply is not None:
                self._outbox = [prepare_packet(Packet(poll_reply))]
        self.close_reason = reason
        self._note(SessionClosed(reason, description))

    def _fail(self, error: ProtocolError) -> None:
        self._close(_I.FAIL, error.reason, error.message, poll_reply=PacketType.CLOSE)

    def close(self, *, now: float | None = None) -> list[Event]:
        """Close the session with reason ``"forced close"``; idempotent.

        On polling, ``"1"`` is queued after the pending messages and the session closes when a
        poll takes it, or ``close_timeout`` after ``now`` (default: the time of the last input).
        On WebSocket it closes at once; the frames already queued are still returned by
        ``take_ws_frames`` and the runtime closes the socket after writing them. During an
        upgrade it waits for the outcome: ``"5"`` on the probe closes on WebSocket, a poll gets
        ``"1"`` (aborting the upgrade), a failed upgrade closes on polling. From then on new
        messages are dropped and received ones ignored.

        Returns the events of the close itself (``SessionClosed`` when it closes at once).
        """
        if now is not None:
            self._now = now
        if self._state in (_S.CLOSING, _S.CLOSED) or self._close_request is _DEFERRED:
            return []
        if self._state is _S.WEBSOCKET:
            self._close(_I.LOCAL_CLOSE, "forced close", poll_reply=None)
        elif self.upgrading:
            self._close_request = CLOSE_TRANSITIONS[self._close_request, CloseInput.DEFER]
            self._ping_at = self._pong_due = None
        else:
            self._close_on_polling()
        return self._events()

    def _close_on_polling(self) -> None:
        self._move(_I.LOCAL_CLOSE)
        self._put(prepare_packet(Packet(PacketType.CLOSE)))
        self._ping_at = self._pong_due = None
        self._close_due = self._now + self.config.close_timeout

    def transport_closed(self, *, reason: str = "transport close", now: float) -> list[Event]:
        """The active transport is gone or failed (socket closed, poll or POST aborted, a POST
        Node refuses): close with ``reason``. A parked GET gets ``"6"`` after a ``"transport
        close"``, ``"1"`` after an error (Node's ``Polling.onClose`` and ``doClose``). Ignored
        when already closed."""
        self._now = now
        reply = PacketType.NOOP if reason == "transport close" else PacketType.CLOSE
        self._close(_I.FAIL, reason, poll_reply=reply)
        return self._events()

    def next_deadline(self) -> float | None:
        """The earliest time ``handle_timeout`` has something to do, or ``None``."""
        # Asked around every poll: no list built for it.
        earliest = self._now if self._pending else None
        for deadline in (self._ping_at, self._pong_due, self._upgrade_due, self._close_due):
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    def handle_timeout(self, *, now: float) -> list[Event]:
        """Fire what is due at ``now``: the ping, the ping timeout, the upgrade timeout, the close
        timeout. Does nothing (but return pending events) when called early."""
        self._now = now
        if self._close_due is not None and now >= self._close_due:
            self._close(_I.FAIL, "forced close", poll_reply=None)
        if self._pong_due is not None and now >= self._pong_due:
            self._close(_I.FAIL, "ping timeout", poll_reply=PacketType.CLOSE)
        if self._upgrade_due is not None and now >= self._upgrade_due:
            self._abort_upgrade("timeout")
        if self._ping_at is not None and now >= self._ping_at:
            self._queue(Packet(PacketType.PING))
            self._ping_at = None
            self._pong_due = now + self.config.ping_timeout
        return self._events()

    def _on_packet(self, packet: Packet, now: float) -> None:
        if self._state is _S.CLOSING or self._close_request is _DEFERRED:
            if packet.type is PacketType.CLOSE:
                self._close(_I.REMOTE_CLOSE, "transport close", poll_reply=PacketType.NOOP)
            return
        match packet.type:
            case PacketType.MESSAGE:
                assert packet.data is not None
                self._note(MessageReceived(packet.data))
            case PacketType.PONG:
                self._pong_due = None
                self._ping_at = now + self.config.ping_interval
            case PacketType.CLOSE:
                self._close(_I.REMOTE_CLOSE, "transport close", poll_reply=PacketType.NOOP)
            case PacketType.PING:
                error = RemoteProtocolError("invalid heartbeat direction",
                                            reason="transport error", ws_close_code=1002)
                self._fail(error)
                raise error
            case _:
                pass  # open, upgrade and noop from the client are ignored, as in Node

    def start_poll(self, *, now: float) -> list[Event]:
        """A polling GET arrived; it is parked until ``poll_ready()``.

        Raises:
            RemoteProtocolError: code 1 when closed; code 3 when the session is on WebSocket
                (no state change); code 3 and reason ``"transport error"`` when a GET is already
                parked: the session then closes and the parked GET gets ``"1"``.
        """
        self._now = now
        self._check_request(_I.POLL_GET)
        try:
            poll = SLOT_TRANSITIONS[self._poll, _START]
        except KeyError:  # a GET is parked already
            error = _bad_request("Bad request")
            self._close(_I.FAIL, "transport error", "overlap from client",
                        poll_reply=PacketType.CLOSE)
            raise error from None
        self._move(_I.POLL_GET)
        self._poll = poll
        return self._events()

    def receive_poll_body(self, body: bytes, *, now: float) -> list[Event]:
        """A polling POST body: decode it and act on each packet, in order. On a JSONP session
        the body is the form of ``decode_jsonp_body``; one without a ``d`` field carries no
        packets.

        As Node's ``engine.io`` (``lib/transports/polling.ts``, ``onData``; ``lib/socket.ts``,
        ``onPacket``), a body the client got wrong is still taken (the runtime answers ``200
        ok``): the body is read as UTF-8 with invalid bytes replaced (Node's
        ``req.setEncoding("utf8")``); the packets before a malformed one (an empty segment, an
        unknown type, bad base64) are acted on, then the session closes with ``"parse error"``;
        a ping from the client closes it with ``"transport error"``. Either way a parked GET
        gets ``"1"`` and the events end with ``SessionClosed``.

        Raises:
            RemoteProtocolError: code 1 when closed, code 3 when on WebSocket (no state change);
                a body over ``max_payload`` (HTTP 413): the session closes first (see
                ``events_after_error``).
        """
        self._now = now
        self._check_request(_I.POLL_POST)
        self._move(_I.POLL_POST)
        try:
            if self.jsonp is None:
                check_payload_size(body, self.config.max_payload)
                text: str | None = body.decode("utf-8", "replace")
            else:
                text = decode_jsonp_body(body, max_payload=self.config.max_payload)
        except RemoteProtocolError as error:
            self._fail(error)
            raise
        if text is None:
            return self._events()
        try:
            for packet in iter_payload_text(text):
                self._on_packet(packet, now)
                if self._state is _S.CLOSED:
                    break
        except RemoteProtocolError as error:
            self._fail(error)
        return self._events()

    def receive_ws_message(self, data: str | bytes, *, now: float) -> list[Event]:
        """A message on the active WebSocket. Ignored once closed.

        Raises:
            LocalProtocolError: the session is not on WebSocket.
            RemoteProtocolError: an oversized (close code 1009) or malformed message, or a ping
                from the client: the session closes first.
        """
        self._now = now
        if self._state is _WEBSOCKET:  # (a close is deferred only during an upgrade)
            # The usual message: nothing else to check, and the WebSocket state stays as it is.
            limit = self.config.max_payload
            if type(data) is str:
                # Its UTF-8 size is at most 4 bytes a character, and its length when ASCII.
                if data[:1] == "4" and (
                    len(data) * 4 <= limit or (data.isascii() and len(data) <= limit)
                ):
                    return self._received(data[1:])
            elif type(data) is bytes and len(data) <= limit:
                return self._received(data)
        if self._state is _S.CLOSED:
            return self._events()
        self._move(_I.WS_MESSAGE)
        size = len(data) if isinstance(data, bytes | bytearray) else len(data.encode("utf-8"))
        try:
            if size > self.config.max_payload:
                raise RemoteProtocolError(
                    f"message of {size} bytes exceeds max_payload={self.config.max_payload}",
                    reason="transport error", http_status=None, ws_close_code=1009)
            packet = decode_ws_frame(data)
        except RemoteProtocolError as error:
            self._fail(error)
            raise
        self._on_packet(packet, now)
        return self._events()

    def _received(self, data: str | bytes) -> list[Event]:
        received = MessageReceived(data)
        if not self._pending:
            return [received]
        self._note(received)
        return self._events()

    def begin_upgrade(self, *, now: float) -> list[Event]:
        """A WebSocket for this sid connected; it becomes the probe, for ``upgrade_timeout``.

        Raises:
            RemoteProtocolError: code 1 when closed, code 3 when the session cannot upgrade (not
                on polling, already upgrading, closing, or upgrades disabled). No state change.
        """
        self._now = now
        self._check_request(_I.BEGIN_UPGRADE)
        if not available_upgrades(self.config, "polling"):
            raise _bad_request()
        self._move(_I.BEGIN_UPGRADE)
        self._upgrade_due = now + self.config.upgrade_timeout
        return self._events()

    def _abort_upgrade(self, reason: str) -> None:
        self._move(_I.PROBE_ABORT)
        self._upgrade_due = None
        self._probe_out = ()
        self._note(UpgradeFailed(reason))
        if self._close_request is _DEFERRED:
            self._settle_close()
            self._close_on_polling()

    def _settle_close(self) -> None:
        self._close_request = CLOSE_TRANSITIONS[self._close_request, CloseInput.SETTLE]

    def receive_probe_message(self, data: str | bytes, *, now: float) -> list[Event]:
        """A message on the probe. ``"2probe"`` queues ``"3probe"``; ``"5"`` completes the upgrade
        (``Upgraded``); anything else aborts it (``UpgradeFailed``, the runtime closes the probe).
        Ignored when no upgrade is under way."""
        self._now = now
        if not self.upgrading:
            return self._events()
        try:
            packet = decode_ws_frame(data)
        except RemoteProtocolError:
            self._abort_upgrade("probe error")
            return self._events()
        if packet.type is PacketType.PING and packet.data == "probe":
            self._move(_I.PROBE_PING)
            self._probe_out = [*self._probe_out, prepare_packet(Packet(PacketType.PONG, "probe"))]
        elif packet.type is PacketType.UPGRADE:
            self._move(_I.PROBE_UPGRADE)
            self._transport = TRANSPORT_TRANSITIONS[self._transport, TransportInput.UPGRADED]
            self._upgrade_due = None
            self._note(Upgraded())
            if self._close_request is _DEFERRED:
                self._close(_I.LOCAL_CLOSE, "forced close", poll_reply=None)
        else:
            self._abort_upgrade("probe error")
        return self._events()

    def probe_closed(self, *, now: float) -> list[Event]:
        """The probe WebSocket closed or failed; aborts the upgrade if one is under way."""
        self._now = now
        if self.upgrading:
            self._abort_upgrade("transport closed")
        return self._events()

    def _queue(self, packet: Packet) -> None:
        prepared = prepare_packet(packet)
        self._put(prepared)
        self._buffered += prepared.size

    def send_message(self, data: str | bytes | PreparedPacket) -> None:
        """Queue a message: its data, or a message prepared once for many sessions with
        ``prepare_message`` (a broadcast). Ignored while closing or closed (as Node does).

        Raises:
            LocalProtocolError: ``data`` is neither ``str`` nor ``bytes``, or is text containing
                ``"\\x1e"`` (it cannot be framed on long-polling).
        """
        prepared = data if isinstance(data, PreparedPacket) else prepare_message(data)
        state = self._state
        if state is _CLOSING or state is _CLOSED or self._close_request is _DEFERRED:
            return
        self._put(prepared)
        self._buffered += prepared.size

    def sends_at_once(self) -> bool:
        """Whether a message sent now may go on the active WebSocket without being queued:
        open, on the WebSocket, with nothing queued (so ``send_message`` then
        ``take_ws_packets`` would hand back just that message). A runtime that writes a
        prepared message itself when this holds leaves the core as it would have found it."""
        state = self._state
        return (self._transport is _ON_WS and not self._outbox and not self._probe_out
                and state is not _CLOSING and state is not _CLOSED
                and self._close_request is not _DEFERRED)

    def buffered_bytes(self) -> int:
        """Roughly how many bytes wait to be sent (payload sizes plus one per packet)."""
        return self._buffered

    @property
    def poll_parked(self) -> bool:
        """Whether a polling GET is parked (``start_poll`` called, not yet answered)."""
        return self._poll is _BUSY

    def poll_ready(self) -> bool:
        """Whether the parked GET should be answered now."""
        if self._poll is _IDLE:
            return False
        return (bool(self._outbox) or self._close_request is _DEFERRED
                or self._state in (_S.UPGRADING, _S.WEBSOCKET, _S.CLOSED))

    def take_poll_payload(self) -> bytes:
        """Answer the parked GET: everything queued, encoded, or ``"6"`` when nothing is (during
        an upgrade, after it, or once closed); wrapped by ``encode_jsonp`` on a JSONP session.

        Raises:
            LocalProtocolError: no GET is parked.
        """
        try:
            self._poll = SLOT_TRANSITIONS[self._poll, _END]
        except KeyError:
            raise LocalProtocolError("no poll request is parked", http_status=None,
                                     ws_close_code=None) from None
        if self._close_request is _DEFERRED:
            self._abort_upgrade("socket closed")  # the poll takes the "1" instead
        if self._transport is _ON_WS:
            return self._poll_body([prepare_packet(Packet(PacketType.NOOP))])
        packets = self._outbox or [prepare_packet(Packet(PacketType.NOOP))]
        self._outbox = ()
        self._buffered = 0
        if self._state is _S.CLOSING and packets[-1].packet.type is PacketType.CLOSE:
            self._close(_I.CLOSE_SENT, "forced close", poll_reply=None)
        return self._poll_body(packets)

    def _poll_body(self, packets: list[PreparedPacket]) -> bytes:
        payload = _SEPARATOR.join([p.poll_segment() for p in packets])
        return payload if self.jsonp is None else encode_jsonp(payload, self.jsonp)

    def take_ws_packets(self, max_bytes: int | None = None) -> list[PreparedPacket]:
        """The packets to write on the active WebSocket, in order (``[]`` while on polling):
        what ``take_ws_frames`` encodes, for a runtime that shares their encodings.

        With ``max_bytes``, only the first packets up to about that size (at least one): the
        rest stays queued, and counts in ``buffered_bytes``, until taken.
        """
        if self._transport is not _ON_WS:
            return []
        packets = [*self._probe_out, *self._outbox] if self._probe_out else self._outbox
        if not packets:
            return []
        self._probe_out = ()
        if max_bytes is not None and self._buffered > max_bytes:
            size = n = 0
            while size < max_bytes:  # ends within the list: its sizes add up to more
                size += packets[n].size
                n += 1
            packets, self._outbox = packets[:n], packets[n:] or ()
            self._buffered = max(0, self._buffered - size)  # the probe's were not counted
            return packets
        self._outbox = ()
        self._buffered = 0
        return packets

    def take_ws_frames(self) -> list[str | bytes]:
        """The frames to write on the active WebSocket, in order (``[]`` while on polling)."""
        return [p.ws_frame() for p in self.take_ws_packets()]

    def take_probe_frames(self) -> list[str | bytes]:
        """The frames to write on the probe WebSocket (``"3probe"``)."""
        packets, self._probe_out = self._probe_out, ()
        return [p.ws_frame() for p in packets]
