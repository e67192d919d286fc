"""WebSocket data frames of the common kind, parsed and built without wsproto's machinery.

Only what needs no state: whole (FIN) text or binary frames, no RSV bits, no extension. The
caller hands anything else to wsproto (see ``WebSocket``), which stays the reference for every
rule; these functions must produce exactly the messages and bytes wsproto would.
"""

from __future__ import annotations

import struct

__all__ = ["build_frame", "take_messages", "unmask"]

_TEXT = 0x81  # FIN + opcode 1
_BINARY = 0x82  # FIN + opcode 2
_MASKED = 0x80
_HEAD16 = struct.Struct("!BBH")
_HEAD64 = struct.Struct("!BBQ")

# Up to this size XOR through Python ints is the fastest unmasking; above it, byte translation
# tables (four strided passes) win: table k maps each byte to itself XOR k.
_INT_XOR_LARGEST = 2048
_IDENTITY = int.from_bytes(bytes(range(256)), "big")
_XOR_TABLES = tuple((_IDENTITY ^ int.from_bytes(bytes((k,)) * 256, "big")).to_bytes(256, "big")
                    for k in range(256))


def unmask(data: bytes | bytearray | memoryview, key: bytes | bytearray | memoryview) -> bytes:
    """``data`` XOR the repeated 4-byte ``key`` (RFC 6455 §5.3), as new bytes."""
    n = len(data)
    if n <= _INT_XOR_LARGEST:
        if not n:
            return b""
        mask = (bytes(key) * ((n >> 2) + 1))[:n]
        return (int.from_bytes(data, "little") ^ int.from_bytes(mask, "little")).to_bytes(
            n, "little")
    out = bytearray(data)
    for i in range(4):
        out[i::4] = out[i::4].translate(_XOR_TABLES[key[i]])
    return bytes(out)


def take_messages(
    buf: bytes | bytearray, masked: bool, limit: int, out: list[str | bytes]
) -> tuple[int, bool]:
    """Decode the whole simple messages at the start of ``buf`` into ``out``.

    ``masked``: whether frames must be masked (we are the server). ``limit``: the largest
    payload accepted here. Returns ``(used, foreign)``: the bytes consumed, and whether the frame
    at ``used`` is one this parser does not take (control, fragment, RSV bits, wrong masking,
    non-minimal length, over ``limit``, invalid UTF-8); if not foreign, ``buf[used:]`` is the
    start of an incomplete frame.
    """
    pos = 0
    end = len(buf)
    want = _MASKED if masked else 0
    while end - pos >= 2:
        b0 = buf[pos]
        b1 = buf[pos + 1]
        if (b0 != _TEXT and b0 != _BINARY) or (b1 & _MASKED) != want:
            return pos, True
        n = b1 & 0x7F
        start = pos + 2
        if n == 126:
            if end - start < 2:
                break
            n = (buf[start] << 8) | buf[start + 1]
            if n < 126:
                return pos, True
            start += 2
        elif n == 127:
            if end - start < 8:
                break
            n = int.from_bytes(buf[start:start + 8], "big")
            if n < 65536 or n >> 63:
                return pos, True
            start += 8
        if n > limit:
            return pos, True
        if masked:
            stop = start + 4 + n
            if stop > end:
                break
            if n > _INT_XOR_LARGEST:
                view = memoryview(buf)
                payload = unmask(view[start + 4:stop], buf[start:start + 4])
                view.release()
            else:
                payload = unmask(buf[start + 4:stop], buf[start:start + 4])
        else:
            stop = start + n
            if stop > end:
                break
            payload = bytes(buf[start:stop])
        if b0 == _TEXT:
            try:
                out.append(payload.decode("utf-8"))
            except UnicodeDecodeError:
                return pos, True
        else:
            out.append(payload)
        pos = stop
    return pos, False


def build_frame(message: str | bytes) -> tuple[bytes, bytes]:
    """The unmasked single frame for a whole message: ``(header, payload)``.

    The same bytes wsproto's server connection sends without an extension.

    Raises:
        UnicodeEncodeError: ``message`` holds a lone surrogate (as wsproto).
    """
    if isinstance(message, str):
        payload = message.encode("utf-8")
        first = _TEXT
    else:
        payload = bytes(message)
        first = _BINARY
    n = len(payload)
    if n < 126:
        return bytes((first, n)), payload
    if n < 65536:
        return _HEAD16.pack(first, 126, n), payload
    return _HEAD64.pack(first, 127, n), payload
