"""The garbage collector's thresholds while a server runs: an opt-in of ``Server.run`` and of
``socketio-core serve --gc-threshold``, never set by the library on its own.

CPython's full collections scan every object the collector tracks. A server holding thousands
of connections tracks some fifty-five objects per connection (about sixty for one that
upgraded from long-polling, ``tests/soak/test_idle_footprint.py``), so while connections keep
coming (a flood, a reconnect storm after a restart) each full collection, due every time the
tracked heap has grown by a quarter, pauses the whole process for tens to hundreds of
milliseconds.
A closed connection leaves no reference cycle (``tests/soak/test_no_cycles.py``): the library
never needs a full collection to free its memory, so an application that makes no cycles of
its own may raise the third threshold (``700,10,1000`` makes full collections a hundred times
rarer) at the price of cycles of its own being freed later.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = ["gc_threshold", "parse_gc_threshold"]


@contextmanager
def gc_threshold(threshold: Sequence[int] | None) -> Iterator[None]:
    """Set the collector's thresholds (``gc.set_threshold``) for the block, then restore the
    previous ones; ``None`` leaves them alone."""
    if threshold is None:
        yield
        return
    previous = gc.get_threshold()
    gc.set_threshold(*threshold)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def parse_gc_threshold(text: str) -> tuple[int, ...]:
    """``"700,10,1000"`` as ``gc.set_threshold`` takes it (one to three non-negative integers).

    Raises:
        ValueError: anything else.
    """
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"not integers: {text!r}") from None
    if not 1 <= len(values) <= 3 or min(values) < 0:
        raise ValueError(f"one to three non-negative integers, as 700,10,1000: {text!r}")
    return values
