"""Redis cluster adapters and an emitter, wire-compatible with the official Node packages
(``@socket.io/redis-adapter`` 8.3, its sharded adapter, ``@socket.io/redis-streams-adapter``
0.3.1, ``@socket.io/redis-emitter`` 5.1): docs/cluster.md.

Needs the ``redis`` extra (``coredis`` and ``msgpack``). The names are imported lazily, so the
pure codecs (``socketio_core.redis.codec`` and the ``*_wire`` modules) load without coredis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .codec import CodecError
    from .emitter import Emitter, EmitterOperator
    from .link import ClusterUnavailableError
    from .member import ClusterMember, ClusterTimeoutError
    from .pubsub import PubSubAdapter, PubSubCluster
    from .sharded import ShardedAdapter, ShardedCluster
    from .streams import StreamsAdapter, StreamsCluster

_EXPORTS = {
    "ClusterMember": "member",
    "ClusterTimeoutError": "member",
    "ClusterUnavailableError": "link",
    "CodecError": "codec",
    "Emitter": "emitter",
    "EmitterOperator": "emitter",
    "PubSubAdapter": "pubsub",
    "PubSubCluster": "pubsub",
    "ShardedAdapter": "sharded",
    "ShardedCluster": "sharded",
    "StreamsAdapter": "streams",
    "StreamsCluster": "streams",
}
__all__ = [
    "ClusterMember",
    "ClusterTimeoutError",
    "ClusterUnavailableError",
    "CodecError",
    "Emitter",
    "EmitterOperator",
    "PubSubAdapter",
    "PubSubCluster",
    "ShardedAdapter",
    "ShardedCluster",
    "StreamsAdapter",
    "StreamsCluster",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'socketio_core.redis' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
