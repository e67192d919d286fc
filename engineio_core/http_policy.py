"""HTTP details of the Engine.IO server that are policy, not protocol: cookies and compression.

Pure functions, so they are tested without sockets.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CookieOptions", "choose_encoding", "compress_body", "cookie_options"]


@dataclass(frozen=True, slots=True)
class CookieOptions:
    """The ``cookie`` option, with Node's defaults (``io``, path ``/``, HttpOnly, SameSite=Lax)."""

    name: str = "io"
    path: str | None = "/"
    http_only: bool = True
    same_site: str | None = "Lax"
    secure: bool = False
    domain: str | None = None
    max_age: int | None = None

    def header(self, sid: str) -> str:
        """The ``Set-Cookie`` value for a session id, attributes in the order Node writes them."""
        parts = [f"{self.name}={sid}"]
        if self.max_age is not None:
            parts.append(f"Max-Age={self.max_age}")
        if self.domain:
            parts.append(f"Domain={self.domain}")
        if self.path:
            parts.append(f"Path={self.path}")
        if self.http_only:
            parts.append("HttpOnly")
        if self.secure:
            parts.append("Secure")
        if self.same_site:
            parts.append(f"SameSite={self.same_site.capitalize()}")
        return "; ".join(parts)


def cookie_options(setting: bool | str | Mapping[str, Any] | None) -> CookieOptions | None:
    """Normalise the ``cookie`` option: ``None``/``False`` (no cookie), ``True``, a name, or a
    mapping of ``CookieOptions`` fields."""
    if setting is None or setting is False:
        return None
    if setting is True:
        return CookieOptions()
    if isinstance(setting, str):
        return CookieOptions(name=setting)
    return CookieOptions(**dict(setting))


def choose_encoding(accept_encoding: str | None) -> str | None:
    """Pick ``gzip`` or ``deflate`` from an ``Accept-Encoding`` header, preferring gzip."""
    if not accept_encoding:
        return None
    offered: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        offered[name.strip().lower()] = quality
    for candidate in ("gzip", "deflate"):
        if offered.get(candidate, offered.get("*", 0.0)) > 0:
            return candidate
    return None


def compress_body(body: bytes, encoding: str) -> bytes:
    """Compress a response body with the chosen content encoding."""
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0)
    return zlib.compress(body, 6)
