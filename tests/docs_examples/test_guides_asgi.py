"""The ASGI guides' samples under a real ``hypercorn -k trio``, reached by our client and by
plain HTTP; and the guides' claim about mounting under FastAPI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trio

from socketio_core import connect
from tests.asgi.test_hypercorn import start_hypercorn, stop
from transports import HTTPConnection, open_stream

from .samples import sample

SAMPLES = {
    ("asgi.md", "asgi-app"),
    ("frameworks.md", "fastapi-wrap"),
    ("background-tasks.md", "asgi-background"),
}


@contextmanager
def hypercorn_serving(code: str, tmp_path: Path) -> Iterator[str]:
    """``code`` as module ``guide_app``, its ``app`` under hypercorn; the URL. Stopped with
    SIGTERM at the end, which must be clean."""
    (tmp_path / "guide_app.py").write_text(code)
    process, port, _ = start_hypercorn("guide_app:app", app_dir=tmp_path)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        code_, out = stop(process)
    assert code_ == 0, out
    assert "Traceback" not in out, out


async def http(url: str, method: str, target: str) -> tuple[int, bytes]:
    port = int(url.rsplit(":", 1)[1])
    async with HTTPConnection(await open_stream("127.0.0.1", port), "127.0.0.1") as conn:
        response = await conn.request(method, target, [])
    return response.status, response.body


def test_asgi_app(tmp_path: Path) -> None:
    with hypercorn_serving(sample("asgi.md", "asgi-app"), tmp_path) as url:
        async def main() -> None:
            with trio.fail_after(15):
                assert await http(url, "GET", "/") == (200, b"the web application")
                async with connect(url, transports=("websocket",)) as client:
                    assert client.connected

        trio.run(main)


def test_fastapi_wrap(tmp_path: Path) -> None:
    with hypercorn_serving(sample("frameworks.md", "fastapi-wrap"), tmp_path) as url:
        async def main() -> None:
            with trio.fail_after(15):
                assert await http(url, "GET", "/hello") == (200, b'{"hello":"world"}')
                for transports in (("polling",), ("websocket",)):
                    async with connect(url, transports=transports) as client:
                        heard: trio.MemorySendChannel[str]
                        heard, news = trio.open_memory_channel[str](1)
                        client.on("news", heard.send_nowait)
                        status, body = await http(url, "POST", "/news/hi")
                        assert (status, json.loads(body)) == (200, {"listeners": 1})
                        assert await news.receive() == "hi"

        trio.run(main)


MOUNTED = '''
from fastapi import FastAPI

from socketio_core import ASGIApp, Server

api = FastAPI()
api.mount("/socket.io", ASGIApp(Server()))
app = api
'''


def test_fastapi_mount_does_not_start_the_server(tmp_path: Path) -> None:
    """docs/frameworks.md: a mounted ASGIApp gets no lifespan, so it never runs."""
    (tmp_path / "guide_app.py").write_text(MOUNTED)
    process, port, _ = start_hypercorn("guide_app:app", app_dir=tmp_path)
    try:
        status, _ = trio.run(http, f"http://127.0.0.1:{port}", "GET",
                             "/socket.io/?EIO=4&transport=polling")
    finally:
        _, out = stop(process)
    assert status == 500
    assert re.search(r"RuntimeError: ASGIApp: the Socket\.IO server is not running", out), out


def test_asgi_background(tmp_path: Path) -> None:
    with hypercorn_serving(sample("background-tasks.md", "asgi-background"), tmp_path) as url:
        async def main() -> str:
            with trio.fail_after(15):
                async with connect(url) as client:
                    told: list[str] = []
                    heard = trio.Event()
                    client.on("time", lambda now: (told.append(now), heard.set()))
                    await heard.wait()
                    return told[0]

        assert re.fullmatch(r"\d\d:\d\d:\d\d", trio.run(main))
