"""The guides' code samples run as printed (see samples.py for how they are named)."""

from __future__ import annotations

import json
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio

from socketio_core import Server, connect
from socketio_core.adapter import InMemoryAdapter
from tests.cli.proc import Proc
from tests.tls_cert import make_cert
from transports import HTTPConnection, open_stream

from .samples import exec_sample, free_port, run_sample, sample

#: The samples this module runs, as (guide, sample name).
SAMPLES = {
    ("tls.md", "tls-serve"),
    ("logging.md", "logging-setup"),
    ("cors.md", "cors-config"),
    ("migration.md", "class-namespace"),
    ("background-tasks.md", "beside-serve"),
    ("adapter.md", "adapter-default"),
    ("recovery.md", "recovery-server"),
    ("recovery.md", "recovery-client"),
    ("json.md", "json-dates"),
    ("deployment.md", "engine-headers"),
}


def test_tls_serve(tmp_path: Path) -> None:
    make_cert(tmp_path)
    lines = run_sample(sample("tls.md", "tls-serve"), cwd=tmp_path).stdout.splitlines()
    assert lines[0] == "secure: True"
    assert re.fullmatch(r"connected over (polling|websocket)", lines[1])


def test_logging_setup() -> None:
    completed = run_sample(sample("logging.md", "logging-setup"))
    assert completed.stdout == "6 / 3 = 2\n"  # JSON, as JavaScript writes 2.0
    log = completed.stderr
    patterns = [
        r"^INFO socketio_core: listening on http://127\.0\.0\.1:\d+/socket\.io/$",
        r"^INFO socketio_core\.cli: connect (\S+) on / from 127\.0\.0\.1 over polling$",
        r"^ERROR socketio_core: handler of 'divide' failed \(namespace '/', socket {sid}\)$",
        r"^ZeroDivisionError: division by zero$",
        r"^INFO socketio_core\.cli: disconnect {sid} from /: client namespace disconnect$",
    ]
    position = 0
    sid = ""
    for pattern in patterns:  # in this order
        match = re.compile(pattern.replace("{sid}", sid), re.M).search(log, position)
        assert match is not None, (pattern, log)
        position = match.end()
        sid = sid or (match.groups() or ("",))[0]
    assert "transports" not in log


def test_json_dates() -> None:
    completed = run_sample(sample("json.md", "json-dates"))
    assert completed.stdout == "next: 2030-01-02 09:30:00+00:00\n"


def test_cors_config() -> None:
    sio = exec_sample(sample("cors.md", "cors-config"))["sio"]

    async def main() -> list[tuple[int, str | None, bytes]]:
        answers = []
        with trio.fail_after(15):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(sio.serve, handle_signals=False))
                port = listeners[0].socket.getsockname()[1]
                for origin in ("https://app.example.com", "https://pr-42.preview.example.com",
                               "https://evil.example.com", None):
                    headers = [("Origin", origin)] if origin else []
                    async with HTTPConnection(await open_stream("127.0.0.1", port),
                                              "127.0.0.1") as conn:
                        response = await conn.request(
                            "GET", "/socket.io/?EIO=4&transport=polling", headers)
                    allow = dict(response.headers).get("access-control-allow-origin")
                    answers.append((response.status, allow, response.body[:1]))
                await sio.aclose()
        return answers

    assert trio.run(main) == [
        (200, "https://app.example.com", b"0"),
        (200, "https://pr-42.preview.example.com", b"0"),
        (400, None, b"{"),
        (200, None, b"0"),
    ]


def test_engine_headers() -> None:
    sio = exec_sample(sample("deployment.md", "engine-headers"))["sio"]

    async def main() -> list[str | None]:
        with trio.fail_after(15):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(sio.serve, handle_signals=False))
                port = listeners[0].socket.getsockname()[1]
                target = "/socket.io/?EIO=4&transport=polling"
                async with HTTPConnection(await open_stream("127.0.0.1", port),
                                          "127.0.0.1") as conn:
                    handshake = await conn.request("GET", target, [])
                    sid = json.loads(handshake.body[1:])["sid"]
                    post = await conn.request("POST", f"{target}&sid={sid}", [], b"40")
                assert post.body == b"ok"
                cookies = [handshake.header("set-cookie"), post.header("set-cookie")]
                await sio.aclose()
        return cookies

    assert trio.run(main) == ["backend=web-1; Path=/; HttpOnly", None]


