"""``ServerOptions``: the options of ``engineio_core.Server`` a server built on it passes on.

``socketio_core.Server(**options)`` takes these and hands them to its Engine.IO server as they
are (``Unpack[ServerOptions]``), so each is named and typed once, here and on ``Server``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from .cors import CorsSetting
    from .forwarded import ForwardedAllowIps
    from .server import AllowRequest

__all__ = ["ServerOptions"]


class ServerOptions(TypedDict, total=False):
    """Options of ``engineio_core.Server`` (see it for each), all optional."""

    ping_interval: float
    ping_timeout: float
    upgrade_timeout: float
    transports: Sequence[str]
    allow_upgrades: bool
    cors_allowed_origins: CorsSetting
    cors_credentials: bool
    cookie: bool | str | Mapping[str, Any] | None
    allow_request: AllowRequest | None
    per_message_deflate: bool
    http_compression: bool
    max_buffered_bytes: int
    forwarded_allow_ips: ForwardedAllowIps
