"""Ack ids and ack deadlines of one connection.

Ids are allocated per namespace, counting up from 0 and never reused within the connection
(Node's server counts per namespace, ``nsp._ids++``; socket.io-client per socket, ``ids++``).
Deadlines live in a heap whose top is always a live entry, so ``next_deadline`` is a pure read.
"""

from __future__ import annotations

import heapq

__all__ = ["AckBook"]


class AckBook:
    """The emits of ours still waiting for the peer's ack."""

    def __init__(self) -> None:
        self._next_id: dict[str, int] = {}
        self._pending: dict[tuple[str, int], float | None] = {}
        # An empty tuple until a deadline is set (most connections never set one).
        self._heap: list[tuple[float, int, str]] | tuple[()] = ()

    def __len__(self) -> int:
        return len(self._pending)

    def next_id(self, namespace: str) -> int:
        """The id ``allocate`` will hand out next on ``namespace``."""
        return self._next_id.get(namespace, 0)

    def allocate(self, namespace: str, deadline: float | None) -> int:
        """A fresh ack id on ``namespace``, expiring at ``deadline`` (``None``: never)."""
        ack_id = self._next_id.get(namespace, 0)
        self._next_id[namespace] = ack_id + 1
        self._pending[namespace, ack_id] = deadline
        if deadline is not None:
            heap = self._heap
            if not heap:
                heap = self._heap = []
            heapq.heappush(heap, (deadline, ack_id, namespace))
        return ack_id

    def resolve(self, namespace: str, ack_id: int) -> bool:
        """Forget ``ack_id``; returns whether it was pending."""
        if self._pending.pop((namespace, ack_id), _MISSING) is _MISSING:
            return False
        self._tidy()
        return True

    def drop_namespace(self, namespace: str) -> tuple[int, ...]:
        """Forget every pending ack of ``namespace``; returns their ids in order."""
        dropped = sorted(ack_id for ns, ack_id in self._pending if ns == namespace)
        for ack_id in dropped:
            del self._pending[namespace, ack_id]
        self._tidy()
        return tuple(dropped)

    def clear(self) -> None:
        """Forget every pending ack."""
        self._pending.clear()
        self._heap = ()

    def next_deadline(self) -> float | None:
        """The earliest ack deadline, or ``None``."""
        return self._heap[0][0] if self._heap else None

    def expire(self, now: float) -> list[tuple[str, int]]:
        """Forget and return the ``(namespace, ack_id)`` whose deadline is ``<= now``."""
        expired: list[tuple[str, int]] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, ack_id, namespace = heapq.heappop(heap)
            del self._pending[namespace, ack_id]
            expired.append((namespace, ack_id))
            self._tidy()
        return expired

    def _tidy(self) -> None:
        heap = self._heap
        while heap and (heap[0][2], heap[0][1]) not in self._pending:
            heapq.heappop(heap)


_MISSING = object()
