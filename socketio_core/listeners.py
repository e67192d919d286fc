"""``Listeners``: the client socket's event listeners, as the official client's emitter keeps
them (``on``, ``once``, ``off`` in its three forms, ``listeners``, the catch-all ones)."""

from __future__ import annotations

from typing import Any

from .handlers import Handler

__all__ = ["Listeners"]


class _Once:
    """A handler registered with ``once``: taken off its list when its event comes."""

    __slots__ = ("handler",)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.handler(*args, **kwargs)


def _remove(listeners: list[Handler], handler: Handler | None) -> None:
    if handler is None:
        listeners.clear()
    elif handler in listeners:
        listeners.remove(handler)


class Listeners:
    """Event listeners by event name, and catch-all listeners for what comes in and goes out."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._any: list[Handler] = []
        self._any_outgoing: list[Handler] = []
        self._once = False  # whether ``once`` was ever used (else no list holds a _Once)

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler`` for ``event``; without ``handler``, a decorator."""
        def register(fn: Handler) -> Handler:
            self._handlers.setdefault(event, []).append(fn)
            return fn

        return register if handler is None else register(handler)

    def once(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler`` for the next ``event`` only; without ``handler``, a decorator.
        ``off(event, handler)`` removes it before it fires."""
        def register(fn: Handler) -> Handler:
            self._handlers.setdefault(event, []).append(_Once(fn))
            self._once = True
            return fn

        return register if handler is None else register(handler)

    def off(self, event: str | None = None, handler: Handler | None = None) -> None:
        """Remove ``handler`` of ``event`` (registered with ``on`` or ``once``), every handler
        of ``event``, or, without arguments, every handler of every event (the official
        client's ``off(event, listener)``, ``off(event)`` and ``off()``)."""
        if event is None:
            self._handlers.clear()
        elif handler is None:
            self._handlers.pop(event, None)
        else:
            handlers = self._handlers.get(event, [])
            for index, registered in enumerate(handlers):
                if registered is handler or (isinstance(registered, _Once)
                                             and registered.handler is handler):
                    del handlers[index]
                    break

    def listeners(self, event: str) -> list[Handler]:
        """The handlers of ``event``, in order."""
        return [h.handler if isinstance(h, _Once) else h for h in self._handlers.get(event, [])]

    def on_any(self, handler: Handler) -> Handler:
        """Call ``handler(event, *args)`` for every event received."""
        self._any.append(handler)
        return handler

    def off_any(self, handler: Handler | None = None) -> None:
        """Remove a catch-all listener, or every one."""
        _remove(self._any, handler)

    def on_any_outgoing(self, handler: Handler) -> Handler:
        """Call ``handler(event, *args)`` for every event sent (when it is actually sent)."""
        self._any_outgoing.append(handler)
        return handler

    def off_any_outgoing(self, handler: Handler | None = None) -> None:
        """Remove an outgoing catch-all listener, or every one."""
        _remove(self._any_outgoing, handler)

    def _take(self, event: str) -> list[Handler]:
        """The handlers to call for one ``event``, to be called now (the list may be the one
        kept): ``once`` ones are taken off the list."""
        handlers = self._handlers.get(event)
        if not handlers:
            return []
        if not self._once or not any(isinstance(h, _Once) for h in handlers):
            return handlers
        calls = [h.handler if isinstance(h, _Once) else h for h in handlers]
        handlers[:] = [h for h in handlers if not isinstance(h, _Once)]
        return calls
