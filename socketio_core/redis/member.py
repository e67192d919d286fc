"""What the three Redis adapters share: the cluster member resource that owns the connections
and tasks, the requests waiting for answers, and the relay that reports a broadcast with ack
back to the node that asked."""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from ..adapter import AckCollector, InMemoryAdapter
from ..broadcast import RemoteSocket
from ..handshake import Handshake
from ..protocol import BroadcastTarget, Packet, PacketType
from .codec import CodecError
from .link import ClusterUnavailableError, RedisLink
from .wire import decode_details

if TYPE_CHECKING:
    from types import TracebackType

    from ..interfaces import FetchedSocket
    from ..namespace import Namespace

__all__ = ["ClusterMember", "ClusterTimeoutError", "MemberAdapter"]

log = logging.getLogger("socketio_core.redis")

#: Node's default request timeout (RA ``requestsTimeout``, CA ``DEFAULT_TIMEOUT``), seconds.
DEFAULT_TIMEOUT = 5.0
#: How long a node answering a broadcast with ack waits for its clients when the request did
#: not say (Node waits as long as the socket lives; a bound keeps tasks from piling up).
ANSWER_TIMEOUT = 60.0


class ClusterTimeoutError(TimeoutError):
    """A cluster request (``fetch_sockets``, ``fetch_rooms``) did not get every answer in time,
    with Node's message; ``responses`` holds what did arrive."""

    def __init__(self, message: str, responses: list[Any]) -> None:
        super().__init__(message)
        self.responses = responses


class Pending:
    """A request waiting for answers: done once ``received`` reaches ``expected``."""

    __slots__ = ("done", "expected", "received", "responses")

    def __init__(self, expected: int, received: int = 0, responses: Any = None) -> None:
        self.expected = expected
        self.received = received
        self.responses: Any = [] if responses is None else responses
        self.done = trio.Event()
        if received >= expected:
            self.done.set()

    def add(self, *values: Any) -> None:
        self.received += 1
        self.responses.extend(values)
        if self.received >= self.expected:
            self.done.set()


class Relay(AckCollector):
    """This node's part of another node's broadcast with ack: the count and each client's
    answer go back to the requester through ``count`` and ``ack``."""

    def __init__(self, count: Callable[[int], None], ack: Callable[[tuple[Any, ...]], None]
                 ) -> None:
        super().__init__(servers=1)
        self._count = count
        self._ack = ack

    def expect(self, count: int) -> None:
        self._count(count)

    def answer(self, value: Any) -> None:
        # A socket's ack with several values comes as a tuple: Node relays the first only.
        if isinstance(value, tuple):
            self._ack(value[:1])
        else:
            self._ack((value,))

    def miss(self) -> None:
        pass


def uid2(length: int) -> str:
    """``uid2(length)``: characters of ``[A-Za-z0-9_-]``, as the pub/sub adapter's ids."""
    return secrets.token_urlsafe(length)[:length]


def random_id() -> str:
    """socket.io-adapter's ``randomId``: 8 random bytes in hex."""
    return secrets.token_hex(8)


class ClusterMember:
    """The Redis connections and tasks of one server in a cluster, as an ``async with``
    resource; its ``adapter`` method is what ``Server(adapter=...)`` takes."""

    def __init__(self, url: str, *, name: str, requests_timeout: float = DEFAULT_TIMEOUT,
                 max_pending: int = 10_000, connect_timeout: float = 10.0) -> None:
        self.link = RedisLink(url, self._on_message, max_pending=max_pending, name=name)
        self.requests_timeout = requests_timeout
        self.connect_timeout = connect_timeout
        self.adapters: dict[str, MemberAdapter] = {}
        self._dropped_kinds: set[str] = set()
        self._stack = contextlib.AsyncExitStack()
        self._nursery: trio.Nursery | None = None
        self._scope = trio.CancelScope()
        self._stopped = trio.Event()

    async def _run(self, task_status: trio.TaskStatus[None]) -> None:
        # The member's tasks live under a scope of their own: closing the member ends them
        # without cancelling the code inside its ``async with``.
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    await nursery.start(self.link.run)
                    task_status.started()
                    await trio.sleep_forever()
        finally:
            self._nursery = None
            self._stopped.set()

    async def __aenter__(self) -> ClusterMember:
        """Connect to Redis; raises ``ClusterUnavailableError`` when it cannot within
        ``connect_timeout``."""
        outer = await self._stack.enter_async_context(trio.open_nursery())
        await outer.start(self._run)
        with trio.move_on_after(self.connect_timeout):
            await self.link.publishing.wait()
            await self.link.connected.wait()
        if not (self.link.publishing.is_set() and self.link.connected.is_set()):
            self._scope.cancel()
            await self._stack.aclose()
            raise ClusterUnavailableError(f"cannot reach Redis at {self.link.url}")
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        self._scope.cancel()
        await self._stack.aclose()

    async def aclose(self) -> None:
        """Leave the cluster: close the connections and end the tasks (also done on leaving
        the ``async with``)."""
        self._scope.cancel()
        await self._stopped.wait()

    def adapter(self, namespace: Namespace) -> MemberAdapter:
        """The factory ``Server(adapter=...)`` takes: this member's adapter of ``namespace``."""
        raise NotImplementedError

    def release(self, adapter: MemberAdapter) -> None:
        """Forget a closed adapter: its routes and subscriptions go, so that an emptied
        dynamic namespace costs nothing (other nodes stop counting this one in it)."""
        if self.adapters.get(adapter.name) is adapter:
            del self.adapters[adapter.name]

    async def ready(self) -> None:
        """Until Redis has confirmed every subscription of the namespaces made so far (then
        the other nodes count this one)."""
        await self.link.wait_subscribed()

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``fn(*args)`` in the member's nursery; a failure is logged, not raised."""
        if self._nursery is None:
            return

        async def guarded() -> None:
            try:
                await fn(*args)
            except Exception:
                log.exception("%s: cluster task failed", self.link.name)

        self._nursery.start_soon(guarded)

    def dropped(self, error: CodecError, channel: bytes | str) -> None:
        """A message that could not be read: logged once per kind, then dropped."""
        if error.kind not in self._dropped_kinds:
            self._dropped_kinds.add(error.kind)
            log.warning("%s: dropping a message on %r: %s (logged once per kind)",
                        self.link.name, channel, error)

    async def _on_message(self, kind: bytes, channel: bytes, payload: bytes) -> None:
        raise NotImplementedError


