"""A Python node of a Redis cluster, serving the contract of shared/cluster-node.md (the same as
the Node reference node, conformance/js/cluster_node.mjs), so that a cluster test can put both
kinds side by side.

    python -m conformance.cluster_node --port P --redis URL --adapter pubsub|sharded|streams \\
        --key K --name N

(or the ``CLUSTER_*`` environment variables). Prints ``listening <port>`` once both namespaces
are subscribed in Redis.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from socketio_core import (
    AckTimeoutError,
    BroadcastOperator,
    Namespace,
    Server,
    ServerSideEmitTimeoutError,
    Socket,
)
from socketio_core.redis import ClusterMember

Handler = Callable[[Socket, dict[str, Any]], Awaitable[Any]]
_SLOW = frozenset({"emit-with-ack", "server-side-emit-with-ack", "remote-emit-with-ack",
                   "fetch-sockets", "remote-emit", "server-count", "all-rooms"})


def _options() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(env("CLUSTER_PORT", "0")))
    parser.add_argument("--redis", default=env("CLUSTER_REDIS_URL", "redis://127.0.0.1:6379"))
    parser.add_argument("--adapter", default=env("CLUSTER_ADAPTER", "pubsub"),
                        choices=("pubsub", "sharded", "streams"))
    parser.add_argument("--key", default=env("CLUSTER_KEY", "socket.io"))
    parser.add_argument("--name", default=env("CLUSTER_NODE_NAME", "node-0"))
    return parser.parse_args()


def _member(options: argparse.Namespace) -> ClusterMember:
    if options.adapter == "pubsub":
        from socketio_core.redis import PubSubCluster

        return PubSubCluster(options.redis, key=options.key)
    if options.adapter == "sharded":
        from socketio_core.redis import ShardedCluster

        return ShardedCluster(options.redis, channel_prefix=options.key,
                              subscription_mode="dynamic")
    from socketio_core.redis import StreamsCluster

    return StreamsCluster(options.redis, stream_name=options.key, channel_prefix=options.key)


def _operator(namespace: Namespace, req: dict[str, Any],
              base: BroadcastOperator | None = None) -> BroadcastOperator:
    op = base if base is not None else namespace.to()
    if "rooms" in req:
        op = op.to(*req["rooms"])
    if "except" in req:
        op = op.except_(*req["except"])
    if req.get("volatile"):
        op = op.volatile
    if "compress" in req:
        op = op.compress(bool(req["compress"]))
    if req.get("local"):
        op = op.local
    if "timeout" in req:
        op = op.timeout(req["timeout"] / 1000)
    return op


def _details(socket: Any) -> dict[str, Any]:
    handshake = socket.handshake
    return {"id": socket.id, "rooms": sorted(socket.rooms), "data": socket.data,
            "handshake": {"auth": handshake.auth, "query": dict(handshake.query),
                          "address": handshake.address}}


def set_up(namespace: Namespace, name: str, nursery: trio.Nursery) -> None:
    """The contract's handlers on one namespace."""
    log: list[dict[str, Any]] = []

    @namespace.on_server_event("cluster-note")
    def note(*args: Any) -> None:
        log.append({"event": "cluster-note", "args": list(args)})

    @namespace.on_server_event("cluster-ask")
    def ask(*args: Any) -> dict[str, Any]:
        log.append({"event": "cluster-ask", "args": list(args)})
        return {"name": name, "args": list(args)}

    handlers: dict[str, Handler] = {}

    def handle(event: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            handlers[event] = fn
            return fn
        return register

    @handle("whoami")
    async def whoami(socket: Socket, req: dict[str, Any]) -> Any:
        return {"name": name, "sid": socket.id, "nsp": namespace.name,
                "recovered": socket.recovered}

    @handle("join")
    async def join(socket: Socket, req: dict[str, Any]) -> Any:
        socket.join(*req["rooms"])
        return sorted(socket.rooms)

    @handle("leave")
    async def leave(socket: Socket, req: dict[str, Any]) -> Any:
        socket.leave(req["room"])
        return sorted(socket.rooms)

    @handle("my-rooms")
    async def my_rooms(socket: Socket, req: dict[str, Any]) -> Any:
        return sorted(socket.rooms)

    @handle("set-data")
    async def set_data(socket: Socket, req: dict[str, Any]) -> Any:
        socket.data = req["data"]
        return True

    @handle("get-data")
    async def get_data(socket: Socket, req: dict[str, Any]) -> Any:
        return socket.data

    @handle("broadcast")
    async def broadcast(socket: Socket, req: dict[str, Any]) -> Any:
        base = socket.broadcast if req.get("fromSocket") else None
        await _operator(namespace, req, base).emit(req["event"], *req.get("args", []))
        return True

    @handle("emit-with-ack")
    async def emit_with_ack(socket: Socket, req: dict[str, Any]) -> Any:
        try:
            responses = await _operator(namespace, req).emit_with_ack(
                req["event"], *req.get("args", []))
        except AckTimeoutError as error:
            return {"err": str(error), "responses": error.responses}
        return {"err": None, "responses": responses}

    @handle("server-side-emit")
    async def server_side_emit(socket: Socket, req: dict[str, Any]) -> Any:
        await namespace.server_side_emit(req["event"], *req.get("args", []))
        return True

    @handle("server-side-emit-with-ack")
    async def server_side_emit_with_ack(socket: Socket, req: dict[str, Any]) -> Any:
        try:
            responses = await namespace.server_side_emit_with_ack(
                req["event"], *req.get("args", []))
        except ServerSideEmitTimeoutError as error:
            return {"err": str(error), "responses": error.responses}
        return {"err": None, "responses": responses}

    @handle("server-events")
    async def server_events(socket: Socket, req: dict[str, Any]) -> Any:
        return log

    @handle("fetch-sockets")
    async def fetch_sockets(socket: Socket, req: dict[str, Any]) -> Any:
        return [_details(s) for s in await _operator(namespace, req).fetch_sockets()]

    @handle("remote-emit")
    async def remote_emit(socket: Socket, req: dict[str, Any]) -> Any:
        sockets = await _operator(namespace, req).fetch_sockets()
        for s in sockets:
            await s.emit(req["event"], *req.get("args", []))
        return [s.id for s in sockets]

    @handle("remote-emit-with-ack")
    async def remote_emit_with_ack(socket: Socket, req: dict[str, Any]) -> Any:
        found = await namespace.in_(req["sid"]).fetch_sockets()
        if not found:
            return {"err": "socket not found"}
        try:
            response = await found[0].emit_with_ack(req["event"], *req.get("args", []),
                                                    timeout=req["timeout"] / 1000)
        except TimeoutError as error:
            return {"err": str(error), "response": None}
        return {"err": None, "response": response}

    @handle("sockets-join")
    async def sockets_join(socket: Socket, req: dict[str, Any]) -> Any:
        _operator(namespace, req).sockets_join(*req["join"])
        return True

    @handle("sockets-leave")
    async def sockets_leave(socket: Socket, req: dict[str, Any]) -> Any:
        _operator(namespace, req).sockets_leave(req["leave"])
        return True

    @handle("disconnect-sockets")
    async def disconnect_sockets(socket: Socket, req: dict[str, Any]) -> Any:
        await _operator(namespace, req).disconnect_sockets(bool(req.get("close")))
        return True

    @handle("server-count")
    async def server_count(socket: Socket, req: dict[str, Any]) -> Any:
        return await namespace.server_count()

    @handle("all-rooms")
    async def all_rooms(socket: Socket, req: dict[str, Any]) -> Any:
        fetch_rooms = getattr(namespace.adapter, "fetch_rooms", None)
        return None if fetch_rooms is None else sorted(await fetch_rooms())

    def bind(event: str, fn: Handler) -> None:
        # The operations that wait for other nodes run in a task of their own, so that they do
        # not hold back the socket's next events; the others run in order, as in Node (a
        # client's broadcasts then leave in the order they came).
        def on_event(socket: Socket, req: Any = None, *, ack: Any) -> Awaitable[None] | None:
            async def run() -> None:
                try:
                    result = await fn(socket, req if isinstance(req, dict) else {})
                except Exception as error:
                    result = {"error": f"{type(error).__name__}: {error}"}
                if ack is not None:
                    ack(result)
            if event in _SLOW:
                nursery.start_soon(run)
                return None
            return run()

        namespace.on(event, on_event)

    for event, fn in handlers.items():
        bind(event, fn)


async def main() -> None:
    options = _options()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"{options.name} %(levelname)s %(name)s: %(message)s")
    async with _member(options) as member, trio.open_nursery() as nursery:
        # As the Node node: connection state recovery with the streams adapter only
        # (shared/cluster-node.md §2).
        recovery = ({"max_disconnection_duration": 60, "skip_middlewares": True}
                    if options.adapter == "streams" else None)
        sio = Server(adapter=member.adapter, ping_interval=2, ping_timeout=2,
                     connection_state_recovery=recovery)
        for name in ("/", "/chat"):
            set_up(sio.of(name), options.name, nursery)
        await member.ready()
        listeners = await nursery.start(sio.serve, "127.0.0.1", options.port)
        print(f"listening {listeners[0].socket.getsockname()[1]}", flush=True)


if __name__ == "__main__":
    trio.run(main)
