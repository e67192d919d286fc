"""The application's own JSON (``Server(json=...)``, ``connect(json=...)``), as python-socketio
takes it: a module with ``dumps`` and ``loads``, or an ``(encode, decode)`` pair.

Without one, packets are written by ``jsjson`` (exactly as ``JSON.stringify``, refusing what
JSON cannot hold with a ``TypeError``). With one, the application decides how each value is
written (dates as text, say) and read back; binary values are still sent as attachments: they
are swapped for placeholders (``binary.ts``) before the codec sees the data, and put back after
it has read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["JSONCodec", "JSONModule", "JSONOption", "as_codec", "deconstruct"]

_BINARY = (bytes, bytearray, memoryview)
_COMPACT = (",", ":")


class JSONModule(Protocol):
    """What ``json=`` needs of a module (the standard ``json``, or any with the same calls):
    ``dumps`` is called as python-socketio calls it, ``dumps(obj, separators=(",", ":"))``."""

    def dumps(self, obj: Any, *, separators: tuple[str, str]) -> str | bytes:
        """``obj`` as JSON text (``bytes`` are read as UTF-8)."""
        ...

    def loads(self, s: str) -> Any:
        """The value of one JSON text."""
        ...


#: What ``json=`` takes: a module, or an ``(encode, decode)`` pair of one-argument callables
#: (a ``json.JSONEncoder``'s ``encode`` and a ``json.JSONDecoder``'s ``decode``, say).
JSONOption = JSONModule | tuple[Callable[[Any], str | bytes], Callable[[str], Any]]


@dataclass(frozen=True, slots=True)
class JSONCodec:
    """A JSON encoder and decoder of the application's choosing.

    Attributes:
        dumps: the JSON text of a value (``str``, or UTF-8 ``bytes``); raises what it likes
            (``TypeError`` for a value it cannot write, as ``json.dumps`` does).
        loads: the value of a JSON text; any exception it raises makes the packet invalid.
    """

    dumps: Callable[[Any], str | bytes]
    loads: Callable[[str], Any]

    def encode(self, ready: Any) -> str:
        """``ready`` (binary already swapped for placeholders) as JSON text."""
        text = self.dumps(ready)
        return text.decode("utf-8") if isinstance(text, bytes) else text


def as_codec(option: JSONOption | JSONCodec) -> JSONCodec:
    """The ``JSONCodec`` of a ``json=`` option.

    Raises:
        TypeError: neither a module with ``dumps`` and ``loads`` nor a pair of callables.
    """
    if isinstance(option, JSONCodec):
        return option
    if isinstance(option, tuple):
        if len(option) == 2 and callable(option[0]) and callable(option[1]):
            return JSONCodec(option[0], option[1])
        raise TypeError("json= takes a module with dumps and loads, or an (encode, decode) pair")
    dumps, loads = getattr(option, "dumps", None), getattr(option, "loads", None)
    if not (callable(dumps) and callable(loads)):
        raise TypeError(
            f"json= takes a module with dumps and loads, or an (encode, decode) pair; "
            f"{type(option).__name__} has no dumps and loads")
    module = option

    def compact(obj: Any) -> str | bytes:
        return module.dumps(obj, separators=_COMPACT)

    return JSONCodec(compact, module.loads)


def deconstruct(data: Any) -> tuple[Any, list[bytes]]:
    """``(ready, attachments)``: ``data`` with each ``bytes``/``bytearray``/``memoryview`` in
    its lists, tuples and dict values swapped for a placeholder (numbered in walk order), the
    rest left for the application's codec, and the attachments in placeholder order.

    Raises:
        RecursionError: the data is nested too deeply.
    """
    attachments: list[bytes] = []

    def visit(value: Any) -> Any:
        if isinstance(value, _BINARY):
            attachments.append(bytes(value))
            return {"_placeholder": True, "num": len(attachments) - 1}
        if isinstance(value, (list, tuple)):
            return [visit(item) for item in value]
        if isinstance(value, dict):
            return {key: visit(item) for key, item in value.items()}
        return value

    return visit(data), attachments
