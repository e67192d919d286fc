"""``Server(serve_client=...)``: the official browser bundle from an installed npm package."""

from __future__ import annotations

import gzip
import json
from functools import partial
from pathlib import Path

import pytest
import trio

from socketio_core import Server
from socketio_core.static import ClientBundleNotFound, find_client_dist
from transports import HTTPConnection, HTTPResponse, open_stream

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "examples" / "chat" / "node_modules"


@pytest.fixture
def dist() -> Path:
    found = NODE_MODULES / "socket.io-client" / "dist"
    if not found.is_dir():
        pytest.fail("run `npm ci --prefix examples/chat` first (bash .ci/test does it)")
    return found


def fetch_all(server: Server, *requests: tuple[str, str, list[tuple[str, str]]]
              ) -> list[HTTPResponse]:
    responses: list[HTTPResponse] = []

    async def main() -> None:
        with trio.fail_after(10):
            async with server, trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(server.serve, "127.0.0.1", 0))
                port = listeners[0].socket.getsockname()[1]
                async with HTTPConnection(await open_stream("127.0.0.1", port), "x") as conn:
                    for method, target, headers in requests:
                        responses.append(await conn.request(method, target, headers))
                nursery.cancel_scope.cancel()

    trio.run(main)
    return responses


def test_serves_every_bundle_file_with_node_headers(dist: Path) -> None:
    version = json.loads((dist.parent / "package.json").read_text())["version"]
    server = Server(serve_client=NODE_MODULES)
    js, min_gz, esm_map, cached, weak, other = fetch_all(
        server,
        ("GET", "/socket.io/socket.io.js", []),
        ("GET", "/socket.io/socket.io.min.js?v=1", [("Accept-Encoding", "gzip, br")]),
        ("GET", "/socket.io/socket.io.esm.min.js.map", []),
        ("GET", "/socket.io/socket.io.js", [("If-None-Match", f'"{version}"')]),
        ("GET", "/socket.io/socket.io.msgpack.min.js", [("If-None-Match", f'W/"{version}"')]),
        ("GET", "/socket.io/socket.io.evil.js", []),
    )
    assert js.status == 200
    assert js.body == (dist / "socket.io.js").read_bytes()
    assert js.header("content-type") == "application/javascript; charset=utf-8"
    assert js.header("etag") == f'"{version}"'
    assert js.header("cache-control") == "public, max-age=0"
    assert min_gz.header("content-encoding") == "gzip"
    assert gzip.decompress(min_gz.body) == (dist / "socket.io.min.js").read_bytes()
    assert esm_map.header("content-type") == "application/json; charset=utf-8"
    assert esm_map.body == (dist / "socket.io.esm.min.js.map").read_bytes()
    assert (cached.status, cached.body) == (304, b"")
    assert weak.status == 304
    assert other.status == 404


def test_without_serve_client_the_bundle_is_not_served(dist: Path) -> None:
    (response,) = fetch_all(Server(), ("GET", "/socket.io/socket.io.js", []))
    assert response.status == 404


def test_the_bundle_follows_the_server_path(dist: Path) -> None:
    server = Server(path="/rt", serve_client=dist)
    moved, old = fetch_all(server, ("GET", "/rt/socket.io.min.js", []),
                           ("GET", "/socket.io/socket.io.min.js", []))
    assert moved.status == 200
    assert moved.body == (dist / "socket.io.min.js").read_bytes()
    assert old.status == 404


def test_a_missing_package_is_a_clear_error_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ClientBundleNotFound, match=r"npm install socket\.io-client@4\.8"):
        Server(serve_client=tmp_path)
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        Server(serve_client=str(tmp_path / "node_modules"))


def test_auto_discovery_walks_up_from_the_current_directory(
    dist: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT / "examples" / "chat" / "static")
    assert find_client_dist() == dist.resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ClientBundleNotFound, match="current directory or its parents"):
        Server(serve_client=True)
