"""The Engine.IO sessions' state machines, as tables (the shape of h11's ``_state.py``).

A session is a few small machines, one per concern, each an Enum of states and one
``(state, input) -> next state`` table. A pair missing from a table is not allowed: the session
raises ``ProtocolError`` (``LocalProtocolError`` for a call of the runtime's that does not fit,
``RemoteProtocolError`` for what the peer got wrong). The tables are the whole record of what
may follow what; the sessions keep no other flags.

``ServerSession`` (``SERVER_TABLES``):

- ``session``, ``ServerState``: the lifecycle, and where an upgrade is (``SERVER_TRANSITIONS``).
- ``poll``, ``Slot``: whether a polling GET is parked. A GET while one is parked is the missing
  pair ``(BUSY, START)``: the session closes (``"transport error"``, the parked GET gets
  ``"1"``) and the new GET is refused, as Node does ("overlap from client").
- ``transport``, ``Transport``: what carries the session, polling until an upgrade completes;
  it keeps its last value once the session closes (where the last frames go).
- ``close``, ``CloseRequest``: ``close()`` during an upgrade waits for its outcome (Node's
  ``Socket.close`` while ``upgrading``): ``DEFERRED`` until then.

``ClientSession`` (``CLIENT_TABLES``):

- ``session``, ``ClientState`` (``CLIENT_TRANSITIONS``).
- ``poll`` and ``post``, two ``Slot``: a GET in flight, a POST in flight (one of each at most,
  as engine.io-client's ``polling`` and ``writable``); a failed transport drops both.
- ``transport``, ``Transport``: polling until the upgrade completes, as on the server.
- ``upgrade``, ``UpgradeAttempt``: one probe per session; a failed upgrade is not tried again.

How the machines move together (h11's "state-triggered" transitions; code in the sessions, not
tables):

- Server: ``"5"`` on the probe moves ``session`` and ``transport`` to ``WEBSOCKET`` together,
  so ``ServerState.WEBSOCKET`` is exactly ``transport`` ``WEBSOCKET`` on an open session.
  ``close`` is ``DEFERRED`` only while ``session`` is ``PROBING`` or ``UPGRADING``; the
  upgrade's outcome settles it: ``"5"`` closes on WebSocket, a poll or a failure on polling.
- Client: ``PAUSING`` ends (``PAUSED``, ``transport`` to ``WEBSOCKET``) once both slots are
  idle; ``DRAINING`` ends once the ``post`` slot is idle and nothing is queued.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class _Member(enum.Enum):
    """An Enum whose members hash by identity (each is a singleton): the tables below are
    looked up a few times per request, and ``Enum.__hash__`` is a Python call each time."""

    __hash__ = object.__hash__

__all__ = [
    "CLIENT_TABLES",
    "CLIENT_TRANSITIONS",
    "CLOSE_TRANSITIONS",
    "SERVER_TABLES",
    "SERVER_TRANSITIONS",
    "SLOT_TRANSITIONS",
    "TRANSPORT_TRANSITIONS",
    "UPGRADE_TRANSITIONS",
    "ClientInput",
    "ClientState",
    "CloseInput",
    "CloseRequest",
    "ServerInput",
    "ServerState",
    "Slot",
    "SlotInput",
    "Transport",
    "TransportInput",
    "UpgradeAttempt",
    "UpgradeInput",
]


class ServerState(_Member):
    """The states of a ``ServerSession``."""
    POLLING = "polling"  # open on long-polling, no upgrade under way
    PROBING = "probing"  # a probe WebSocket is connected, "2probe" not seen yet
    UPGRADING = "upgrading"  # "3probe" sent, waiting for "5"
    WEBSOCKET = "websocket"  # open on WebSocket
    CLOSING = "closing"  # close() on polling: "1" queued, waiting for a poll to take it
    CLOSED = "closed"


class ServerInput(_Member):
    """What can happen to a ``ServerSession``: the inputs of its transition table."""
    POLL_GET = enum.auto()
    POLL_POST = enum.auto()
    WS_MESSAGE = enum.auto()
    BEGIN_UPGRADE = enum.auto()
    PROBE_PING = enum.auto()
    PROBE_UPGRADE = enum.auto()
    PROBE_ABORT = enum.auto()
    LOCAL_CLOSE = enum.auto()
    CLOSE_SENT = enum.auto()
    REMOTE_CLOSE = enum.auto()
    FAIL = enum.auto()


_S = ServerState
_I = ServerInput
_POLLING_LIKE = (_S.POLLING, _S.PROBING, _S.UPGRADING)

SERVER_TRANSITIONS: dict[tuple[ServerState, ServerInput], ServerState] = {
    **{(s, i): s for s in (*_POLLING_LIKE, _S.CLOSING) for i in (_I.POLL_GET, _I.POLL_POST)},
    (_S.POLLING, _I.BEGIN_UPGRADE): _S.PROBING,
    (_S.PROBING, _I.PROBE_PING): _S.UPGRADING,
    (_S.UPGRADING, _I.PROBE_PING): _S.UPGRADING,
    (_S.PROBING, _I.PROBE_UPGRADE): _S.WEBSOCKET,
    (_S.UPGRADING, _I.PROBE_UPGRADE): _S.WEBSOCKET,
    (_S.PROBING, _I.PROBE_ABORT): _S.POLLING,
    (_S.UPGRADING, _I.PROBE_ABORT): _S.POLLING,
    (_S.WEBSOCKET, _I.WS_MESSAGE): _S.WEBSOCKET,
    **{(s, _I.LOCAL_CLOSE): _S.CLOSING for s in (*_POLLING_LIKE, _S.CLOSING)},
    (_S.WEBSOCKET, _I.LOCAL_CLOSE): _S.CLOSED,
    (_S.CLOSED, _I.LOCAL_CLOSE): _S.CLOSED,
    (_S.CLOSING, _I.CLOSE_SENT): _S.CLOSED,
    **{(s, _I.REMOTE_CLOSE): _S.CLOSED for s in (*_POLLING_LIKE, _S.WEBSOCKET, _S.CLOSING)},
    **{(s, _I.FAIL): _S.CLOSED for s in ServerState},
}
"""Every allowed ``(ServerState, ServerInput) -> next state``; any other pair raises."""


class ClientState(_Member):
    """The states of a ``ClientSession``."""
    OPENING = "opening"  # waiting for the open packet
    OPEN = "open"
    PROBING = "probing"  # "2probe" queued on the probe, waiting for "3probe"
    PAUSING = "pausing"  # "3probe" received, waiting for the polls in flight to end
    DRAINING = "draining"  # close() on polling: the queued messages' POSTs still to complete
    CLOSING = "closing"  # drained: "1" queued, waiting for a POST to take it
    CLOSED = "closed"


class ClientInput(_Member):
    """What can happen to a ``ClientSession``: the inputs of its transition table."""
    OPEN_PACKET = enum.auto()
    POLL_START = enum.auto()
    POLL_RESPONSE = enum.auto()
    POST_TAKE = enum.auto()
    POST_DONE = enum.auto()
    WS_MESSAGE = enum.auto()
    BEGIN_UPGRADE = enum.auto()
    PROBE_PONG = enum.auto()
    PAUSED = enum.auto()
    PROBE_ABORT = enum.auto()
    LOCAL_CLOSE = enum.auto()
    DRAINED = enum.auto()
    CLOSE_SENT = enum.auto()
    FAIL = enum.auto()


_C = ClientState
_J = ClientInput

CLIENT_TRANSITIONS: dict[tuple[ClientState, ClientInput], ClientState] = {
    (_C.OPENING, _J.OPEN_PACKET): _C.OPEN,
    (_C.OPENING, _J.POLL_START): _C.OPENING,
    (_C.OPENING, _J.POLL_RESPONSE): _C.OPENING,
    (_C.OPENING, _J.WS_MESSAGE): _C.OPENING,
    (_C.OPENING, _J.LOCAL_CLOSE): _C.CLOSED,
    **{(s, i): s for s in (_C.OPEN, _C.PROBING)
       for i in (_J.POLL_START, _J.POLL_RESPONSE, _J.POST_TAKE, _J.POST_DONE)},
    (_C.OPEN, _J.WS_MESSAGE): _C.OPEN,
    (_C.PAUSING, _J.POLL_RESPONSE): _C.PAUSING,
    (_C.PAUSING, _J.POST_DONE): _C.PAUSING,
    (_C.OPEN, _J.BEGIN_UPGRADE): _C.PROBING,
    (_C.PROBING, _J.PROBE_PONG): _C.PAUSING,
    (_C.PAUSING, _J.PAUSED): _C.OPEN,
    (_C.PROBING, _J.PROBE_ABORT): _C.OPEN,
    (_C.PAUSING, _J.PROBE_ABORT): _C.OPEN,
    (_C.OPEN, _J.LOCAL_CLOSE): _C.DRAINING,
    **{(s, i): s for s in (_C.DRAINING, _C.CLOSING)
       for i in (_J.POLL_RESPONSE, _J.POST_TAKE, _J.POST_DONE, _J.WS_MESSAGE, _J.LOCAL_CLOSE)},
    (_C.DRAINING, _J.DRAINED): _C.CLOSING,
    (_C.CLOSING, _J.CLOSE_SENT): _C.CLOSED,
    (_C.CLOSED, _J.LOCAL_CLOSE): _C.CLOSED,
    **{(s, _J.FAIL): _C.CLOSED for s in ClientState},
}
"""Every allowed ``(ClientState, ClientInput) -> next state``; any other pair raises."""


class Slot(_Member):
    """One request slot: the server's parked GET, the client's GET or POST in flight."""
    IDLE = "idle"
    BUSY = "busy"


class SlotInput(_Member):
    """The inputs of ``SLOT_TRANSITIONS``."""
    START = enum.auto()  # the GET parks (server); the GET or the POST is sent (client)
    END = enum.auto()  # it is answered (server); its response arrived (client)
    DROP = enum.auto()  # the transport failed: whatever was in flight is gone (client)


SLOT_TRANSITIONS: dict[tuple[Slot, SlotInput], Slot] = {
    (Slot.IDLE, SlotInput.START): Slot.BUSY,
    (Slot.BUSY, SlotInput.END): Slot.IDLE,
    (Slot.IDLE, SlotInput.DROP): Slot.IDLE,
    (Slot.BUSY, SlotInput.DROP): Slot.IDLE,
}
"""Every allowed ``(Slot, SlotInput) -> next state``; any other pair raises."""


class Transport(_Member):
    """The transport carrying a session; the value is its name on the wire."""
    POLLING = "polling"
    WEBSOCKET = "websocket"


class TransportInput(_Member):
    """The inputs of ``TRANSPORT_TRANSITIONS``."""
    UPGRADED = enum.auto()


TRANSPORT_TRANSITIONS: dict[tuple[Transport, TransportInput], Transport] = {
    (Transport.POLLING, TransportInput.UPGRADED): Transport.WEBSOCKET,
}
"""Every allowed ``(Transport, TransportInput) -> next state``: an upgrade, never back."""


class CloseRequest(_Member):
    """Whether the server's ``close()`` waits for an upgrade's outcome."""
    NONE = "none"
    DEFERRED = "deferred"


class CloseInput(_Member):
    """The inputs of ``CLOSE_TRANSITIONS``."""
    DEFER = enum.auto()  # close() while an upgrade is under way
    SETTLE = enum.auto()  # the upgrade ended (or the session closed): the close is carried out


CLOSE_TRANSITIONS: dict[tuple[CloseRequest, CloseInput], CloseRequest] = {
    (CloseRequest.NONE, CloseInput.DEFER): CloseRequest.DEFERRED,
    (CloseRequest.DEFERRED, CloseInput.SETTLE): CloseRequest.NONE,
}
"""Every allowed ``(CloseRequest, CloseInput) -> next state``; any other pair raises."""


class UpgradeAttempt(_Member):
    """Whether the client has probed a WebSocket yet (once per session)."""
    NOT_TRIED = "not tried"
    TRIED = "tried"


class UpgradeInput(_Member):
    """The inputs of ``UPGRADE_TRANSITIONS``."""
    BEGIN = enum.auto()


UPGRADE_TRANSITIONS: dict[tuple[UpgradeAttempt, UpgradeInput], UpgradeAttempt] = {
    (UpgradeAttempt.NOT_TRIED, UpgradeInput.BEGIN): UpgradeAttempt.TRIED,
}
"""Every allowed ``(UpgradeAttempt, UpgradeInput) -> next state``; any other pair raises."""

SERVER_TABLES: dict[str, Mapping[Any, Any]] = {
    "session": SERVER_TRANSITIONS,
    "poll": SLOT_TRANSITIONS,
    "transport": TRANSPORT_TRANSITIONS,
    "close": CLOSE_TRANSITIONS,
}
"""The table of each machine of ``ServerSession.states``, by the same name."""

CLIENT_TABLES: dict[str, Mapping[Any, Any]] = {
    "session": CLIENT_TRANSITIONS,
    "poll": SLOT_TRANSITIONS,
    "post": SLOT_TRANSITIONS,
    "transport": TRANSPORT_TRANSITIONS,
    "upgrade": UPGRADE_TRANSITIONS,
}
"""The table of each machine of ``ClientSession.states``, by the same name."""
