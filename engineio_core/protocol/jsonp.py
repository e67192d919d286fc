"""JSONP long-polling: the polling payload carried as a JavaScript call and as a form field.

Behaviour of Node's ``engine.io`` (``lib/transports/polling-jsonp.ts``, ``lib/transports/index.ts``)
that this module reproduces:

- A polling handshake whose query carries ``j`` (any value, even empty; the last one when repeated)
  makes the whole session JSONP. Later requests of the session are JSONP whatever their own ``j``;
  a handshake without ``j`` makes a plain session whatever later requests carry.
- The callback index is the ASCII digits of ``j``, everything else dropped (``j=1x2`` → ``12``,
  ``j=abc`` → the empty index).
- A GET answer is ``___eio[INDEX](JSON);`` where JSON is the polling payload as a JSON string
  literal, with U+2028 and U+2029 escaped so that it is valid JavaScript too.
- A POST body is an ``application/x-www-form-urlencoded`` form; its single field ``d`` holds the
  payload. A body without ``d``, or with ``d`` twice, carries nothing and is not an error. In ``d``
  the two characters ``\\n`` stand for a newline and ``\\\\n`` for the two characters ``\\n``.
- Node reads the body as UTF-8 and never refuses it: bytes that are not UTF-8 become U+FFFD, and
  so do percent-escapes that are not (``querystring``'s fallback decoder).
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from .errors import LocalProtocolError
from .payload import check_payload_size

__all__ = ["decode_jsonp_body", "encode_jsonp", "jsonp_index"]

_MAX_FIELDS = 1000  # Node's querystring.parse reads at most this many pairs (its maxKeys)
_DIGITS = frozenset("0123456789")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_MALFORMED_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_NEWLINE = re.compile(r"(\\)?\\n")


def jsonp_index(j: str) -> str:
    """The callback index for the handshake's ``j`` value: its ASCII digits, in order."""
    return "".join(char for char in j if char in _DIGITS)


def encode_jsonp(payload: bytes, index: str) -> bytes:
    """Wrap a polling payload (UTF-8) as the body of a JSONP GET answer.

    ``b"4hi"`` with index ``"0"`` → ``b'___eio[0]("4hi");'``.

    Raises:
        LocalProtocolError: ``payload`` is not UTF-8 or ``index`` is not digits only.
    """
    if not all(char in _DIGITS for char in index):
        raise LocalProtocolError(f"a JSONP index is digits only, not {index!r}",
                                 http_status=None, ws_close_code=None)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LocalProtocolError("a polling payload is UTF-8", http_status=None,
                                 ws_close_code=None) from exc
    # json.dumps escapes exactly what JSON.stringify does (quote, backslash, controls with
    # lowercase hex); JavaScript source also forbids raw U+2028/U+2029 in a string literal.
    literal = json.dumps(text, ensure_ascii=False)
    literal = literal.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"___eio[{index}]({literal});".encode()


def decode_jsonp_body(body: bytes, *, max_payload: int) -> str | None:
    """The polling payload carried by a JSONP POST body, or ``None`` when it carries none.

    Args:
        body: the raw HTTP body, a form whose field ``d`` holds the payload.
        max_payload: the largest body accepted, in bytes (checked on the raw body, as Node).

    Raises:
        RemoteProtocolError: ``http_status`` 413 and reason ``"transport error"`` when the body
            is larger than ``max_payload``. Nothing else: any other body decodes to something.
    """
    check_payload_size(body, max_payload)
    fields: dict[str, list[str]] = {}
    budget = _MAX_FIELDS
    for pair in body.decode("utf-8", "replace").split("&"):
        if pair:
            key, eq, value = pair.partition("=")
            fields.setdefault(_form_key(key), []).append(_form_value(value) if eq else "")
        budget -= 1  # an empty pair counts too
        if budget == 0:
            break
    values = fields.get("d", [])
    if len(values) != 1:
        return None
    data = _NEWLINE.sub(lambda match: match[0] if match[1] else "\n", values[0])
    return data.replace("\\\\n", "\\n")


def _form_key(raw: str) -> str:
    # querystring turns "+" into a space, then percent-decodes only a field holding at least one
    # well-formed escape; in a key a "+" between "%" and its hex digits breaks the escape.
    return _percent_decode(raw.replace("+", " ")) if _ESCAPE.search(raw) else raw


def _form_value(raw: str) -> str:
    # In a value querystring's escape detection skips over "+".
    spaced = raw.replace("+", " ")
    return _percent_decode(spaced) if _ESCAPE.search(raw.replace("+", "")) else spaced


def _percent_decode(text: str) -> str:
    """``decodeURIComponent``, or when it would throw, ``querystring``'s byte-wise fallback."""
    if not _MALFORMED_ESCAPE.search(text):
        try:
            return unquote(text, errors="strict")
        except UnicodeDecodeError:
            pass
    out = bytearray()
    units = _utf16_units(text)
    i = 0
    while i < len(units):
        unit = units[i]
        if (unit == 0x25 and i < len(units) - 2 and _is_hex(units[i + 1])
                and _is_hex(units[i + 2])):
            out.append(int(chr(units[i + 1]) + chr(units[i + 2]), 16))
            i += 3
            continue
        out.append(unit & 0xFF)  # the fallback keeps each code unit's low byte
        i += 1
    return out.decode("utf-8", "replace")


def _utf16_units(text: str) -> list[int]:
    units: list[int] = []
    for char in text:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            units += (0xD800 | code >> 10, 0xDC00 | code & 0x3FF)
        else:
            units.append(code)
    return units


def _is_hex(unit: int) -> bool:
    return unit < 128 and chr(unit) in "0123456789abcdefABCDEF"
