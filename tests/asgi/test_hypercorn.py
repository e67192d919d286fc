"""``ASGIApp`` under a real ``hypercorn -k trio``, driven by the official JS client (Node)."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from socketio_core import ASGIApp, Server
from tests.interop.conftest import ROOT, _require_node_modules, run_scenario
from tests.interop.test_js_client import EXPECTED
from transports import HTTPConnection, HTTPResponse, http_request, open_stream

_RUNNING = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")


def start_hypercorn(
    target: str, app_dir: Path | None = None
) -> tuple[subprocess.Popen[str], int, str]:
    """Start ``hypercorn -k trio`` on 127.0.0.1 (a free port); its process, port and log.
    ``app_dir``: where ``target``'s module is, when not in the repository."""
    path = os.pathsep.join([str(app_dir), str(ROOT)] if app_dir else [str(ROOT)])
    process = subprocess.Popen(
        [sys.executable, "-m", "hypercorn", "-k", "trio", "-b", "127.0.0.1:0", target],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert process.stdout is not None
    output = b""
    deadline = time.monotonic() + 20
    with selectors.DefaultSelector() as selector:
        # Raw reads: a buffered readline() could hold lines the selector no longer sees.
        selector.register(process.stdout.fileno(), selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            output += chunk
            if match := _RUNNING.search(output.decode(errors="replace")):
                return process, int(match.group(1)), output.decode(errors="replace")
    process.kill()
    process.wait()
    pytest.fail(f"hypercorn did not start: {output.decode(errors='replace')}")


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM (hypercorn then runs the lifespan shutdown); the exit code and the log."""
    process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        pytest.fail(f"hypercorn did not stop on SIGTERM: {out}")
    return process.returncode, out


@pytest.fixture(scope="module")
def hypercorn_url() -> Iterator[str]:
    _require_node_modules()
    process, port, _ = start_hypercorn("tests.asgi.app:app")
    yield f"http://127.0.0.1:{port}"
    code, out = stop(process)
    assert code == 0, out
    assert "Traceback" not in out, out


SCENARIOS = sorted(EXPECTED)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_official_client_under_hypercorn_trio(scenario: str, hypercorn_url: str) -> None:
    assert run_scenario(scenario, hypercorn_url) == EXPECTED[scenario]


def get(url: str, target: str) -> tuple[int, str]:
    host, port = url.removeprefix("http://").split(":")

    async def main() -> tuple[int, str]:
        with trio.fail_after(10):
            async with HTTPConnection(await open_stream(host, int(port)), host) as conn:
                status, _, body = await http_request(conn, "GET", target)
                return status, body.decode()

    return trio.run(main)


def request(port: int, method: str, target: str, headers: list[tuple[str, str]],
            body: bytes = b"") -> HTTPResponse:
    async def main() -> HTTPResponse:
        with trio.fail_after(10):
            async with HTTPConnection(await open_stream("127.0.0.1", port), "x") as conn:
                return await conn.request(method, target, headers, body)

    return trio.run(main)


def raw_exchange(port: int, data: bytes) -> bytes:
    async def main() -> bytes:
        with trio.fail_after(10):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(data)
                return bytes(await stream.receive_some(65536))

    return trio.run(main)


def test_other_paths_go_to_the_other_app_which_got_its_lifespan(hypercorn_url: str) -> None:
    status, body = get(hypercorn_url, "/shop/cart?x=1")
    assert status == 200
    assert body == "hello from the other app at /shop/cart; lifespan ['lifespan.startup']"
    status, body = get(hypercorn_url, "/socket.io/?EIO=4&transport=polling")
    assert status == 200 and body.startswith('0{"sid":')


def test_without_other_app_other_paths_are_404_and_shutdown_is_clean() -> None:
    process, port, _ = start_hypercorn("tests.asgi.app:no_other")
    try:
        assert get(f"http://127.0.0.1:{port}", "/elsewhere")[0] == 404
        assert get(f"http://127.0.0.1:{port}", "/socket.io/?EIO=3&transport=polling") == (
            400, '{"code":5,"message":"Unsupported protocol version"}')
        refused = request(port, "GET", "/socket.io/?EIO=3&transport=websocket", [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")])
        assert (refused.status, refused.body) == (400, b"Unsupported protocol version")
        status, body = get(f"http://127.0.0.1:{port}", "/socket.io/?EIO=4&transport=polling")
        assert status == 200
        sid = json.loads(body[1:])["sid"]
        # The body is refused from its Content-Length, before any of it is read.
        head = (f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                f"Host: x\r\nContent-Length: 2000000\r\n\r\n").encode()
        assert raw_exchange(port, head).startswith(b"HTTP/1.1 413 ")
    finally:
        code, out = stop(process)
    assert code == 0, out
    assert "Traceback" not in out, out


def test_without_lifespan_socketio_requests_fail_clearly() -> None:
    app = ASGIApp(Server())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/socket.io/", "raw_path": b"/socket.io/",
             "query_string": b"EIO=4&transport=polling", "headers": []}
    with pytest.raises(RuntimeError, match="lifespan"):
        trio.run(app, scope, receive, send)
    assert sent == []
    # Other paths do not need the server running.
    trio.run(app, {**scope, "path": "/x", "raw_path": b"/x"}, receive, send)
    assert sent[0]["status"] == 404


def test_a_jsonp_polling_session_under_hypercorn(hypercorn_url: str) -> None:
    port = int(hypercorn_url.rsplit(":", 1)[1])
    polling = "/socket.io/?EIO=4&transport=polling"
    opened = request(port, "GET", f"{polling}&j=4", [])
    assert opened.body.startswith(b'___eio[4]("0{') and opened.body.endswith(b'");')
    sid = json.loads(json.loads(opened.body[len("___eio[4]("):-2])[1:])["sid"]
    session = f"{polling}&sid={sid}"
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    assert request(port, "POST", session, form, b"d=40").body == b"ok"
    assert request(port, "GET", session, []).body.startswith(b'___eio[4]("40{')
    assert request(port, "POST", session, form, b"d=42%5B%22echo%22%2C%22a%22%5D").body == b"ok"
    assert request(port, "GET", session, []).body == b'___eio[4]("42[\\"echo\\",\\"a\\"]");'
