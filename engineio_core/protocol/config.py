"""Server configuration and the handshake (``open``) packet.

Times are seconds here and milliseconds on the wire. The option names are the snake_case of Node's
(``pingInterval``, ``pingTimeout``, ``upgradeTimeout``, ``maxHttpBufferSize``, ``transports``,
``allowUpgrades``); ``close_timeout`` is Node's fixed 30 s wait for a poll to carry a close packet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["TRANSPORTS", "ServerConfig", "available_upgrades", "open_packet_data"]

TRANSPORTS = ("polling", "websocket")


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The Engine.IO options a ``ServerSession`` obeys.

    Raises:
        ValueError: a non-positive time or size, an unknown or duplicated transport, or no
            transport at all.
    """

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    max_payload: int = 1_000_000
    upgrade_timeout: float = 10.0
    transports: tuple[str, ...] = TRANSPORTS
    allow_upgrades: bool = True
    close_timeout: float = 30.0

    def __post_init__(self) -> None:
        _positive("ping_interval", self.ping_interval)
        _positive("ping_timeout", self.ping_timeout)
        _positive("upgrade_timeout", self.upgrade_timeout)
        _positive("close_timeout", self.close_timeout)
        if isinstance(self.max_payload, bool) or not isinstance(self.max_payload, int) \
                or self.max_payload < 1:
            raise ValueError(f"max_payload must be a positive int, got {self.max_payload!r}")
        transports = tuple(self.transports)
        if not transports or len(set(transports)) != len(transports) \
                or any(t not in TRANSPORTS for t in transports):
            raise ValueError(f"transports must be distinct names among {TRANSPORTS}, "
                             f"got {self.transports!r}")
        object.__setattr__(self, "transports", transports)
        if not isinstance(self.allow_upgrades, bool):
            raise ValueError("allow_upgrades must be a bool")


def available_upgrades(config: ServerConfig, transport: str) -> list[str]:
    """The upgrades offered to a session on ``transport``: ``["websocket"]`` from polling when
    upgrades are allowed and WebSocket is enabled, else ``[]`` (Node's ``getAvailableUpgrades``)."""
    if transport == "polling" and config.allow_upgrades and "websocket" in config.transports:
        return ["websocket"]
    return []


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def open_packet_data(sid: str, config: ServerConfig, transport: str) -> str:
    """The JSON payload of the ``open`` packet, keys in Node's order and with Node's compact
    formatting: ``{"sid":…,"upgrades":[…],"pingInterval":ms,"pingTimeout":ms,"maxPayload":n}``."""
    return json.dumps(
        {
            "sid": sid,
            "upgrades": available_upgrades(config, transport),
            "pingInterval": _ms(config.ping_interval),
            "pingTimeout": _ms(config.ping_timeout),
            "maxPayload": config.max_payload,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