def test_a_refused_origin_gets_the_bad_request_body() -> None:
    """What docs/cors.md says a refused page receives."""
    sio = Server(cors_allowed_origins=["https://app.example.com"])

    async def main() -> tuple[int, bytes]:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(sio.serve, handle_signals=False))
            port = listeners[0].socket.getsockname()[1]
            async with HTTPConnection(await open_stream("127.0.0.1", port), "x") as conn:
                response = await conn.request(
                    "GET", "/socket.io/?EIO=4&transport=polling",
                    [("Origin", "https://evil.example.com")])
            nursery.cancel_scope.cancel()
        return response.status, response.body

    assert trio.run(main) == (400, b'{"code":3,"message":"Bad request"}')


def test_class_namespace() -> None:
    completed = run_sample(sample("migration.md", "class-namespace"))
    assert completed.stdout == "rooms: ['trio']\nada: hello\n"


def test_beside_serve() -> None:
    port = free_port()
    code = sample("background-tasks.md", "beside-serve")
    assert 'sio.serve("127.0.0.1", 8000)' in code
    proc = Proc([sys.executable, "-c", code.replace("8000", str(port))])
    try:
        proc.expect(rf"listening on http://127\.0\.0\.1:{port}/socket\.io/")

        async def main() -> str:
            with trio.fail_after(15):
                async with connect(f"http://127.0.0.1:{port}") as client:
                    told: list[str] = []
                    heard = trio.Event()
                    client.on("time", lambda now: (told.append(now), heard.set()))
                    await heard.wait()
                    proc.process.send_signal(signal.SIGINT)
                    gone = trio.Event()
                    client.on("disconnect", lambda reason: gone.set())
                    await gone.wait()
                    return told[0]

        assert re.fullmatch(r"\d\d:\d\d:\d\d", trio.run(main))
        proc.expect("SIGINT: shutting down")
        assert proc.finish(None) == 0  # main returned: the clock was cancelled
    finally:
        proc.kill()
    assert "Traceback" not in "".join(proc.lines)


def test_adapter_default() -> None:
    sio = exec_sample(sample("adapter.md", "adapter-default"))["sio"]
    assert isinstance(sio.of("/").adapter, InMemoryAdapter)


def test_recovery_server_and_client(capsys: Any) -> None:
    """The guide's server and client: the server drops the client's transport, news goes to the
    lobby meanwhile, and the client comes back with it, then says it recovered."""
    sio = exec_sample(sample("recovery.md", "recovery-server"))["sio"]
    client = exec_sample(sample("recovery.md", "recovery-client"))
    sockets: list[Any] = []

    @asynccontextmanager
    async def recording(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with connect(*args, **kwargs) as socket:
            sockets.append(socket)
            yield socket

    client["connect"] = recording  # the sample's own connect, seen by the test

    async def main() -> list[str]:
        out = ""
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(sio.serve, handle_signals=False))
                port = listeners[0].socket.getsockname()[1]
                nursery.start_soon(client["follow"], f"http://127.0.0.1:{port}")
                while not sockets or sockets[0]._last_offset is None:  # the welcome came
                    await trio.sleep(0.01)
                [socket] = sio.sockets.values()
                first = socket.id
                socket.conn.close()
                while socket.connected:
                    await trio.sleep(0.01)
                await sio.to("lobby").emit("news", "missed while away")
                while "recovered" not in out:
                    out += capsys.readouterr().out
                    await trio.sleep(0.01)
                assert sio.sockets[first].recovered
                assert sio.sockets[first].data == {"user": "ada"}
                await sio.aclose()
                nursery.cancel_scope.cancel()
        return out.splitlines()

    capsys.readouterr()
    assert trio.run(main) == ["missed while away", "recovered"]
