"""JSON as JavaScript writes and reads it, plus binary attachments (socket.io-parser
``binary.ts``).

``deconstruct(data)`` walks the data once: it swaps every ``bytes``/``bytearray``/``memoryview``
for a ``{"_placeholder":true,"num":N}`` object (numbered in walk order) and converts what JSON
cannot hold. ``dumps`` writes compact JSON exactly as ``JSON.stringify`` does (no spaces,
non-ASCII kept, lone surrogates escaped, numbers in JavaScript's shortest form: ``1.0`` is
``1``, ``1e-05`` is ``0.00001``, ``NaN`` is ``null``). ``loads`` is strict: no ``NaN`` or
``Infinity`` literals. ``reconstruct`` puts the attachments back.

Nesting: ``loads`` refuses a value nested more than ``MAX_DEPTH`` arrays and objects deep
(``RecursionError``). The walkers recurse once per level, and so does CPython's JSON codec,
against the interpreter's recursion limit (1000 by default); the limit leaves the caller's
stack room, so that what was decoded can always be encoded again (an echo one level deeper).
Node's parser takes any depth but its server overflows its stack a few thousand levels down.

Known difference from JavaScript: an object's integer-like keys keep their Python order, while a
JavaScript object would list them first in ascending order.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "NotJSONError",
    "deconstruct",
    "dumps",
    "dumps_flat",
    "find_placeholders",
    "loads",
    "loads_at",
    "reconstruct",
]

#: The deepest nesting of arrays and objects ``loads`` takes (the outermost counts as 1).
MAX_DEPTH = 800

_SURROGATE = re.compile("[\ud800-\udfff]")
_BINARY = (bytes, bytearray, memoryview)
_encode_string = json.JSONEncoder(ensure_ascii=False).encode


class NotJSONError(TypeError):
    """The data holds something JSON cannot represent (a set, a date, a tuple key...); a
    ``TypeError`` naming its type, as ``json.dumps`` raises."""


def js_number(value: float) -> str:
    """``value`` as JavaScript's ``Number.prototype.toString`` writes it (ECMA-262
    Number::toString), with ``null`` for non-finite values as ``JSON.stringify`` does."""
    if not math.isfinite(value):
        return "null"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction.rstrip("0")) if fraction != "0" else whole
    point = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    exp = point - 1
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{head}e{'+' if exp >= 0 else '-'}{abs(exp)}"


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float):
        return js_number(key)
    raise NotJSONError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


class _Walk:
    __slots__ = ("attachments", "plain")

    def __init__(self) -> None:
        self.attachments: list[bytes] = []
        self.plain = True

    def visit(self, value: Any) -> Any:
        if value is None or value is True or value is False or isinstance(value, str):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            if not math.isfinite(value) or js_number(value) != float.__repr__(value):
                self.plain = False
            return float(value)
        if isinstance(value, _BINARY):
            self.attachments.append(bytes(value))
            return {"_placeholder": True, "num": len(self.attachments) - 1}
        # Loops rather than comprehensions: a comprehension is a frame of its own (before
        # Python 3.12), which would halve the depth reachable under the recursion limit.
        if isinstance(value, (list, tuple)):
            out: list[Any] = []
            for item in value:
                out.append(self.visit(item))
            return out
        if isinstance(value, dict):
            ready: dict[str, Any] = {}
            for key, item in value.items():
                ready[_key(key)] = self.visit(item)
            return ready
        raise NotJSONError(f"Object of type {type(value).__name__} is not JSON serializable")


def deconstruct(data: Any) -> tuple[Any, list[bytes], bool]:
    """Returns ``(json_ready, attachments, plain)``: the data with binary swapped for
    placeholders, the attachments in placeholder order, and whether ``json.dumps`` writes its
    numbers as JavaScript would (``plain``).

    Raises:
        NotJSONError: the data holds a value JSON cannot represent.
        RecursionError: the data is nested too deeply.
    """
    walk = _Walk()
    ready = walk.visit(data)
    return ready, walk.attachments, walk.plain


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif value is None or value is True or value is False:
        out.append("null" if value is None else "true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(js_number(value))
    elif isinstance(value, list):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_encode_string(key))
            out.append(":")
            _write(item, out)
        out.append("}")


def _escape_surrogates(text: str) -> str:
    # ASCII text (an O(1) flag in CPython) has no surrogate to look for.
    if not text.isascii() and _SURROGATE.search(text):
        text = _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return text


def dumps(ready: Any, *, plain: bool) -> str:
    """Compact JSON of ``ready`` (the output of ``deconstruct``), as ``JSON.stringify``."""
    if plain:
        text = _encode_plain(ready)
    else:
        out: list[str] = []
        _write(ready, out)
        text = "".join(out)
    return _escape_surrogates(text)


#: The exact types ``deconstruct`` hands back unchanged, with ``plain`` true.
_FLAT = frozenset({str, int, bool, type(None)})


def dumps_flat(data: list[Any]) -> str | None:
    """``dumps(*deconstruct(data)[::2])`` for a list holding only ``str``, ``int``, ``bool``,
    ``None`` and floats written alike by ``repr`` and JavaScript (exact types: the usual event
    arguments), without the walk and the copy; ``None`` for any other list, which needs
    ``deconstruct``."""
    for item in data:
        kind = type(item)
        if kind not in _FLAT and (
            # A float is written by ``repr`` (the encoder's) as JavaScript writes it when it
            # has a fraction (JS writes 5.0 as "5") and is at least 1e-4 (below that, ``repr``
            # takes an exponent and JavaScript does not); non-finite ones fail the range.
            kind is not float or item.is_integer() or not 1e-4 <= abs(item) < 1e16
        ):
            return None
    return _escape_surrogates(_encode_plain(data))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _not_json(value: Any) -> Any:
    raise NotJSONError(f"Object of type {type(value).__name__} is not JSON serializable")


# The writer of every packet. ``json``'s public API (``JSONEncoder(...).encode``) makes CPython's
# C encoder again on each call: 2.7 us per short event against 1.2 us for one made once (the
# same arguments ``JSONEncoder.iterencode`` passes it, so the same output; a test holds the two
# equal). ``json.encoder.c_make_encoder`` is undocumented, so the public API stands in where it
# is missing.
_public_encode = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_not_json,
    check_circular=False).encode
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_make_encoder is not None:
    # No circular-reference markers: what it is given comes from ``deconstruct`` (a fresh tree,
    # where a cycle has already raised RecursionError) or is a flat list.
    _c_encode = _c_make_encoder(
        None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False)

    def _encode_plain(ready: Any) -> str:
        return "".join(_c_encode(ready, 0))
else:  # pragma: no cover - CPython always has the C accelerator
    _encode_plain = _public_encode  # type: ignore[assignment]
_decoder = json.JSONDecoder(parse_constant=_no_constants)
_decode = _decoder.decode
_decode_at = _decoder.raw_decode
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` arrays and objects deep (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        for child in item if isinstance(item, list) else item.values():
            if isinstance(child, (list, dict)):
                stack.append((child, level + 1))
    return False


def _check_depth(value: Any, text: str, start: int) -> Any:
    # Fewer brackets than the limit cannot nest deeper: the exact walk is for rare texts only.
    if (isinstance(value, (list, dict))
            and text.count("[", start) + text.count("{", start) > MAX_DEPTH
            and _depth_over(value, MAX_DEPTH)):
        raise RecursionError(f"JSON nested more than {MAX_DEPTH} levels deep")
    return value


def loads(text: str) -> Any:
    """Parse JSON as ``JSON.parse`` does (no ``NaN``/``Infinity`` literals).

    Raises:
        ValueError: not a single valid JSON text (trailing garbage included).
        RecursionError: nested more than ``MAX_DEPTH`` levels deep.
    """
    if text.startswith("\ufeff"):
        # As json.loads: a byte order mark is not JSON.
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _check_depth(_decode(text), text, 0)


def loads_at(text: str, start: int) -> Any:
    """``loads(text[start:])`` without the copy, for a ``text[start]`` that is ``[``, ``{`` or
    ``"`` (so no byte order mark and no leading whitespace to skip).

    Raises:
        ValueError: not a single valid JSON text (trailing garbage included).
        RecursionError: nested more than ``MAX_DEPTH`` levels deep.
    """
    value, end = _decode_at(text, start)
    if end != len(text):
        end = _WHITESPACE.match(text, end).end()  # type: ignore[union-attr]
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    return _check_depth(value, text, start)


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, dict) and value.get("_placeholder") is True


def find_placeholders(data: Any, count: int) -> bool:
    """Whether every placeholder in ``data`` names an attachment ``0 <= num < count`` (an
    ``int``, not a bool or float). Raises ``RecursionError`` when nested too deeply."""
    if _is_placeholder(data):
        num = data.get("num")
        return type(num) is int and 0 <= num < count
    if isinstance(data, (list, dict)):
        for item in data if isinstance(data, list) else data.values():
            if not find_placeholders(item, count):
                return False
    return True


def reconstruct(data: Any, attachments: list[bytes]) -> Any:
    """``data`` with each placeholder swapped for its attachment (checked by
    ``find_placeholders`` first)."""
    if _is_placeholder(data):
        return attachments[data["num"]]
    if isinstance(data, list):
        out: list[Any] = []
        for item in data:
            out.append(reconstruct(item, attachments))
        return out
    if isinstance(data, dict):
        rebuilt: dict[str, Any] = {}
        for key, item in data.items():
            rebuilt[key] = reconstruct(item, attachments)
        return rebuilt
    return data
