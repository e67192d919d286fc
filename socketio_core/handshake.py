"""``Handshake``: the details of a client's connection, as Node's ``socket.handshake``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

__all__ = ["Handshake"]


@dataclass(frozen=True, slots=True)
class Handshake:
    """The details of the connection, as Node's ``socket.handshake``."""

    headers: Mapping[str, str]
    query: Mapping[str, str]
    auth: dict[str, Any]
    address: str
    url: str
    secure: bool
    issued: int = field(default_factory=lambda: int(time.time() * 1000))
    xdomain: bool = False

    @property
    def time(self) -> str:
        """When the connection was made, as an HTTP date."""
        return formatdate(self.issued / 1000, usegmt=True)
