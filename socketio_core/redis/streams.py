"""The ``streams`` adapter: a cluster member speaking ``@socket.io/redis-streams-adapter`` 0.3.1
(shared/cluster-wire.md §4): broadcasts without ack, joins, leaves and disconnects go through a
Redis stream; broadcasts with ack, fetches and server-side emits, and every answer, through
pub/sub, as msgpack.

Reading: one task per stream loops ``XREAD COUNT {read_count} BLOCK ... STREAMS {stream} {id}``.
It starts after the stream's last entry (Node starts from ``$`` on each call until an entry
comes, which can miss one; the latest id read first cannot), and after an outage it goes on
from the last entry it read.

Connection state recovery on top of the stream (sessions under ``session_key_prefix``, offsets
appended to events) is not implemented here yet; a Python node delivers no offsets.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from .cluster_adapter import ClusterProtocolAdapter
from .cluster_wire import (
    MessageType,
    decode_entry,
    decode_streams,
    encode_entry,
    encode_streams,
)
from .codec import CodecError
from .member import DEFAULT_TIMEOUT, ClusterMember, random_id

if TYPE_CHECKING:
    from ..namespace import Namespace

__all__ = ["StreamsAdapter", "StreamsCluster", "stream_for"]

log = logging.getLogger("socketio_core.redis")

_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 2.0


def _hash_code(text: str) -> int:
    """RSA-util ``hashCode``: Java's string hash over UTF-16 code units, as a signed int32."""
    value = 0
    units = text.encode("utf-16-le")
    for index in range(0, len(units), 2):
        value = (value * 31 + int.from_bytes(units[index:index + 2], "little")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def stream_for(namespace: str, stream_name: str, stream_count: int) -> str:
    """The stream a namespace uses (RSA ``computeStreamName``; JavaScript's ``%`` keeps the
    sign of a negative hash, and so does this)."""
    if stream_count == 1:
        return stream_name
    code = _hash_code(namespace)
    index = abs(code) % stream_count * (-1 if code < 0 else 1)
    return f"{stream_name}-{index}"


class StreamsCluster(ClusterMember):
    """A cluster member on Redis streams, wire-compatible with Node's
    ``@socket.io/redis-streams-adapter`` 0.3.1.

    Args:
        url: the Redis server, ``redis://host:port[/db]``.
        stream_name: the stream (Node's ``streamName``).
        stream_count: spread namespaces over this many streams (Node's ``streamCount``).
        channel_prefix: the pub/sub channel prefix (Node's ``channelPrefix``).
        use_sharded_pubsub: use ``SPUBLISH``/``SSUBSCRIBE`` (Node's ``useShardedPubSub``).
        max_len: the stream's approximate length bound (Node's ``maxLen``).
        read_count: entries per ``XREAD`` (Node's ``readCount``).
        block_time: seconds an ``XREAD`` blocks (Node's ``blockTimeInMs``, in seconds).
        session_key_prefix: where connection state recovery keeps sessions (Node's
            ``sessionKeyPrefix``; recovery itself is not implemented yet).
        only_plaintext: write binary data as JSON rather than msgpack (Node's
            ``onlyPlaintext``).
        requests_timeout: seconds to wait for the answers of ``fetch_sockets`` (unless its
            operator has a ``timeout``) and ``server_side_emit_with_ack`` (Node: 5 s, fixed).
        max_pending: publications queued while Redis is slow (see ``RedisLink``).
    """

    def __init__(self, url: str, *, stream_name: str = "socket.io", stream_count: int = 1,
                 channel_prefix: str = "socket.io", use_sharded_pubsub: bool = False,
                 max_len: int = 10_000, read_count: int = 100, block_time: float = 5.0,
                 session_key_prefix: str = "sio:session:", only_plaintext: bool = False,
                 requests_timeout: float = DEFAULT_TIMEOUT, max_pending: int = 10_000,
                 connect_timeout: float = 10.0) -> None:
        super().__init__(url, name=f"streams {stream_name}", requests_timeout=requests_timeout,
                         max_pending=max_pending, connect_timeout=connect_timeout)
        self.stream_name = stream_name
        self.stream_count = stream_count
        self.channel_prefix = channel_prefix
        self.use_sharded_pubsub = use_sharded_pubsub
        self.max_len = max_len
        self.read_count = read_count
        self.block_time = block_time
        self.session_key_prefix = session_key_prefix
        self.only_plaintext = only_plaintext
        self.routes: dict[bytes, tuple[StreamsAdapter, bool]] = {}
        self._readers: dict[str, trio.Event] = {}  # stream -> set once its reader is reading

    async def __aenter__(self) -> StreamsCluster:
        await super().__aenter__()
        return self

    def adapter(self, namespace: Namespace) -> StreamsAdapter:
        """The factory ``Server(adapter=...)`` takes."""
        adapter = StreamsAdapter(namespace, self)
        self.adapters[namespace.name] = adapter
        self.routes[adapter.public_channel.encode()] = (adapter, False)
        self.routes[adapter.private_channel.encode()] = (adapter, True)
        subscribe = self.link.ssubscribe if self.use_sharded_pubsub else self.link.subscribe
        subscribe(adapter.public_channel, adapter.private_channel)
        if adapter.stream not in self._readers:
            self._readers[adapter.stream] = trio.Event()
            self.spawn(self._read, adapter.stream)
        return adapter

    async def ready(self) -> None:
        await super().ready()
        for reading in list(self._readers.values()):
            await reading.wait()

    async def _on_message(self, kind: bytes, channel: bytes, payload: bytes) -> None:
        route = self.routes.get(channel)
        if route is None:
            return
        adapter, response = route
        try:
            received = decode_streams(payload)
        except CodecError as error:
            self.dropped(error, channel)
            return
        if response:
            adapter.on_response(received)
        else:
            await adapter.on_message(received)

    async def _read(self, stream: str) -> None:
        """Read the stream for as long as the member lives, through outages."""
        offset: str | bytes | None = None
        delay = _BACKOFF_FIRST
        lost = False
        while True:
            try:
                if offset is None:
                    last = await self.link.client.xrevrange(stream, "+", "-", count=1)
                    offset = last[0].identifier if last else b"0-0"
                self._readers[stream].set()
                position: str | bytes = offset
                reply = await self.link.client.xread(
                    {stream: position}, count=self.read_count,
                    block=max(1, int(self.block_time * 1000)))
                if lost:
                    lost = False
                    log.info("%s: reading stream %s again", self.link.name, stream)
                delay = _BACKOFF_FIRST
            except Exception as error:  # whatever ends the read, read again
                if not lost:
                    lost = True
                    log.warning("%s: reading stream %s failed (%s: %s); retrying",
                                self.link.name, stream, type(error).__name__, error)
                await trio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            for entries in (reply or {}).values():
                for entry in entries:
                    offset = entry.identifier
                    await self._on_entry(stream, entry.field_values)

    async def _on_entry(self, stream: str, fields: Any) -> None:
        try:
            received = decode_entry(fields)
        except CodecError as error:
            self.dropped(error, stream)
            return
        adapter = self.adapters.get(received.nsp)
        if isinstance(adapter, StreamsAdapter) and adapter.stream == stream:
            await adapter.on_message(received)


class StreamsAdapter(ClusterProtocolAdapter):
    """One namespace's adapter of a ``StreamsCluster``."""

    member: StreamsCluster

    def __init__(self, namespace: Namespace, member: StreamsCluster) -> None:
        super().__init__(namespace, member, random_id())
        self.stream = stream_for(namespace.name, member.stream_name, member.stream_count)
        self.public_channel = f"{member.channel_prefix}#{namespace.name}#"
        self.private_channel = f"{self.public_channel}{self.uid}#"
        self._publish = b"SPUBLISH" if member.use_sharded_pubsub else b"PUBLISH"

    def _command(self, built: dict[str, Any]) -> tuple[bytes, tuple[Any, ...]]:
        """RSA ``doPublish``: the short-lived messages over pub/sub, the rest into the
        stream."""
        kind = built["type"]
        if (kind in (MessageType.FETCH_SOCKETS, MessageType.SERVER_SIDE_EMIT)
                or (kind == MessageType.BROADCAST and "requestId" in built["data"])):
            return self._publish, (self.public_channel, encode_streams(built))
        fields = encode_entry(built, plaintext=self.member.only_plaintext)
        args: list[Any] = [self.stream, b"MAXLEN", b"~", str(self.member.max_len), b"*"]
        for key, value in fields.items():
            args += [key, value]
        return b"XADD", tuple(args)

    async def publish(self, built: dict[str, Any]) -> None:
        command, args = self._command(built)
        await self.member.link.publish(command, *args)

    def publish_nowait(self, built: dict[str, Any]) -> None:
        command, args = self._command(built)
        self.member.link.publish_nowait(command, *args)

    def respond(self, requester: str, built: dict[str, Any]) -> None:
        self.member.link.publish_nowait(self._publish, f"{self.public_channel}{requester}#",
                                        encode_streams(built))

    async def server_count(self) -> int:
        channel = self.public_channel
        if self.member.use_sharded_pubsub:
            return await self.count_servers(lambda client: client.pubsub_shardnumsub(channel))
        return await self.count_servers(lambda client: client.pubsub_numsub(channel))
