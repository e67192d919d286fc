"""Session and socket ids, as Node makes them (``base64id``): 20 URL-safe characters drawn
from a CSPRNG (15 random bytes)."""

from __future__ import annotations

import secrets

__all__ = ["random_id"]


def random_id() -> str:
    """A new random id: 20 URL-safe characters."""
    return secrets.token_urlsafe(15)
