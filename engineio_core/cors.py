"""Cross-origin policy: which origins may talk to the server, and the headers that say so.

``cors_allowed_origins`` takes the values python-socketio users know:

- ``None`` (default): same origin only — a request whose ``Origin`` names another host is refused;
  requests without ``Origin`` (non-browser clients) are allowed.
- ``"*"``: any origin; answered with ``Access-Control-Allow-Origin: *`` as Node's ``cors`` does
  (without ``Access-Control-Allow-Credentials``, which browsers refuse with ``*``).
- a string or a list of strings: exactly those origins (Node's ``cors`` would answer a foreign
  ``Origin`` without the allow header; we refuse it, as python-socketio does).
- a callable ``(origin) -> bool``.
- ``[]``: CORS handling switched off (no check, no headers), for a proxy that handles it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["CorsPolicy", "CorsSetting"]

CorsSetting = str | Sequence[str] | Callable[[str], bool] | None

_PREFLIGHT_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """A validated ``cors_allowed_origins`` setting plus ``cors_credentials``."""

    allowed: CorsSetting = None
    credentials: bool = True

    def is_allowed(self, origin: str | None, *, host: str | None, secure: bool) -> bool:
        """Whether a request carrying ``origin`` (the ``Origin`` header) may proceed."""
        if origin is None:
            return True
        if isinstance(self.allowed, str):
            return self.allowed == "*" or origin == self.allowed
        if callable(self.allowed):
            return bool(self.allowed(origin))
        if self.allowed is None:
            if host is None:
                return False
            scheme = "https" if secure else "http"
            return origin == f"{scheme}://{host}"
        if len(self.allowed) == 0:
            return True
        return origin in self.allowed

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """Headers for an allowed request (call ``is_allowed`` first), as Node's ``cors``
        package (2.8) writes them, the request's ``Origin`` present or not: ``"*"`` always
        gives ``Access-Control-Allow-Origin: *``; a string is a fixed origin, always sent; a
        list reflects the ``Origin`` when there is one. Both say ``Vary: Origin`` and, with
        ``cors_credentials``, ``Access-Control-Allow-Credentials: true``. The same-origin
        default and a callable reflect an ``Origin`` likewise and say nothing without one.
        """
        allowed = self.allowed
        if allowed == "*":
            return [("Access-Control-Allow-Origin", "*")]
        if self._off:
            return []
        if isinstance(allowed, str):
            headers = [("Access-Control-Allow-Origin", allowed)]
        elif origin is not None:
            headers = [("Access-Control-Allow-Origin", origin)]
        elif allowed is None or callable(allowed):
            return []
        else:
            headers = []
        headers.append(("Vary", "Origin"))
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def preflight_headers(
        self, origin: str | None, request_headers: str | None
    ) -> list[tuple[str, str]]:
        """Headers answering an ``OPTIONS`` preflight (an allowed one): those of
        ``response_headers``, the methods, the requested headers reflected, and one ``Vary``
        naming ``Access-Control-Request-Headers`` too, as Node's ``cors`` does."""
        headers = self.response_headers(origin)
        if not headers:
            return headers
        headers = [(k, v) for k, v in headers if k != "Vary"]
        vary = "Origin, Access-Control-Request-Headers" if self.allowed != "*" else (
            "Access-Control-Request-Headers")
        headers += [("Access-Control-Allow-Methods", _PREFLIGHT_METHODS), ("Vary", vary)]
        if request_headers:
            headers.append(("Access-Control-Allow-Headers", request_headers))
        return headers

    @property
    def _off(self) -> bool:
        """``[]``: CORS left to a proxy."""
        return (not isinstance(self.allowed, str) and self.allowed is not None
                and not callable(self.allowed) and len(self.allowed) == 0)
