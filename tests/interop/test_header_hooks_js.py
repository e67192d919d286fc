"""``sio.engine.on("initial_headers")`` sets cookies that the official client keeps and sends
back with ``withCredentials``, as in engine.io-client's own cookie tests (cookies ``3`` and
``4`` have expired already); ``sio.engine.on("headers")`` sees every request."""

from __future__ import annotations

import json
from email.utils import formatdate
from typing import Any

import pytest
import trio

from socketio_core import Server, Socket
from tests.interop.conftest import CONFORMANCE, SCENARIOS_JS
from tests.server.live_util import HOST, serving
from transports import Request


def cookie_server() -> Server:
    server = Server()
    cookies: list[str | None] = []

    @server.engine.on("initial_headers")
    def set_cookies(headers: dict[str, Any], request: Request) -> None:
        headers["set-cookie"] = [
            "1=1; Max-Age=86400", "2=2; Path=/; HttpOnly; Secure; SameSite=Strict",
            "3=3; Max-Age=0", f"4=4; Expires={formatdate(usegmt=True)}"]

    @server.engine.on("headers")
    def watch(headers: dict[str, Any], request: Request) -> None:
        cookies.append(request.header("cookie"))

    @server.on("connection")
    def connection(socket: Socket) -> None:
        socket.on("cookie?", lambda: cookies[-1])  # the POST carrying this event's

    return server


@pytest.mark.parametrize(("scenario", "expected"), [
    ("cookies", "1=1; 2=2"), ("cookies_without_credentials", None)])
def test_the_official_client_sends_back_the_cookies_it_was_given(
    scenario: str, expected: str | None
) -> None:
    async def main() -> Any:
        with trio.fail_after(30):
            async with serving(cookie_server()) as port:
                completed = await trio.run_process(
                    ["node", str(SCENARIOS_JS), scenario, f"http://{HOST}:{port}"],
                    cwd=CONFORMANCE, capture_stdout=True, capture_stderr=True, check=False)
        return json.loads(completed.stdout.decode().strip().splitlines()[-1])

    assert trio.run(main) == {"cookie": expected}
