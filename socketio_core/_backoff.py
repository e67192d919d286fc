"""The reconnection delays of socket.io-client's Manager: exponential backoff with jitter.

Attempt ``n`` (from 0) waits ``min * 2**n`` seconds, moved up or down by a random part of
``jitter`` of itself, and capped at ``max``. The random source is injected, so tests can
replay exact delays.
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delays for successive reconnection attempts.

    Args:
        min: the first delay, seconds (``reconnection_delay``).
        max: the largest delay, seconds (``reconnection_delay_max``).
        jitter: ``randomization_factor``, in ``[0, 1]`` (anything else means no jitter).
        random: a source of floats in ``[0, 1)``.
    """

    def __init__(
        self,
        min: float,
        max: float,
        jitter: float,
        *,
        factor: float = 2.0,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.min = min
        self.max = max
        self.jitter = jitter if 0 < jitter <= 1 else 0.0
        self.factor = factor
        self.attempts = 0
        self._random = random

    def duration(self) -> float:
        """The delay before the next attempt (and count it)."""
        delay = self.min * self.factor ** self.attempts
        self.attempts += 1
        if self.jitter:
            draw = self._random()
            deviation = math.floor(draw * self.jitter * delay * 1000) / 1000
            # socket.io-client picks the direction from the same draw (its tenths digit).
            delay = delay - deviation if math.floor(draw * 10) % 2 == 0 else delay + deviation
        return min(delay, self.max)

    def reset(self) -> None:
        """Start again from the first delay (after a successful connection)."""
        self.attempts = 0
