"""The events the session cores return. Consume them with ``match`` and ``assert_never``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Event",
    "MessageReceived",
    "Opened",
    "SessionClosed",
    "UpgradeFailed",
    "Upgraded",
]


@dataclass(frozen=True, slots=True)
class Opened:
    """Client side: the server's ``open`` packet arrived (times in seconds)."""

    sid: str
    upgrades: tuple[str, ...]
    ping_interval: float
    ping_timeout: float
    max_payload: int


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A ``message`` packet arrived: text (``str``) or binary (``bytes``)."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Upgraded:
    """The session now runs on the WebSocket that was the probe."""

    transport: str = "websocket"


@dataclass(frozen=True, slots=True)
class UpgradeFailed:
    """The upgrade attempt ended without success; the session stays on polling. The runtime must
    close the probe WebSocket if it is still open. ``reason``: ``"probe error"`` (unexpected
    packet), ``"timeout"`` (no upgrade within ``upgrade_timeout``), ``"transport closed"`` (the
    probe closed) or ``"socket closed"`` (the session closed)."""

    reason: str


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """The session is over. ``reason`` is spelled as Node spells it: ``"transport close"``,
    ``"transport error"``, ``"parse error"``, ``"ping timeout"``, ``"forced close"``."""

    reason: str
    description: str | None = None


Event = Opened | MessageReceived | Upgraded | UpgradeFailed | SessionClosed
