"""The ``streams`` adapter: a cluster member speaking ``@socket.io/redis-streams-adapter`` 0.3.1
(shared/cluster-wire.md §4): broadcasts without ack, joins, leaves and disconnects go through a
Redis stream; broadcasts with ack, fetches and server-side emits, and every answer, through
pub/sub, as msgpack.

Reading: one task per stream loops ``XREAD COUNT {read_count} BLOCK ... STREAMS {stream} {id}``.
It starts after the stream's last entry (Node starts from ``$`` on each call until an entry
comes, which can miss one; the latest id read first cannot), and after an outage it goes on
from the last entry it read.

Connection state recovery (``Server(connection_state_recovery=...)``), as the Node adapter
does it (shared/cluster-wire.md §4, "Connection state recovery"): each broadcast without an ack
is delivered with the id of its stream entry appended (the id ``XADD`` gave on the node that
sent it, the id read on the others), a socket that left for a recoverable reason is kept as
``SET {session_key_prefix}{pid} <base64 msgpack {sid, pid, rooms, data}> PX <ms>``, and a
client that comes back, on any node, Python or Node, gets it with ``MULTI GET DEL EXEC`` and the
entries after its offset with ``XRANGE``. The session is written, and read back, on the
publishing connection, in order with this node's publications: a client that comes back to the
node it left finds its session even if it is quicker than Redis.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from ..adapter import Restoring, prepare
from ..protocol import BroadcastTarget, Packet, Session, session_includes
from .cluster_adapter import ClusterProtocolAdapter
from .cluster_wire import (
    MessageType,
    decode_entry,
    decode_session,
    decode_streams,
    encode_entry,
    encode_session,
    encode_streams,
    entry_after,
    next_entry_id,
    stream_offset,
)
from .codec import CodecError
from .member import DEFAULT_TIMEOUT, ClusterMember, MemberAdapter, random_id
from .wire import encode_opts

if TYPE_CHECKING:
    from ..namespace import Namespace

__all__ = ["StreamsAdapter", "StreamsCluster", "stream_for"]

log = logging.getLogger("socketio_core.redis")

_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 2.0
#: RSA ``RESTORE_SESSION_MAX_XRANGE_CALLS``: the ``XRANGE`` calls of one restore at most.
_MAX_XRANGE_CALLS = 100


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
            ``sessionKeyPrefix``).
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

    def release(self, adapter: MemberAdapter) -> None:
        # The stream stays read: other namespaces share it, and entries of a namespace
        # without an adapter here are skipped.
        if self.adapters.get(adapter.name) is not adapter:
            return
        super().release(adapter)
        assert isinstance(adapter, StreamsAdapter)
        channels = [adapter.public_channel, adapter.private_channel]
        for channel in channels:
            self.routes.pop(channel.encode(), None)
        unsubscribe = self.link.sunsubscribe if self.use_sharded_pubsub else self.link.unsubscribe
        unsubscribe(*channels)

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
                    await self._on_entry(stream, _text(offset), entry.field_values)

    async def _on_entry(self, stream: str, entry_id: str, fields: Any) -> None:
        try:
            received = decode_entry(fields)
        except CodecError as error:
            self.dropped(error, stream)
            return
        adapter = self.adapters.get(received.nsp)
        if isinstance(adapter, StreamsAdapter) and adapter.stream == stream:
            await adapter.on_message(
                received, entry_id if adapter.recovery is not None else None)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry_id(replies: list[Any] | None) -> str | None:
    """The id an ``XADD`` answered, if it was sent and taken."""
    reply = replies[0] if replies else None
    return _text(reply) if isinstance(reply, (bytes, str)) else None


def _fields(raw: Any) -> dict[bytes, bytes]:
    """The fields of an ``XRANGE`` entry (a flat array of names and values, or a map)."""
    if isinstance(raw, dict):
        return {bytes(k): bytes(v) for k, v in raw.items()
                if isinstance(k, bytes) and isinstance(v, bytes)}
    if isinstance(raw, list):
        return {k: v for k, v in zip(raw[::2], raw[1::2], strict=False)
                if isinstance(k, bytes) and isinstance(v, bytes)}
    return {}


class StreamsAdapter(ClusterProtocolAdapter):
    """One namespace's adapter of a ``StreamsCluster``; with connection state recovery on, it
    keeps sessions and gives offsets (the module's docstring)."""

    member: StreamsCluster
    keeps_sessions = True

    def __init__(self, namespace: Namespace, member: StreamsCluster) -> None:
        super().__init__(namespace, member, random_id())
        #: The server's connection state recovery options; ``None`` when it is off.
        self.recovery = namespace.server.connection_state_recovery
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

    def _broadcast_command(self, packet: Packet, target: BroadcastTarget
                           ) -> tuple[bytes, tuple[Any, ...]]:
        return self._command(self.build(MessageType.BROADCAST, {
            "packet": {"type": 2, "data": packet.data}, "opts": encode_opts(target)}))

    async def broadcast(self, packet: Packet, target: BroadcastTarget) -> int:
        """With recovery on: the stream entry first, then this node's sockets get the packet
        with the entry's id appended (CA ``broadcast``; without Redis, they get it without)."""
        if self.recovery is None or target.local:
            return await super().broadcast(packet, target)
        command, args = self._broadcast_command(packet, target)
        replies = await self.member.link.request((command, *args))
        sent, parts = self.deliver(packet.data, target, _entry_id(replies))
        await self.pace(parts)
        return sent

    def broadcast_nowait(self, packet: Packet, target: BroadcastTarget) -> None:
        """As ``broadcast``; this node's sockets get the packet once Redis answered."""
        if self.recovery is None or target.local:
            super().broadcast_nowait(packet, target)
            return
        command, args = self._broadcast_command(packet, target)

        def on_reply(replies: list[Any] | None) -> None:
            self.deliver(packet.data, target, _entry_id(replies))

        self.member.link.request_nowait(on_reply, (command, *args))

    def persist_session(self, session: Session) -> None:
        """``SET {prefix}{pid} <session> PX <max_disconnection_duration>`` (RSA
        ``persistSession``), in order with this node's publications."""
        if self.recovery is None:
            return
        milliseconds = int(self.recovery.max_disconnection_duration * 1000)
        if milliseconds <= 0:
            return
        try:
            value = encode_session(session)
        except CodecError as error:
            log.warning("%s: the session of %s cannot be kept: %s", self.member.link.name,
                        session.sid, error)
            return
        self.member.link.publish_nowait(
            b"SET", f"{self.member.session_key_prefix}{session.pid}", value, b"PX",
            str(milliseconds))

    async def restore_session(self, pid: str, offset: str) -> Restoring | None:
        """Take the session back and read the entries after ``offset`` meant for it (RSA
        ``restoreSession``): ``None`` unless the offset is an entry id still in the stream and
        the session is there. Live broadcasts for the session are caught while the entries
        are read, and those already read are not written twice."""
        if self.recovery is None or stream_offset(offset) is None:
            return None
        key = f"{self.member.session_key_prefix}{pid}"
        link = self.member.link
        replies = await link.request((b"MULTI",), (b"GET", key), (b"DEL", key), (b"EXEC",),
                                     (b"XRANGE", self.stream, offset, offset))
        if replies is None:
            return None
        executed, found = replies[3], replies[4]
        raw = executed[0] if isinstance(executed, list) and executed else None
        if not isinstance(raw, bytes) or not isinstance(found, list) or not found:
            return None
        # A session key names no namespace; the entry a client's offset names is one of its
        # namespace (stricter than Node, which would restore another namespace's session).
        first = found[0]
        if not (isinstance(first, list) and len(first) == 2
                and _fields(first[1]).get(b"nsp") == self.name.encode()):
            return None
        try:
            session = decode_session(raw)
        except CodecError as error:
            self.member.dropped(error, key)
            return None
        read = [offset]  # the last entry read: live ones up to it were read already
        restoring = Restoring(self, session, [], keep=lambda live: entry_after(live, read[0]))
        try:
            for _ in range(_MAX_XRANGE_CALLS):
                answer = await link.request((b"XRANGE", self.stream, next_entry_id(read[0]),
                                             b"+"))
                if answer is None or isinstance(answer[0], Exception):
                    restoring.cancel()
                    return None
                entries = answer[0]
                if not isinstance(entries, list) or not entries:
                    break
                for entry in entries:
                    self._replay(restoring, entry, read)
        except BaseException:
            restoring.cancel()
            raise
        return restoring

    def _replay(self, restoring: Restoring, entry: Any, read: list[str]) -> None:
        """One ``XRANGE`` entry: a broadcast of this namespace meant for the session joins
        the missed packets, with its id appended."""
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], bytes):
            return
        entry_id = entry[0].decode()
        read[0] = entry_id
        fields = _fields(entry[1])
        if fields.get(b"nsp") != self.name.encode() or fields.get(b"type") != b"3":
            return
        try:
            received = decode_entry(fields)
        except CodecError as error:
            self.member.dropped(error, self.stream)
            return
        target, data = received.target, received.packet
        assert target is not None and data is not None
        if session_includes(restoring.session.rooms, target.rooms, target.except_rooms):
            packet = self.packet([*data, entry_id])
            restoring.missed.append((packet, prepare(packet, self.namespace.server.json)))
