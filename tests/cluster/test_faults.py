"""Faults, for each adapter, with Python servers in this process: Redis killed and restarted
under load (the members reconnect, resubscribe every channel, log the loss and the recovery,
and cross-node delivery resumes); requests while Redis is down end at their timeout with a
clear error, broadcasts still reach local sockets and nothing queues up; a node that leaves
mid-request (the others finish at their timeout with what came, and count one server less);
junk, truncated and foreign messages on every channel and stream, dropped and logged once per
kind."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import trio

import socketio_core
from socketio_core import AckTimeoutError, Server, ServerSideEmitTimeoutError
from socketio_core.redis import (
    ClusterMember,
    ClusterTimeoutError,
    PubSubCluster,
    ShardedCluster,
    StreamsCluster,
)

from .redis_server import RedisServer

HOST = "127.0.0.1"
ADAPTERS = ("pubsub", "sharded", "streams")
COUNT = {"pubsub": ("NUMSUB", "socket.io-request#/#"),
         "sharded": ("SHARDNUMSUB", "socket.io#/#"),
         "streams": ("NUMSUB", "socket.io#/#")}


@pytest.fixture(autouse=True)
def redis_running(redis_server: RedisServer) -> Iterator[None]:
    """Each test starts with Redis up, whatever the one before left."""
    redis_server.start()
    yield
    redis_server.start()


def member(adapter: str, url: str, timeout: float = 1.0) -> ClusterMember:
    if adapter == "pubsub":
        return PubSubCluster(url, requests_timeout=timeout)
    if adapter == "sharded":
        return ShardedCluster(url, requests_timeout=timeout)
    return StreamsCluster(url, requests_timeout=timeout, block_time=0.5)


def run(fn: Callable[[], Awaitable[None]], timeout: float = 60) -> None:
    async def bounded() -> None:
        with trio.fail_after(timeout):
            await fn()

    trio.run(bounded)


async def until(predicate: Callable[[], bool], timeout: float = 15) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.02)


class Node:
    def __init__(self, member: ClusterMember, server: Server, url: str) -> None:
        self.member, self.server, self.url = member, server, url


@asynccontextmanager
async def nodes(adapter: str, redis: RedisServer, count: int = 2,
                timeout: float = 1.0, **options: Any) -> AsyncIterator[list[Node]]:
    async with trio.open_nursery() as nursery:
        try:
            async with AsyncExitStack() as stack:
                made = []
                for _ in range(count):
                    cluster = await stack.enter_async_context(
                        member(adapter, redis.url, timeout))
                    server = Server(adapter=cluster.adapter, **options)
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
            # Only now: cancelling earlier would turn the body's failure into a cancellation
            # that this nursery then swallows.
            nursery.cancel_scope.cancel()


def messages(caplog: pytest.LogCaptureFixture, level: int, text: str) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.levelno == level and text in record.getMessage()]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_redis_restart_under_load_recovers_delivery(
        adapter: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="socketio_core.redis")

    async def main() -> None:
        async with nodes(adapter, redis_server) as (a, b), \
                socketio_core.connect(b.url, reconnection=False) as client:
            got: list[int] = []
            client.on("tick", got.append)
            await until(lambda: len(b.server.sockets) == 1)
            sent = 0

            async def load() -> None:
                nonlocal sent
                while True:
                    await a.server.emit("tick", sent)
                    sent += 1
                    await trio.sleep(0.01)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(load)
                await until(lambda: len(got) >= 10)
                redis_server.kill()
                await until(lambda: bool(messages(caplog, logging.WARNING, "connection lost")))
                await trio.sleep(0.5)  # broadcasts go on meanwhile: dropped, not queued
                assert a.member.link.queued == 0
                redis_server.start()
                await until(lambda: bool(messages(caplog, logging.INFO, "recovered")))
                resumed_at = sent
                await until(lambda: any(value > resumed_at for value in got))
                nursery.cancel_scope.cancel()
            # every channel was subscribed again: each node counted once per namespace
            command, channel = COUNT[adapter]
            assert redis_server.numsub(command, channel) == 2
            assert await a.server.server_count() == 2
            assert got == sorted(got)  # in order, gaps only from the outage
            assert a.member.link.dropped == 0  # the count was reported and reset at recovery
            assert any("publications were dropped" in text
                       for text in messages(caplog, logging.INFO, "recovered"))

    run(main)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_while_redis_is_down_requests_fail_at_their_timeout(
        adapter: str, redis_server: RedisServer) -> None:
    async def main() -> None:
        async with nodes(adapter, redis_server, timeout=0.5) as (a, b), \
                socketio_core.connect(a.url, reconnection=False) as near, \
                socketio_core.connect(b.url, reconnection=False) as far:
            near.on("q", lambda: "near")
            far.on("q", lambda: "far")
            heard: list[int] = []
            near.on("news", heard.append)
            await until(lambda: len(a.server.sockets) == 1 and len(b.server.sockets) == 1)
            redis_server.kill()
            await until(lambda: not a.member.link.up)
            with trio.fail_after(5):
                with pytest.raises(ClusterTimeoutError) as fetch:
                    await a.server.fetch_sockets()
            assert "(Redis is unreachable)" in str(fetch.value)
            assert [s.id for s in fetch.value.responses] == list(a.server.sockets)
            with trio.fail_after(5):
                with pytest.raises(ServerSideEmitTimeoutError) as ask:
                    await a.server.server_side_emit_with_ack("anyone")
            assert str(ask.value).startswith("timeout reached: only 0 responses received out")
            with trio.fail_after(5):
                with pytest.raises(AckTimeoutError) as acks:
                    await a.server.timeout(0.5).emit_with_ack("q")
            assert acks.value.responses == ["near"]
            for index in range(12_000):  # past the queue's bound: dropped, never queued
                await a.server.emit("news", index)
            assert a.member.link.queued == 0
            await until(lambda: len(heard) == 12_000)  # this node's own clients still get them
            redis_server.start()
            await until(lambda: a.member.link.up and b.member.link.up)
            await a.member.ready()
            await b.member.ready()
            assert sorted(await a.server.timeout(5).emit_with_ack("q")) == ["far", "near"]

    run(main)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_node_that_leaves_mid_request(adapter: str, redis_server: RedisServer) -> None:
    async def main() -> None:
        async with nodes(adapter, redis_server, count=3, timeout=2.0) as (a, b, c):
            b.server.on_server_event("ping", lambda: "b")

            @c.server.on_server_event("ping")
            async def never(*, ack: Any) -> None:
                await trio.sleep_forever()  # takes the ack and never answers

            assert await a.server.server_count() == 3
            async with trio.open_nursery() as nursery:
                outcome: list[Any] = []

                async def ask() -> None:
                    try:
                        outcome.append(await a.server.server_side_emit_with_ack("ping"))
                    except ServerSideEmitTimeoutError as error:
                        outcome.append(error)

                nursery.start_soon(ask)
                await trio.sleep(0.3)
                await c.member.aclose()  # the node leaves: its connections close
            (error,) = outcome
            assert isinstance(error, ServerSideEmitTimeoutError)
            assert str(error) == "timeout reached: only 1 responses received out of 2"
            assert error.responses == ["b"]
            await until(lambda: redis_server.numsub(*COUNT[adapter]) == 2)
            assert await a.server.server_count() == 2
            assert await a.server.server_side_emit_with_ack("ping") == ["b"]

    run(main)


def test_a_killed_node_process_drops_out_of_the_count(redis_server: RedisServer) -> None:
    from .harness import Node as Process

    async def main() -> None:
        async with nodes("pubsub", redis_server, count=1) as (a,):
            other = Process("python", redis_server.url, "pubsub", "node-9")
            try:
                assert await a.server.server_count() == 2
                other.kill()  # SIGKILL: no goodbye
                await until(lambda: redis_server.numsub(*COUNT["pubsub"]) == 1)
                assert await a.server.server_count() == 1
                assert len(await a.server.fetch_sockets()) == 0
            finally:
                other.stop()

    run(main)


JUNK = [b"", b"{", b"{not json", b"\xc1", b"\x93\xa1u", b"\x81\xa4type\x63",
        b'{"type":99,"uid":"x","nsp":"/"}', b'{"type":3,"data":{"packet":{"type":2}},'
        b'"uid":"x","nsp":"/"}', b"\x94\x01\x02\x03\x04", b'{"requestId":5}',
        b'["emitter",{"type":2,"data":[]},{}]', bytes(range(256))]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_junk_on_every_channel_is_dropped_and_logged_once_per_kind(
        adapter: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="socketio_core.redis")

    async def main() -> None:
        async with nodes(adapter, redis_server) as (a, b), \
                socketio_core.connect(b.url, reconnection=False) as client:
            got: list[str] = []
            client.on("after", got.append)
            await until(lambda: len(b.server.sockets) == 1)
            adapter_b: Any = b.server.of("/").adapter
            if adapter == "pubsub":
                channels = ["socket.io#/#", "socket.io#/#" + next(iter(b.server.sockets)) + "#",
                            "socket.io-request#/#", "socket.io-response#/#",
                            f"socket.io-response#/#{adapter_b.uid}#"]
                command = "PUBLISH"
            elif adapter == "sharded":
                channels = ["socket.io#/#", f"socket.io#/#{adapter_b.uid}#"]
                command = "SPUBLISH"
            else:
                channels = ["socket.io#/#", f"socket.io#/#{adapter_b.uid}#"]
                command = "PUBLISH"
            for _ in range(2):
                for channel in channels:
                    for junk in JUNK:
                        publish = (a.member.link.client.spublish if command == "SPUBLISH"
                                   else a.member.link.client.publish)
                        await publish(channel, junk)
                if adapter == "streams":
                    for junk in JUNK:
                        await a.member.link.client.xadd("socket.io", {
                            "uid": "x", "nsp": "/", "type": junk[:3] or b"3", "data": junk})
                    await a.member.link.client.xadd("socket.io", {"nothing": "here"})
            await a.server.emit("after", "still alive")
            await until(lambda: got == ["still alive"])
            warnings = [r.getMessage() for r in caplog.records
                        if r.name == "socketio_core.redis" and r.levelno == logging.WARNING]
            assert warnings, "nothing was logged"
            # Every kind once per member (two members here hear the junk), though it came twice.
            assert max(Counter(warnings).values()) <= 2, warnings
            assert len(warnings) == 2 * len(set(warnings)), warnings

    run(main)

