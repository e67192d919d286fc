"""docs/cluster.md as printed, on a redis-server of its own: two of its servers behind its nginx
site, its Python half of a cluster shared with a Node server, and its emitter."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from socketio_core import Server, connect
from socketio_core.redis import PubSubCluster
from tests.cli.proc import Proc
from tests.cluster.harness import Node
from tests.cluster.redis_server import RedisServer

from .samples import exec_sample, free_port, sample
from .test_guides_deployment import MAIN_CONF, nginx_binary

SAMPLES = {("cluster.md", "cluster-server"), ("cluster.md", "cluster-nginx"),
           ("cluster.md", "cluster-mixed"), ("cluster.md", "cluster-emitter")}
REDIS = "redis://127.0.0.1:6379"


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


def _wait_http(port: int, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            url = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.read().startswith(b"0{"):
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"nothing answers on port {port}")
        time.sleep(0.05)


def _start_nginx(tmp: Path, listen: int, upstreams: tuple[int, int]) -> subprocess.Popen[bytes]:
    site = sample("cluster.md", "cluster-nginx")
    for printed, port in (("listen 80;", f"listen 127.0.0.1:{listen};"),
                          ("server 127.0.0.1:8001;", f"server 127.0.0.1:{upstreams[0]};"),
                          ("server 127.0.0.1:8002;", f"server 127.0.0.1:{upstreams[1]};")):
        assert printed in site
        site = site.replace(printed, port)
    (tmp / "site.conf").write_text(site)
    (tmp / "nginx.conf").write_text(MAIN_CONF.format(tmp=tmp))
    process = subprocess.Popen([nginx_binary(), "-p", str(tmp), "-c", str(tmp / "nginx.conf")])
    deadline = time.monotonic() + 15
    while not (tmp / "nginx.pid").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"nginx did not start: {(tmp / 'error.log').read_text()}")
        time.sleep(0.05)
    return process


def test_two_servers_of_the_guide_behind_its_nginx_site(tmp_path: Path, redis: RedisServer) -> None:
    code = sample("cluster.md", "cluster-server")
    assert f'"{REDIS}"' in code and '"0.0.0.0", 8000' in code
    ports = (free_port(), free_port())
    listen = free_port()
    servers = [Proc([sys.executable, "-c", code.replace(REDIS, redis.url).replace(
        '"0.0.0.0", 8000', f'"127.0.0.1", {port}')]) for port in ports]
    nginx = None
    try:
        for server, port in zip(servers, ports, strict=True):
            _wait_http(port, server.process)
        deadline = time.monotonic() + 15
        while redis.numsub("NUMSUB", "socket.io-request#/#") != 2:  # both servers counted
            assert time.monotonic() < deadline, "the servers did not both subscribe"
            time.sleep(0.05)
        nginx = _start_nginx(tmp_path, listen, ports)

        async def main() -> tuple[list[str], list[str]]:
            joined: list[str] = []
            newcomers: list[str] = []
            with trio.fail_after(30):
                # The lobby broadcast of each server reaches a client of the first one.
                async with connect(f"http://127.0.0.1:{ports[0]}", transports=("websocket",),
                                   reconnection=False) as watcher:
                    watcher.on("joined", joined.append)
                    for url, transports in (
                            (f"http://127.0.0.1:{ports[1]}", ("websocket",)),
                            (f"http://127.0.0.1:{listen}", ("polling",)),  # via nginx
                            (f"http://127.0.0.1:{listen}", ("polling", "websocket"))):
                        async with connect(url, transports=transports,
                                           reconnection=False) as client:
                            newcomers.append(str(client.id))
                            while newcomers[-1] not in joined:
                                await trio.sleep(0.02)
            return joined, newcomers

        joined, newcomers = trio.run(main)
        assert set(newcomers) <= set(joined)
        for server in servers:
            server.process.send_signal(signal.SIGTERM)
            assert server.finish(None) == 0
    finally:
        for server in servers:
            server.kill()
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()
    for server in servers:
        assert "Traceback" not in "".join(server.lines)


def _fragment(name: str, redis_url: str, then: str) -> Any:
    """Sample ``name`` (top-level ``async with`` lines) as the body of an ``async def
    fragment(check)`` whose ``async with`` block ends with ``then``; that function."""
    code = sample("cluster.md", name)
    assert f'"{REDIS}"' in code
    body = code.replace(REDIS, redis_url).rstrip("\n") + "\n    " + then + "\n"
    namespace = exec_sample("from socketio_core import Server\n"
                            "from socketio_core.redis import PubSubCluster\n\n"
                            "async def fragment(check):\n" + textwrap.indent(body, "    "))
    return namespace["fragment"]


def test_the_python_half_of_a_cluster_with_a_node_server(redis: RedisServer) -> None:
    node = Node("node", redis.url, "pubsub", "node-0")
    fragment = _fragment("cluster-mixed", redis.url, "await check(sio, cluster)")
    seen: list[Any] = []

    async def check(sio: Server, cluster: PubSubCluster) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(sio.serve, "127.0.0.1", 0)
            await cluster.ready()
            seen.append(await sio.server_count())
            seen.append(await sio.server_side_emit_with_ack("cluster-ask", 1, "two"))
            await sio.aclose()

    async def main() -> None:
        with trio.fail_after(30):
            await fragment(check)

    try:
        trio.run(main)
    finally:
        node.stop()
    assert seen == [2, [{"name": "node-0", "args": [1, "two"]}]]


def test_the_emitter(redis: RedisServer) -> None:
    fragment = _fragment("cluster-emitter", redis.url, "")
    reloads: list[Any] = []

    async def main() -> tuple[list[Any], str]:
        received: list[Any] = []
        reasons: list[str] = []
        with trio.fail_after(30):
            async with PubSubCluster(redis.url) as cluster:
                sio = Server(adapter=cluster.adapter)
                sio.on("connection", lambda socket: socket.join("room-1"))
                sio.of("/admin").on_server_event("reload", reloads.append)
                async with trio.open_nursery() as nursery:
                    listeners = await nursery.start(sio.serve, "127.0.0.1", 0)
                    await cluster.ready()
                    port = listeners[0].socket.getsockname()[1]
                    async with connect(f"http://127.0.0.1:{port}", reconnection=False) as client:
                        gone = trio.Event()
                        client.on("news", received.append)
                        client.on("disconnect", lambda reason: (reasons.append(reason),
                                                                gone.set()))
                        await fragment(None)
                        await gone.wait()
                    await sio.aclose()
        return received, reasons[0]

    received, reason = trio.run(main)
    assert received == [{"title": "hello"}, b"\x00\x01"]
    assert reason == "io server disconnect"
    assert reloads == [2]
