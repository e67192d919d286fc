"""Header lists as the transports write them: bytes pairs, framed by the transport."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["UNFRAMED", "as_bytes", "framed"]

# The body's framing is the transport's to write: a caller's own copies of these are dropped.
UNFRAMED = (b"content-length", b"transfer-encoding")


def as_bytes(value: str | bytes) -> bytes:
    """A header name or value as bytes (latin-1, as HTTP/1.1 fields are)."""
    return value.encode("latin-1") if isinstance(value, str) else value


def framed(
    headers: Iterable[tuple[str | bytes, str | bytes]], length: int | None, *,
    lower: bool = False,
) -> list[tuple[bytes, bytes]]:
    """``headers`` as bytes pairs without any ``Content-Length`` or ``Transfer-Encoding`` of
    their own, then ``Content-Length: length`` (none when ``length`` is ``None``); names
    lowercased with ``lower`` (as ASGI requires)."""
    out = []
    for name, value in headers:
        raw = as_bytes(name)
        folded = raw.lower()
        if folded not in UNFRAMED:
            out.append((folded if lower else raw, as_bytes(value)))
    if length is not None:
        out.append((b"content-length", str(length).encode()))
    return out
