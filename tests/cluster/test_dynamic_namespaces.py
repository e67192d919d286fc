"""A namespace made by a dynamic matcher, emptied with ``cleanup_empty_child_namespaces``, closes
its adapter as Node does: a cluster member drops the namespace's subscriptions (other nodes stop
counting it there), and a client coming back to that name gets a fresh namespace that is
subscribed again and reached from other nodes. With Python servers in this process, for each
adapter."""

from __future__ import annotations

import re
from typing import Any

import pytest

import socketio_core

from .redis_server import RedisServer
from .test_faults import ADAPTERS, nodes, run, until

NAME = "/dyn-1"
COUNT = {"pubsub": ("NUMSUB", f"socket.io-request#{NAME}#"),
         "sharded": ("SHARDNUMSUB", f"socket.io#{NAME}#"),
         "streams": ("NUMSUB", f"socket.io#{NAME}#")}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_emptied_dynamic_namespace_releases_its_subscriptions(
        adapter: str, redis_server: RedisServer) -> None:
    redis_server.start()
    command, channel = COUNT[adapter]

    def subscribers() -> int:
        return redis_server.numsub(command, channel)

    async def main() -> None:
        async with nodes(adapter, redis_server, cleanup_empty_child_namespaces=True) as (a, b):
            for node in (a, b):
                node.server.of(re.compile(r"/dyn-\d+"))
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
