"""What ``ClientSocket.compress``, ``.timeout`` and ``.volatile`` return: an emit with one flag
set, as the official client's chained flags (``socket.timeout(5000).emitWithAck(...)``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

Emit = Callable[..., Awaitable[None]]
EmitWithAck = Callable[..., Awaitable[Any]]


class Compressed:
    """An emit with the compress flag (recorded only: no transport compresses per message)."""

    __slots__ = ("_emit", "_emit_with_ack", "compress")

    def __init__(self, emit: Emit, emit_with_ack: EmitWithAck, compress: bool) -> None:
        self._emit = emit
        self._emit_with_ack = emit_with_ack
        self.compress = compress

    async def emit(self, event: str, *args: Any) -> None:
        """As ``ClientSocket.emit``."""
        await self._emit(event, *args)

    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """As ``ClientSocket.emit_with_ack``."""
        return await self._emit_with_ack(event, *args, timeout=timeout)


class WithTimeout:
    """An ``emit_with_ack`` with its own ack timeout."""

    __slots__ = ("_emit_with_ack", "_seconds")

    def __init__(self, emit_with_ack: EmitWithAck, seconds: float) -> None:
        self._emit_with_ack = emit_with_ack
        self._seconds = seconds

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """As ``ClientSocket.emit_with_ack``, failing after this object's timeout."""
        return await self._emit_with_ack(event, *args, timeout=self._seconds)


class Volatile:
    """An emit that is dropped unless connected."""

    __slots__ = ("_send",)

    def __init__(self, send: Callable[[str, tuple[Any, ...]], None]) -> None:
        self._send = send

    async def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` if connected (never buffered or retried)."""
        self._send(event, args)
        await trio.lowlevel.checkpoint()
