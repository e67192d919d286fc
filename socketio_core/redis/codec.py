"""The value encodings of the official Redis adapters, as pure functions (no I/O, no clock).

Three encodings travel on a Node cluster's Redis (shared/cluster-wire.md §1):

- msgpack, as ``notepack.io`` 3 writes it (the pub/sub and sharded adapters, the emitter) and as
  ``@msgpack/msgpack`` 2.8 writes it (the streams adapter). For what Python can hold they agree:
  ``None`` is ``nil``, bytes are ``bin`` (8/16/32), a ``float`` is a float64, an ``int`` takes the
  smallest integer format. The two differ only on JavaScript's ``undefined``, which Python never
  sends: a message leaves an absent key out (``omit`` in the builders), never sends it as ``nil``,
  because Node reads a ``nil`` key as present. ``unpack`` reads both, plus notepack's legacy
  ``undefined`` (fixext 0, read as ``None``) and ``ArrayBuffer`` (ext 0, read as bytes), and the
  timestamp extension (-1, read as JavaScript's ``toISOString()`` text, which is what a Node
  server would send its clients for a ``Date``).
- JSON, as ``JSON.stringify`` writes it, where a Node ``Buffer`` becomes
  ``{"type":"Buffer","data":[...]}``; the receiver keeps that object (so does Node's).
- Which one a message is, when either may come: the first byte alone, ``{`` for JSON.

Every decoding failure raises ``CodecError``; nothing else escapes, whatever the bytes. Nothing
here unpickles or evaluates anything.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import msgpack

from ..protocol import jsjson

__all__ = [
    "CodecError",
    "decode_auto",
    "has_binary",
    "json_dumps",
    "json_loads",
    "pack",
    "unpack",
]

_BINARY = (bytes, bytearray, memoryview)


class CodecError(ValueError):
    """A message that is not in the expected format; ``kind`` names what was wrong (a short
    stable text, so that a listener logs each kind once)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def has_binary(value: Any) -> bool:
    """Whether ``value`` holds bytes anywhere (socket.io-adapter's ``hasBinary``)."""
    if isinstance(value, _BINARY):
        return True
    if isinstance(value, (list, tuple)):
        return any(has_binary(item) for item in value)
    if isinstance(value, dict):
        return any(has_binary(item) for item in value.values())
    return False


def _pack_default(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} cannot travel through the cluster")


def pack(value: Any) -> bytes:
    """``value`` as msgpack, as notepack and @msgpack/msgpack write it.

    Raises:
        CodecError: ``value`` holds something msgpack cannot carry (an ``int`` beyond 64 bits,
            a set, an arbitrary object).
    """
    try:
        packed: bytes = msgpack.packb(value, use_bin_type=True, default=_pack_default)
    except (TypeError, ValueError, OverflowError) as error:
        raise CodecError("not serializable", str(error)) from None
    return packed


def _ext(code: int, data: bytes) -> Any:
    if code == 0:
        # notepack 3 writes ``undefined`` as fixext 1 of type 0, an ArrayBuffer as ext type 0.
        return None if data == b"\x00" else bytes(data)
    raise CodecError("unknown msgpack extension", str(code))


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _dates_to_text(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return _iso(value)
    if isinstance(value, list):
        return [_dates_to_text(item) for item in value]
    if isinstance(value, dict):
        return {key: _dates_to_text(item) for key, item in value.items()}
    return value


def unpack(data: bytes) -> Any:
    """One msgpack value, the whole of ``data``.

    Raises:
        CodecError: not exactly one valid msgpack value.
    """
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext,
                                timestamp=3)
    except CodecError:
        raise
    except Exception as error:  # msgpack's own errors are not one family
        raise CodecError("invalid msgpack", f"{type(error).__name__}: {error}") from None
    # A timestamp is written with the type byte 0xff; without that byte there is none to look for.
    if b"\xff" in data:
        value = _dates_to_text(value)
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return jsjson.dumps(key, plain=False)
    raise CodecError("not serializable", f"object key {type(key).__name__}")


class _Walk:
    """Makes a value JSON-ready as ``JSON.stringify`` sees it: bytes as Node's Buffer object,
    tuples as arrays, keys as text; notes whether every float prints the same in Python."""

    __slots__ = ("plain",)

    def __init__(self) -> None:
        self.plain = True

    def visit(self, value: Any) -> Any:
        if value is None or value is True or value is False or isinstance(value, str):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            if not math.isfinite(value) or jsjson.js_number(value) != float.__repr__(value):
                self.plain = False
            return float(value)
        if isinstance(value, _BINARY):
            return {"type": "Buffer", "data": list(bytes(value))}
        if isinstance(value, (list, tuple)):
            return [self.visit(item) for item in value]
        if isinstance(value, dict):
            return {_key(key): self.visit(item) for key, item in value.items()}
        raise CodecError("not serializable", f"{type(value).__name__} is not JSON")


def json_dumps(value: Any) -> bytes:
    """``value`` as ``JSON.stringify`` writes it (Buffers as their object), UTF-8.

    Raises:
        CodecError: ``value`` holds something JSON cannot carry.
    """
    walk = _Walk()
    try:
        ready = walk.visit(value)
    except RecursionError:
        raise CodecError("not serializable", "nested too deeply") from None
    return jsjson.dumps(ready, plain=walk.plain).encode()


def json_loads(data: bytes | str) -> Any:
    """One JSON text, as ``JSON.parse`` reads it.

    Raises:
        CodecError: not valid UTF-8, or not exactly one JSON text.
    """
    try:
        text = data if isinstance(data, str) else data.decode("utf-8")
        return jsjson.loads(text)
    except (ValueError, RecursionError) as error:
        raise CodecError("invalid JSON", f"{type(error).__name__}: {error}") from None


def decode_auto(data: bytes) -> Any:
    """JSON when ``data`` starts with ``{``, else msgpack: how every Node adapter tells them
    apart (cluster-wire.md §1, Encodings).

    Raises:
        CodecError: not valid in the encoding its first byte names.
    """
    if data[:1] == b"{":
        return json_loads(data)
    return unpack(data)
