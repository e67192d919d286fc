"""The Redis connections of one cluster member, on coredis: commands, an ordered publisher, and
a subscriber that never goes deaf.

- Commands that need an answer (``PUBSUB NUMSUB``, ``XRANGE``…) go through a coredis client.
- Publications (``PUBLISH``, ``SPUBLISH``, ``XADD``, ``SET``) go through one held connection, in
  order, pipelined: a task takes everything queued and writes it in one go, as ioredis and
  node-redis do. ``request`` sends commands the same way and returns their replies (the offset
  ``XADD`` gives, a session read back), so that they keep their place among the publications.
  The queue is bounded (``max_pending``): an async publisher waits for room (a slow Redis
  slows the sender down); a sync one (``sockets_join``…) drops the message when it is full.
  While Redis is unreachable, publications are dropped and counted: a broadcast still reaches
  this node's sockets, and the loss is logged once per outage (WARNING) with the count at
  recovery (INFO). Queueing them for later would deliver stale events after an outage of any
  length.
- The subscriber holds one connection, so that each channel counts this node once in
  ``PUBSUB NUMSUB`` (shared/cluster-wire.md §5). It remembers every channel, pattern and shard
  channel it was asked for; when the connection drops it reconnects with backoff and subscribes
  to all of them again, logging the loss at WARNING and the recovery at INFO.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import coredis
import trio
from coredis.exceptions import RedisError

__all__ = ["ClusterUnavailableError", "RedisLink"]

log = logging.getLogger("socketio_core.redis")

Command = tuple[Any, ...]
#: Called with the replies of a request's commands, or ``None`` when they were not sent or
#: the connection went before they were all answered.
ReplyHandler = Callable[[list[Any] | None], None]

#: What a subscriber hands on: (kind, channel, payload) with kind b"message", b"pmessage" (the
#: channel is then the matched one) or b"smessage".
MessageHandler = Callable[[bytes, bytes, bytes], Awaitable[None]]

_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 2.0


class ClusterUnavailableError(ConnectionError):
    """Redis cannot be reached (a command that needs an answer failed)."""


class RedisLink:
    """The connections; ``run`` (started in the owner's nursery) keeps them up."""

    def __init__(self, url: str, on_message: MessageHandler, *, max_pending: int = 10_000,
                 name: str = "socket.io") -> None:
        self.url = url
        self.name = name
        self._on_message = on_message
        self.client: coredis.Redis[bytes] = coredis.Redis.from_url(url)
        self._queue_send, self._queue = trio.open_memory_channel[
            tuple[tuple[Command, ...], ReplyHandler | None]](max_pending)
        self._channels: set[bytes] = set()
        self._patterns: set[bytes] = set()
        self._shard_channels: set[bytes] = set()
        self._sub_connection: Any = None
        self._pending_confirmations: dict[tuple[bytes, bytes], int] = {}
        self._confirmed = trio.Event()
        self._confirmed.set()
        self.subscriber_up = False
        self.publisher_up = False
        self.dropped = 0
        self._outage_logged = False
        self._full_logged = False
        self._refusals_logged: set[str] = set()
        self.connected = trio.Event()  # set once the subscriber first holds its connection
        self.publishing = trio.Event()  # set once the publisher first holds its connection


    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Open the clients and keep the subscriber and the publisher connected until
        cancelled."""
        async with self.client:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._subscriber)
                nursery.start_soon(self._publisher)
                task_status.started()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A connection of our own, outside the client's pool (which would lose a slot for
        each connection that dies while leased), closed on exit."""
        pool = self.client.connection_pool
        options = {key: value for key, value in pool.connection_kwargs.items()
                   if key != "processing_budget"}
        connection = pool.connection_class(pool.location, **options)
        died = False

        async def watch(task_status: trio.TaskStatus[None]) -> None:
            nonlocal died
            await connection.run(task_status=task_status)
            # It ended by itself: whatever is using it is told at once, not at its next use.
            died = True
            nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            await nursery.start(watch)
            try:
                # A PING proves the connection before it is used.
                await connection.create_request(b"PING")
                yield connection
            finally:
                nursery.cancel_scope.cancel()
        if died:
            raise ConnectionError("connection lost")

    @property
    def up(self) -> bool:
        """Whether both the subscriber and the publisher are connected."""
        return self.subscriber_up and self.publisher_up

    def _lost(self, what: str, error: BaseException) -> None:
        while isinstance(error, BaseExceptionGroup) and error.exceptions:
            error = error.exceptions[0]
        if not self._outage_logged:
            self._outage_logged = True
            log.warning("%s: Redis connection lost (%s: %s); reconnecting, publications to "
                        "other nodes are dropped meanwhile", self.name, what, error)

    def _recovered(self, what: str) -> None:
        if self._outage_logged and self.up:
            self._outage_logged = False
            log.info("%s: Redis connection recovered (%s); %d publications were dropped while "
                     "it was down", self.name, what, self.dropped)
            self.dropped = 0

    def _refused(self, error: RedisError) -> None:
        kind = type(error).__name__
        if kind not in self._refusals_logged:
            self._refusals_logged.add(kind)
            log.warning("%s: Redis refused a publication (%s: %s)", self.name, kind, error)


    def _send(self, command: bytes, names: list[bytes]) -> None:
        connection = self._sub_connection
        if connection is None or not names:
            return
        if command in (b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE"):
            kind = command.lower()[:-9] + b"subscribe"
            for name in names:
                key = (kind, name)
                self._pending_confirmations[key] = self._pending_confirmations.get(key, 0) + 1
            self._confirmed = trio.Event()
        try:
            if command.startswith(b"S"):  # one shard channel per command, as a cluster needs
                for name in names:
                    connection.send_command(command, name)
            else:
                connection.send_command(command, *names)
        except RedisError:
            pass  # the connection is going down: the subscriber will subscribe again

    def subscribe(self, *channels: str) -> None:
        """Hold these channels (``SUBSCRIBE``), now and after every reconnection."""
        new = [c.encode() for c in channels if c.encode() not in self._channels]
        self._channels.update(new)
        self._send(b"SUBSCRIBE", new)

    def psubscribe(self, *patterns: str) -> None:
        """Hold these patterns (``PSUBSCRIBE``), now and after every reconnection."""
        new = [p.encode() for p in patterns if p.encode() not in self._patterns]
        self._patterns.update(new)
        self._send(b"PSUBSCRIBE", new)

    def ssubscribe(self, *channels: str) -> None:
        """Hold these shard channels (``SSUBSCRIBE``), now and after every reconnection."""
        new = [c.encode() for c in channels if c.encode() not in self._shard_channels]
        self._shard_channels.update(new)
        self._send(b"SSUBSCRIBE", new)

    def unsubscribe(self, *channels: str) -> None:
        """Stop holding these channels."""
        gone = [c.encode() for c in channels if c.encode() in self._channels]
        self._channels.difference_update(gone)
        self._send(b"UNSUBSCRIBE", gone)

    def punsubscribe(self, *patterns: str) -> None:
        """Stop holding these patterns."""
        gone = [p.encode() for p in patterns if p.encode() in self._patterns]
        self._patterns.difference_update(gone)
        self._send(b"PUNSUBSCRIBE", gone)

    def sunsubscribe(self, *channels: str) -> None:
        """Stop holding these shard channels."""
        gone = [c.encode() for c in channels if c.encode() in self._shard_channels]
        self._shard_channels.difference_update(gone)
        self._send(b"SUNSUBSCRIBE", gone)

    async def wait_subscribed(self) -> None:
        """Until Redis has confirmed every subscription asked for so far."""
        await self.connected.wait()
        while not self._confirmed.is_set():
            await self._confirmed.wait()

    def _confirm(self, kind: bytes, name: bytes) -> None:
        key = (kind, name)
        left = self._pending_confirmations.get(key, 0) - 1
        if left > 0:
            self._pending_confirmations[key] = left
        else:
            self._pending_confirmations.pop(key, None)
        if not self._pending_confirmations:
            self._confirmed.set()

    async def _subscriber(self) -> None:
        delay = _BACKOFF_FIRST
        while True:
            try:
                async with self._connection() as connection:
                    self._sub_connection = connection
                    self._pending_confirmations.clear()
                    self._send(b"SUBSCRIBE", sorted(self._channels))
                    self._send(b"PSUBSCRIBE", sorted(self._patterns))
                    self._send(b"SSUBSCRIBE", sorted(self._shard_channels))
                    delay = _BACKOFF_FIRST
                    self.subscriber_up = True
                    self.connected.set()
                    self._recovered("subscriber")
                    async for push in connection.push_messages:
                        await self._dispatch(push)
            except Exception as error:  # whatever ends the connection, subscribe again
                self._lost("subscriber", error)
            finally:
                self._sub_connection = None
                self.subscriber_up = False
            await trio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX)

    async def _dispatch(self, push: list[Any]) -> None:
        kind = push[0]
        if kind == b"message" or kind == b"smessage":
            await self._on_message(kind, push[1], push[2])
        elif kind == b"pmessage":
            await self._on_message(kind, push[2], push[3])
        elif kind in (b"subscribe", b"psubscribe", b"ssubscribe"):
            self._confirm(kind, push[1])
        # unsubscribe confirmations and pongs need nothing


    @property
    def queued(self) -> int:
        """Publications and requests waiting for the publisher (at most ``max_pending``)."""
        return self._queue.statistics().current_buffer_used

    def publish_nowait(self, command: bytes, *args: Any) -> None:
        """Queue a publication; dropped (and counted) while Redis is down or the queue full."""
        self._queue_nowait(((command, *args),), None)

    async def publish(self, command: bytes, *args: Any) -> None:
        """Queue a publication, waiting for room while Redis is slow; dropped while it is
        down."""
        if not self.publisher_up:
            self.dropped += 1
            return
        item = (((command, *args),), None)
        try:
            self._queue_send.send_nowait(item)
        except trio.WouldBlock:
            await self._queue_send.send(item)

    def request_nowait(self, on_reply: ReplyHandler, *commands: Command) -> None:
        """Queue ``commands`` after the publications queued so far, written together (a
        ``MULTI`` … ``EXEC`` stays whole); ``on_reply`` gets their replies in order (a
        refused command's as a ``RedisError``), or ``None`` when they could not be sent (Redis
        down, the queue full, the connection lost)."""
        self._queue_nowait(commands, on_reply)

    async def request(self, *commands: Command) -> list[Any] | None:
        """As ``request_nowait``, waiting for room in the queue and for the replies."""
        if not self.publisher_up:
            return None
        done = trio.Event()
        replies: list[list[Any] | None] = [None]

        def on_reply(values: list[Any] | None) -> None:
            replies[0] = values
            done.set()

        item = (commands, on_reply)
        try:
            self._queue_send.send_nowait(item)
        except trio.WouldBlock:
            await self._queue_send.send(item)
        await done.wait()
        return replies[0]

    def _queue_nowait(self, commands: tuple[Command, ...], on_reply: ReplyHandler | None
                      ) -> None:
        if not self.publisher_up:
            self.dropped += 1
            if on_reply is not None:
                self._reply(on_reply, None)
            return
        try:
            self._queue_send.send_nowait((commands, on_reply))
        except trio.WouldBlock:
            self.dropped += 1
            if not self._full_logged:
                self._full_logged = True
                log.warning("%s: publication queue full; dropping publications", self.name)
            if on_reply is not None:
                self._reply(on_reply, None)

    def _reply(self, on_reply: ReplyHandler, replies: list[Any] | None) -> None:
        try:
            on_reply(replies)
        except Exception:
            log.exception("%s: a reply handler failed", self.name)

    async def _publisher(self) -> None:
        delay = _BACKOFF_FIRST
        while True:
            handlers: list[ReplyHandler | None] = []  # of the batch being written
            answered = 0
            try:
                async with self._connection() as connection:
                    self.publisher_up = True
                    self.publishing.set()
                    self._full_logged = False
                    delay = _BACKOFF_FIRST
                    self._recovered("publisher")
                    while True:
                        batch = [await self._queue.receive()]
                        while True:
                            try:
                                batch.append(self._queue.receive_nowait())
                            except trio.WouldBlock:
                                break
                        handlers, answered = [on_reply for _, on_reply in batch], 0
                        sent = [[connection.create_request(*command, raise_exceptions=False)
                                 for command in commands] for commands, _ in batch]
                        for requests, on_reply in zip(sent, handlers, strict=True):
                            replies = [await request for request in requests]
                            for reply in replies:
                                if isinstance(reply, RedisError):
                                    self._refused(reply)
                            answered += 1
                            if on_reply is not None:
                                self._reply(on_reply, replies)
            except Exception as error:  # whatever ends the connection, connect again
                self._lost("publisher", error)
            finally:
                self.publisher_up = False
                for on_reply in handlers[answered:]:
                    if on_reply is not None:
                        self._reply(on_reply, None)
            # What was queued when the connection dropped is lost with it.
            while True:
                try:
                    _, on_reply = self._queue.receive_nowait()
                except trio.WouldBlock:
                    break
                self.dropped += 1
                if on_reply is not None:
                    self._reply(on_reply, None)
            await trio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX)


    async def command(self, fn: Callable[[coredis.Redis[bytes]], Any],
                      timeout: float = math.inf) -> Any:
        """Run ``fn(client)``'s command; raises ``ClusterUnavailableError`` when Redis cannot
        answer (within ``timeout``)."""
        try:
            with trio.fail_after(timeout):
                return await fn(self.client)
        except (RedisError, OSError, TimeoutError) as error:  # timeouts: coredis's or ours
            raise ClusterUnavailableError(f"Redis unavailable: {error}") from error
