"""Calling user handlers: sync or async, with the ack as the return value or as a callback."""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable
from types import CoroutineType
from typing import Any, TypeVar

__all__ = ["Ack", "Handler", "NamespaceHandler", "ack_args", "call_handler", "start_handler"]

log = logging.getLogger("socketio_core")

Handler = Callable[..., Any]
# What ``on`` and friends hand back: the decorated function, its type kept for mypy.
H = TypeVar("H", bound=Handler)


class Ack:
    """Answers one acknowledgement the peer asked for. Calling it again does nothing."""

    __slots__ = ("_send", "called")

    def __init__(self, send: Callable[[tuple[Any, ...]], None]) -> None:
        self._send = send
        self.called = False

    def __call__(self, *args: Any) -> None:
        if not self.called:
            self.called = True
            self._send(args)


class NamespaceHandler:
    """A namespace-level handler ``fn(socket, *args)`` in the handler table its sockets share:
    the socket calling it passes itself first."""

    __slots__ = ("declares_ack", "handler")

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        # Looked up once here rather than in the weak table on every event.
        self.declares_ack = _declares_ack(handler)

    def __call__(self, socket: Any, *args: Any) -> Any:
        return self.handler(socket, *args)


# Weak keys: a handler defined per connection (a closure over its socket) must not keep the
# socket, its session and its transport alive once the connection is gone.
_ack_declared: weakref.WeakKeyDictionary[Handler, bool] = weakref.WeakKeyDictionary()


def _declares_ack(handler: Handler) -> bool:
    key = getattr(handler, "__func__", handler)  # a bound method is made anew on each access
    try:
        return _ack_declared[key]
    except (KeyError, TypeError):
        pass
    try:
        parameter = inspect.signature(handler).parameters.get("ack")
    except (TypeError, ValueError):
        parameter = None
    declared = parameter is not None and parameter.kind is inspect.Parameter.KEYWORD_ONLY
    try:
        _ack_declared[key] = declared
    except TypeError:  # not weakly referenceable: asked again next time
        pass
    return declared


def _awaitable(value: Any) -> bool:
    # A plain handler returns None nearly always, an async one a coroutine: no ABC check for
    # either.
    return value is not None and (type(value) is CoroutineType or inspect.isawaitable(value))


def ack_args(result: Any) -> tuple[Any, ...]:
    """A handler's return value as ack arguments: ``None`` → none, a tuple → spread, else one."""
    if result is None:
        return ()
    if isinstance(result, tuple):
        return result
    return (result,)


async def call_handler(handler: Handler, args: tuple[Any, ...], ack: Ack | None) -> None:
    """Run ``handler(*args)``; answer ``ack`` with its return value, unless the handler declares a
    keyword-only ``ack`` parameter, in which case it gets the ``Ack`` (or ``None``) to call itself.
    """
    if _declares_ack(handler):
        result = handler(*args, ack=ack)
        if _awaitable(result):
            await result
        return
    result = handler(*args)
    if _awaitable(result):
        result = await result
    if ack is not None:
        ack(*ack_args(result))


def start_handler(
    handler: Handler, args: tuple[Any, ...], ack: Ack | None, declares_ack: bool | None = None
) -> Awaitable[None] | None:
    """Call ``handler`` now, as ``call_handler`` would; returns what is left to await (an async
    handler's coroutine, then its ack), or ``None`` when a plain handler has finished.
    ``declares_ack``: whether it takes the ``Ack`` itself, when the caller knows already."""
    if _declares_ack(handler) if declares_ack is None else declares_ack:
        result = handler(*args, ack=ack)
        return result if _awaitable(result) else None
    result = handler(*args)
    if _awaitable(result):
        return _finish(result, ack)
    if ack is not None:
        ack(*ack_args(result))
    return None


async def _finish(result: Awaitable[Any], ack: Ack | None) -> None:
    value = await result
    if ack is not None:
        ack(*ack_args(value))
