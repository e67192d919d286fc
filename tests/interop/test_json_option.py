"""``Server(json=...)`` and ``connect(json=...)`` end to end: a codec that writes dates as
``{"$date": iso}`` and reads them back, with the official client (in Node) and ours; binary
values still travel as attachments. Without it, a date raises ``TypeError`` naming its type."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
import trio

from socketio_core import Server, Socket, connect
from tests.json_dates import DateEncoder, DateJSON, date_hook
from tests.server.live_util import serving

from .conftest import CONFORMANCE, SCENARIOS_JS

HOST = "127.0.0.1"
WHEN = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)


def date_server(option: Any) -> Server:
    server = Server(json=option)

    @server.on("connection")
    def connected(socket: Socket) -> None:
        @socket.on("next-day")
        def next_day(data: dict[str, Any]) -> dict[str, Any]:
            assert isinstance(data["when"], datetime.datetime)
            return {"when": data["when"] + datetime.timedelta(days=1),
                    "file": data["file"] + b"\x03"}

        @socket.on("send-now")
        async def send_now() -> None:
            await socket.emit("now", {"at": WHEN, "raw": b"\xff"})

    return server


def run(fn: Any) -> Any:
    async def bounded() -> Any:
        with trio.fail_after(30):
            return await fn()

    return trio.run(bounded)


@pytest.mark.parametrize(
    "option",
    [DateJSON, (DateEncoder(separators=(",", ":")).encode,
                json.JSONDecoder(object_hook=date_hook).decode)],
    ids=["module", "pair"])
def test_the_official_client_gets_and_sends_dates_through_the_servers_codec(
    option: Any,
) -> None:
    async def main() -> Any:
        async with serving(date_server(option)) as port:
            completed = await trio.run_process(
                ["node", str(SCENARIOS_JS), "json_dates", f"http://{HOST}:{port}"],
                cwd=CONFORMANCE, capture_stdout=True, capture_stderr=True, check=False)
        return json.loads(completed.stdout.decode().strip().splitlines()[-1])

    assert run(main) == {
        "answer": {"when": {"$date": "2024-05-07T07:08:09+00:00"}, "file": {"$bin": [1, 2, 3]}},
        "pushed": {"at": {"$date": "2024-05-06T07:08:09+00:00"}, "raw": {"$bin": [255]}},
    }


@pytest.mark.parametrize("transports", [("polling",), ("websocket",)])
def test_our_client_with_the_same_codec_gets_dates_back(transports: tuple[str, ...]) -> None:
    async def main() -> tuple[Any, Any]:
        async with serving(date_server(DateJSON)) as port, connect(
                f"http://{HOST}:{port}", json=DateJSON, transports=transports,
                reconnection=False) as client:
            pushed: list[Any] = []
            arrived = trio.Event()
            client.on("now", lambda data: (pushed.append(data), arrived.set()))
            answer = await client.emit_with_ack("next-day", {"when": WHEN, "file": b"\x01"},
                                                timeout=5)
            await client.emit("send-now")
            await arrived.wait()
            return answer, pushed[0]

    answer, pushed = run(main)
    assert answer == {"when": WHEN + datetime.timedelta(days=1), "file": b"\x01\x03"}
    assert pushed == {"at": WHEN, "raw": b"\xff"}


def test_without_a_codec_a_date_raises_type_error_naming_its_type() -> None:
    server = Server()
    failures: list[str] = []

    @server.on("connection")
    async def connected(socket: Socket) -> None:
        for send in (lambda: socket.emit("now", WHEN),
                     lambda: server.emit("now", {"at": [WHEN]}),
                     lambda: socket.emit_with_ack("now", WHEN, timeout=1)):
            try:
                await send()
            except TypeError as error:
                failures.append(str(error))
        await socket.emit("done")

    async def main() -> list[str]:
        async with serving(server) as port, connect(f"http://{HOST}:{port}", wait=False,
                                                    reconnection=False) as client:
            done = trio.Event()
            client.on("done", done.set)  # before connecting: it comes right after CONNECT
            await done.wait()
            client_failures = []
            for send in (lambda: client.emit("now", WHEN),
                         lambda: client.emit_with_ack("now", {"at": WHEN}, timeout=1)):
                try:
                    await send()
                except TypeError as error:
                    client_failures.append(str(error))
            return client_failures

    client_failures = run(main)
    message = "Object of type datetime is not JSON serializable"
    assert failures == [message] * 3
    assert client_failures == [message] * 2


def test_a_buffered_emit_raises_at_once() -> None:
    """Emitted before the socket connected, the data is checked when buffered, not later."""

    async def main() -> None:
        async with serving(Server()) as port, connect(
                f"http://{HOST}:{port}", wait=False, reconnection=False) as client:
            assert not client.connected
            with pytest.raises(TypeError, match=r"^Object of type datetime is not JSON"):
                await client.emit("now", WHEN)
            await client.wait_connected()

    run(main)
