"""What the Socket.IO connection cores report to their runtime.

``ServerConnection`` returns ``ConnectRequested``, ``EventReceived``, ``AckReceived``,
``AckTimedOut``, ``Disconnected`` and ``ConnectTimedOut``; ``ClientConnection`` returns
``Connected``, ``ConnectRefused``, ``EventReceived``, ``AckReceived``, ``AckTimedOut`` and
``Disconnected``. Consume them with ``match`` and ``assert_never``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AckReceived",
    "AckTimedOut",
    "ClientEvent",
    "ConnectRefused",
    "ConnectRequested",
    "ConnectTimedOut",
    "Connected",
    "Disconnected",
    "Event",
    "EventReceived",
    "ServerEvent",
]


@dataclass(frozen=True, slots=True)
class ConnectRequested:
    """Server: the client asked to join ``namespace``. Answer with ``accept`` or ``reject``.

    ``auth`` is the CONNECT payload, ``{}`` when the client sent none (as Node's default).
    """

    namespace: str
    auth: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConnectTimedOut:
    """Server: no namespace was joined within ``connect_timeout``. The core is closed; the
    runtime closes the Engine.IO session (Node's reason: ``"forced server close"``)."""


@dataclass(frozen=True, slots=True)
class Connected:
    """Client: the server accepted us on ``namespace`` with socket id ``sid`` (``pid`` is set
    only when the server has connection state recovery enabled)."""

    namespace: str
    sid: str
    pid: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectRefused:
    """Client: the server refused ``namespace`` (a CONNECT_ERROR packet), or its CONNECT
    answer had no ``sid``. ``message`` and ``data`` are those of Node's ``connect_error``
    (the runtime raises them as ``socketio_core.ConnectError``)."""

    namespace: str
    message: str
    data: Any = None


@dataclass(frozen=True, slots=True)
class EventReceived:
    """The peer emitted ``event`` with ``args`` on ``namespace``; when ``ack_id`` is set it
    waits for an answer through ``ack(namespace, ack_id, args)``."""

    namespace: str
    event: str
    args: tuple[Any, ...]
    ack_id: int | None = None


@dataclass(frozen=True, slots=True)
class AckReceived:
    """The peer answered our emit ``ack_id`` on ``namespace`` with ``args``."""

    namespace: str
    ack_id: int
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class AckTimedOut:
    """Our emit ``ack_id`` on ``namespace`` got no answer before its deadline (Node's error:
    ``"operation has timed out"``); a late answer is ignored."""

    namespace: str
    ack_id: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The socket on ``namespace`` is gone, for ``reason`` (Node's spelling). ``pending_acks``
    are the ack ids of our emits still unanswered; they will never be reported again."""

    namespace: str
    reason: str
    pending_acks: tuple[int, ...] = ()


ServerEvent = (
    ConnectRequested | EventReceived | AckReceived | AckTimedOut | Disconnected | ConnectTimedOut
)
ClientEvent = Connected | ConnectRefused | EventReceived | AckReceived | AckTimedOut | Disconnected
Event = ServerEvent | ClientEvent
