"""A namespace made by a dynamic matcher, emptied with ``cleanup_empty_child_namespaces``, closes
its adapter as Node does: a cluster member drops the namespace's subscriptions (other nodes stop
counting it there), and a client coming back to that name gets a fresh namespace that is
subscribed again and reached from other nodes. With Python servers in this process, for each
adapter."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import trio

import socketio_core
from socketio_core import Server

from .redis_server import RedisServer
from .test_faults import ADAPTERS, HOST, Node, member, run, until

NAME = "/dyn-1"
COUNT = {"pubsub": ("NUMSUB", f"socket.io-request#{NAME}#"),
         "sharded": ("SHARDNUMSUB", f"socket.io#{NAME}#"),
         "streams": ("NUMSUB", f"socket.io#{NAME}#")}


@asynccontextmanager
async def dynamic_nodes(adapter: str, redis: RedisServer) -> AsyncIterator[list[Node]]:
    async with trio.open_nursery() as nursery:
        try:
            async with AsyncExitStack() as stack:
                made = []
                for _ in range(2):
                    cluster = await stack.enter_async_context(member(adapter, redis.url))
                    server = Server(adapter=cluster.adapter, cleanup_empty_child_namespaces=True)
                    server.of(re.compile(r"/dyn-\d+"))
                    await cluster.ready()
                    listeners = await nursery.start(server.serve, HOST, 0)
                    made.append(Node(cluster, server,
                                     f"http://{HOST}:{listeners[0].socket.getsockname()[1]}"))
                try:
                    yield made
                finally:
                    for node in made:
                        await node.server.aclose()
        finally:
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_emptied_dynamic_namespace_releases_its_subscriptions(
        adapter: str, redis_server: RedisServer) -> None:
    redis_server.start()
    command, channel = COUNT[adapter]

    def subscribers() -> int:
        return redis_server.numsub(command, channel)

    async def main() -> None:
        async with dynamic_nodes(adapter, redis_server) as (a, b):
            async with socketio_core.connect(a.url + NAME, reconnection=False):
                await until(lambda: NAME in a.server.namespaces)
                await a.member.ready()
                assert subscribers() == 1
            await until(lambda: NAME not in a.server.namespaces)
            await until(lambda: subscribers() == 0)
            assert NAME not in a.member.adapters

            got: list[Any] = []
            async with socketio_core.connect(a.url + NAME, reconnection=False) as client:
                client.on("news", got.append)
                await until(lambda: len(a.server.namespaces[NAME].sockets) == 1)
                await a.member.ready()
                assert subscribers() == 1
                # b makes the namespace for itself, to broadcast: now both count
                await b.server.of(NAME).emit("news", "from b")
                await until(lambda: got == ["from b"])
                await b.member.ready()
                assert subscribers() == 2

    run(main)