class MemberAdapter(InMemoryAdapter):
    """An adapter of a ``ClusterMember``: local rooms and delivery from ``InMemoryAdapter``,
    plus the bookkeeping of requests waiting for other nodes."""

    def __init__(self, namespace: Namespace, member: ClusterMember, uid: str) -> None:
        super().__init__(namespace)
        self.member = member
        self.uid = uid
        self.requests: dict[str, Pending] = {}
        self.ack_requests: dict[str, AckCollector] = {}
        self._last_count = 1

    @property
    def name(self) -> str:
        """The namespace's name."""
        return self.namespace.name

    def close(self) -> None:
        self.member.release(self)

    def packet(self, data: list[Any]) -> Packet:
        """An EVENT packet of this namespace."""
        return Packet(PacketType.EVENT, self.namespace.name, data)

    async def count_servers(self, command: Callable[[Any], Any]) -> int:
        """The server count from a ``PUBSUB`` command. While Redis is unreachable: the last
        count read, and at least 2, since other servers may well be there; a request then
        waits for them and ends at its timeout with a clear error, rather than answering
        quietly for this server alone."""
        try:
            reply = await self.member.link.command(command, timeout=DEFAULT_TIMEOUT)
        except ClusterUnavailableError:
            return max(self._last_count, 2)
        count = int(next(iter(reply.values()), 0)) if isinstance(reply, dict) else int(reply)
        self._last_count = max(count, 1)
        return self._last_count

    async def wait(self, request_id: str, pending: Pending, timeout: float) -> bool:
        """Wait for a request's answers until ``timeout``; whether they all came. The request
        is forgotten either way."""
        self.requests[request_id] = pending
        try:
            with trio.move_on_after(math.inf if timeout is None else timeout):
                await pending.done.wait()
        finally:
            self.requests.pop(request_id, None)
        return pending.done.is_set()

    def unreachable(self) -> str:
        """What a timeout message adds while Redis is unreachable."""
        return "" if self.member.link.up else " (Redis is unreachable)"

    def remote_sockets(self, details: list[Any]) -> list[FetchedSocket]:
        """``RemoteSocket``s of a fetch answer's socket details (a malformed one is dropped)."""
        sockets: list[FetchedSocket] = []
        for item in details:
            try:
                socket = decode_details(item)
            except CodecError as error:
                self.member.dropped(error, "fetch answer")
                continue
            sockets.append(RemoteSocket(self, socket.id,
                                        Handshake(**socket.handshake), socket.rooms,
                                        socket.data))
        return sockets

    async def answer_broadcast_with_ack(self, data: list[Any], target: BroadcastTarget,
                                        relay: Relay) -> None:
        """This node's part of another node's broadcast with ack."""
        if target.timeout is None:
            target = target.with_timeout(ANSWER_TIMEOUT)
        await InMemoryAdapter.broadcast_with_ack(self, self.packet(data), target, relay)

    async def run_server_event(self, data: list[Any], ack: Any) -> None:
        """Run the namespace's server-side listeners for ``data``."""
        await self.namespace.receive_server_event(data, ack)
