"""The same requests to our server and to the official Node server (socket.io 4.8, engine.io 6.6,
cors 2.8, from conformance/node_modules), side by side: the same status, the same Engine.IO
error body, the same headers that matter (content type, cache control, CORS), and for a bad
POST on a live session the same answers to it and to the GETs around it and the same close
reason."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable, Iterator

import pytest
import trio

from tests.interop.conftest import CONFORMANCE, ROOT, _require_node_modules, _start, _stop
from transports import HTTPConnection, HTTPResponse, connect_websocket, open_stream

P = "/socket.io/"
UPGRADE = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
           ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]

REQUESTS: list[tuple[str, str, list[tuple[str, str]], bytes]] = [
    ("GET", f"{P}?EIO=4&transport=carrier-pigeon", [], b""),
    ("GET", f"{P}?EIO=4", [], b""),
    ("GET", f"{P}?transport=polling", [], b""),
    ("GET", f"{P}?EIO=3&transport=polling", [], b""),
    ("GET", f"{P}?EIO=5&transport=polling", [], b""),
    ("GET", f"{P}?EIO=four&transport=polling", [], b""),
    ("GET", f"{P}?EIO=4&transport=polling&sid=nope", [], b""),
    ("POST", f"{P}?EIO=4&transport=polling&sid=nope", [], b"4hi"),
    ("POST", f"{P}?EIO=4&transport=polling", [], b"4hi"),
    ("PUT", f"{P}?EIO=4&transport=polling", [], b""),
    ("DELETE", f"{P}?EIO=4&transport=polling", [], b""),
    ("HEAD", f"{P}?EIO=4&transport=polling", [], b""),
    ("GET", f"{P}?EIO=4&transport=websocket", [], b""),  # WebSocket asked, no upgrade
    ("GET", f"{P}?EIO=4&transport=polling&sid=", [], b""),  # an empty sid is no sid
    ("GET", f"{P}?EIO=4&transport=polling&b64=1&t=Nx1", [], b""),  # old client params
    ("GET", f"{P}?EIO=4&transport=websocket&sid=nope", UPGRADE, b""),
    # JSONP handshakes: the callback index is the digits of the last j
    ("GET", f"{P}?EIO=4&transport=polling&j=0", [], b""),
    ("GET", f"{P}?EIO=4&transport=polling&j=abc", [], b""),
    ("GET", f"{P}?EIO=4&transport=polling&j=1x2", [], b""),
    ("GET", f"{P}?EIO=4&transport=polling&j=1&j=2", [], b""),
    ("GET", f"{P}?EIO=4&transport=polling&j=%31%32", [], b""),
    ("GET", f"{P}?EIO=4&transport=polling&j", [], b""),
    ("GET", f"{P}?EIO=4&transport=polling&j=", [], b""),
    ("GET", f"{P}?EIO=4&transport=carrier-pigeon&j=0", [], b""),  # errors stay JSON
    ("POST", f"{P}?EIO=4&transport=polling&j=0", [], b"d=4hi"),
    # a parameter given twice counts with its last value (URLSearchParams into an object)
    ("GET", f"{P}?EIO=4&transport=polling&transport=websocket", [], b""),
    ("GET", f"{P}?EIO=4&transport=websocket&transport=polling", [], b""),
    ("GET", f"{P}?EIO=4&transport=carrier-pigeon&transport=polling", [], b""),
    ("GET", f"{P}?EIO=3&EIO=4&transport=polling", [], b""),
    ("GET", f"{P}?EIO=4&EIO=3&transport=polling", [], b""),
    ("GET", f"{P}?EIO=4&transport=polling&sid=nope&sid=", [], b""),
    ("GET", f"{P}?EIO=4&transport=polling&sid=&sid=nope", [], b""),
    ("GET", f"{P}?EIO=4&transport=polling", [], b"4hi"),  # a GET with a body
]
JSONP = re.compile(rb"___eio\[([0-9]*)\]\((.*)\);", re.DOTALL)


@pytest.fixture(scope="module")
def ports() -> Iterator[tuple[int, int]]:
    """Our interop app and the Node reference server, both with ``cors: {origin: "*"}``."""
    _require_node_modules()
    ours, our_url = _start([sys.executable, "-m", "tests.interop.app", "0"], ROOT)
    try:
        node, node_url = _start(["node", str(CONFORMANCE / "js" / "reference_server.mjs"), "0"],
                                CONFORMANCE)
    except BaseException:
        _stop(ours)
        raise
    yield int(our_url.rsplit(":", 1)[1]), int(node_url.rsplit(":", 1)[1])
    _stop(node)
    _stop(ours)


async def _ask(port: int, method: str, target: str, headers: list[tuple[str, str]],
               body: bytes) -> HTTPResponse:
    connection = HTTPConnection(await open_stream("127.0.0.1", port), "127.0.0.1")
    try:
        return await connection.request(method, target, headers, body)
    finally:
        await connection.aclose()

def _side_by_side(ports: tuple[int, int],
                  session: Callable[[int, list[object]], Awaitable[None]],
                  seconds: float = 15) -> tuple[list[object], list[object]]:
    """Run ``session(port, record)`` against our server and Node's at the same time; returns
    what each run recorded."""
    ours: list[object] = []
    node: list[object] = []

    async def main() -> None:
        with trio.fail_after(seconds):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(session, ports[0], ours)
                nursery.start_soon(session, ports[1], node)

    trio.run(main)
    return ours, node


def _summary(response: HTTPResponse) -> tuple[int, object]:
    body: object = response.body
    if response.header("content-type") == "application/json" and response.body:
        body = json.loads(response.body)
    elif response.status == 200 and (jsonp := JSONP.fullmatch(response.body)):
        payload = json.loads(jsonp[2])
        body = ("JSONP", jsonp[1].decode(), [_packet(p) for p in payload.split("\x1e")])
    elif response.status == 200 and response.body.startswith(b"0{"):
        body = _packet(response.body.decode())
    return response.status, body


def _packet(packet: str) -> object:
    """A packet, or for the Engine.IO open and the Socket.IO connect, their fields, not the sid."""
    for prefix in ("0{", "40{"):
        if packet.startswith(prefix):
            return prefix, sorted(json.loads(packet[len(prefix) - 1:]))
    return packet


@pytest.mark.parametrize(("method", "target", "headers", "body"), REQUESTS,
                         ids=[f"{m} {t[len(P):]}{' upgrade' if h else ''}"
                              for m, t, h, _ in REQUESTS])
def test_bad_requests_are_answered_as_node_answers_them(
        ports: tuple[int, int], method: str, target: str, headers: list[tuple[str, str]],
        body: bytes) -> None:
    async def main() -> tuple[tuple[int, object], tuple[int, object]]:
        with trio.fail_after(10):
            ours = await _ask(ports[0], method, target, headers, body)
            node = await _ask(ports[1], method, target, headers, body)
        return _summary(ours), _summary(node)

    ours, node = trio.run(main)
    assert ours == node


def test_an_old_protocol_upgrade_is_refused(ports: tuple[int, int]) -> None:
    """EIO=3 on the WebSocket handshake. Node writes a stray ``101`` (with its CORS header) and
    then the 400 of its refusal on the same socket; we send only the 400, with Node's body."""
    target = f"{P}?EIO=3&transport=websocket"

    async def main() -> tuple[HTTPResponse, HTTPResponse]:
        with trio.fail_after(10):
            return (await _ask(ports[0], "GET", target, UPGRADE, b""),
                    await _ask(ports[1], "GET", target, UPGRADE, b""))

    ours, node = trio.run(main)
    assert node.status == 101  # the quirk this test documents; the pinned Node still has it
    assert (ours.status, ours.body) == (400, b"Unsupported protocol version")


FORM = [("Content-Type", "application/x-www-form-urlencoded")]
# One JSONP session, step by step: (method, query after the sid, body). Later requests carry no j
# or another j; neither matters, the handshake's j does.
JSONP_SESSION: list[tuple[str, str, bytes]] = [
    ("POST", "", b"d=40"),
    ("GET", "&j=7", b""),  # the connect answer, still ___eio[0]
    # an event whose string holds an escaped newline (sent as \\n) and a U+2028
    ("POST", "&j=1", b"d=42%5B%22echo%22%2C%22a%5C%5Cnb%E2%80%A8%22%5D"),
    ("GET", "", b""),
    ("POST", "", b"x=1"),  # no d: nothing
    ("POST", "", b""),
    ("POST", "", b'd=42["echo","1"]&d=42["echo","2"]'),  # d twice: nothing
    ("POST", "", b"d=42%5B%22echo%22%2C%22x+y%22%5D%1E42%5B%22send-binary%22%5D"),
    ("GET", "", b""),  # the echo and the binary event with its base64 attachments
    ("POST", "", b"d=451-%5B%22echo%22%2C%7B%22_placeholder%22%3Atrue%2C%22num%22%3A0%7D%5D"
                 b"%1EbAQI%3D"),
    ("GET", "", b""),  # the binary echo
    ("GET", "", b""),  # parked until the ping
    ("POST", "", b"d=3"),
    ("POST", "", b"d=1"),  # the client closes
    ("GET", "", b""),  # the session is gone: a JSON error, not JSONP
]


def test_a_jsonp_session_goes_as_on_node(ports: tuple[int, int]) -> None:
    async def session(port: int, out: list[tuple[int, object, bytes | None]]) -> None:
        opened = await _ask(port, "GET", f"{P}?EIO=4&transport=polling&j=0", [], b"")
        out.append((*_summary(opened), None))
        match = JSONP.fullmatch(opened.body)
        assert match is not None, opened
        sid = json.loads(json.loads(match[2])[1:])["sid"]
        for method, query, body in JSONP_SESSION:
            target = f"{P}?EIO=4&transport=polling&sid={sid}{query}"
            response = await _ask(port, method, target, FORM if body else [], body)
            # the exact bytes too, where no sid makes them differ
            out.append((*_summary(response), None if b"sid" in response.body else response.body))

    ours: list[tuple[int, object, bytes | None]] = []
    node: list[tuple[int, object, bytes | None]] = []

    async def main() -> None:
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(session, ports[0], ours)
                nursery.start_soon(session, ports[1], node)

    trio.run(main)
    assert ours == node
    assert ours[4][2] == b'___eio[0]("42[\\"echo\\",\\"a\\\\nb\\u2028\\"]");'
    assert ours[12][2] == b'___eio[0]("2");'


def test_a_jsonp_session_upgrades_to_websocket_as_on_node(ports: tuple[int, int]) -> None:
    """The probe releases the parked GET with a JSONP-wrapped noop; then the WebSocket carries
    the session, unwrapped."""
    async def session(port: int, out: list[object]) -> None:
        opened = await _ask(port, "GET", f"{P}?EIO=4&transport=polling&j=5", [], b"")
        match = JSONP.fullmatch(opened.body)
        assert match is not None, opened
        sid = json.loads(json.loads(match[2])[1:])["sid"]
        polling = f"{P}?EIO=4&transport=polling&sid={sid}"
        out.append((await _ask(port, "POST", polling, FORM, b"d=40")).body)
        out.append(_summary(await _ask(port, "GET", polling, [], b"")))
        ws = await connect_websocket(await open_stream("127.0.0.1", port), "127.0.0.1",
                                     f"{P}?EIO=4&transport=websocket&sid={sid}")
        parked: list[bytes] = []
        async with trio.open_nursery() as nursery:
            async def poll() -> None:
                parked.append((await _ask(port, "GET", polling, [], b"")).body)

            nursery.start_soon(poll)
            await trio.sleep(0.3)  # the GET parks (no handle on it from outside either server)
            await ws.send("2probe")
            out.append(await ws.receive())
        out.extend(parked)
        await ws.send("5")
        await ws.send('42["echo","over websocket"]')
        out.append(await ws.receive())
        await ws.aclose()

    ours, node = _side_by_side(ports, session)
    assert ours == node
    assert ours[2:] == ["3probe", b'___eio[5]("6");', '42["echo","over websocket"]']


# Headers that matter; Date, Connection, Keep-Alive and the body framing are noise.
HEADERS = ("content-type", "cache-control", "vary", "set-cookie", "x-xss-protection")
ORIGIN = [("Origin", "http://a.example")]
PREFLIGHT = [("Access-Control-Request-Method", "POST"),
             ("Access-Control-Request-Headers", "content-type, x-a")]


def _headers(response: HTTPResponse) -> list[tuple[str, str]]:
    return sorted((name, value) for name, value in response.headers
                  if name in HEADERS or name.startswith("access-control-"))


HEADER_REQUESTS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("GET", f"{P}?EIO=4&transport=polling", []),  # no Origin: "*" all the same
    ("GET", f"{P}?EIO=4&transport=polling", ORIGIN),
    ("GET", f"{P}?EIO=4&transport=polling", [("User-Agent", "Mozilla/5.0 (Trident/7.0)")]),
    ("GET", f"{P}?EIO=4&transport=carrier-pigeon", []),
    ("GET", f"{P}?EIO=4&transport=carrier-pigeon", ORIGIN),
    ("POST", f"{P}?EIO=4&transport=polling&sid=nope", []),
    ("OPTIONS", f"{P}?EIO=4&transport=polling", []),
    ("OPTIONS", f"{P}?EIO=4&transport=polling", ORIGIN),
    ("OPTIONS", f"{P}?EIO=4&transport=polling", [*ORIGIN, *PREFLIGHT]),
    ("OPTIONS", f"{P}?EIO=4&transport=carrier-pigeon", PREFLIGHT),
]


@pytest.mark.parametrize(("method", "target", "headers"), HEADER_REQUESTS,
                         ids=[f"{m} {t[len(P):]} {','.join(k for k, _ in h) or '-'}"
                              for m, t, h in HEADER_REQUESTS])
def test_headers_are_those_of_node(ports: tuple[int, int], method: str, target: str,
                                   headers: list[tuple[str, str]]) -> None:
    async def main() -> tuple[object, object]:
        with trio.fail_after(10):
            ours = await _ask(ports[0], method, target, headers, b"")
            node = await _ask(ports[1], method, target, headers, b"")
        return ((ours.status, _headers(ours)), (node.status, _headers(node)))

    ours, node = trio.run(main)
    assert ours == node


BAD_POSTS: dict[str, tuple[bytes, list[tuple[str, str]]]] = {
    "unknown type": (b"x", []),
    "message then unknown type": (b'42["watch-my-disconnect"]\x1e9', []),
    "empty body": (b"", []),
    "empty segment": (b'42["echo","a"]\x1e\x1e42["echo","b"]', []),
    "invalid UTF-8": (b"\xff\xfe", []),
    "ping from the client": (b"2", []),
    "octet-stream": (b"42[]", [("Content-Type", "application/octet-stream")]),
    "octet-stream with a charset": (b'42["echo","a"]', [
        ("Content-Type", "application/octet-stream; charset=utf-8")]),
    "open, upgrade, noop": (b'0\x1e5\x1e6\x1e42["echo","a"]', []),
    "close": (b"1", []),
}


@pytest.mark.parametrize(("body", "headers"), list(BAD_POSTS.values()), ids=list(BAD_POSTS))
def test_a_bad_post_goes_as_on_node(ports: tuple[int, int], body: bytes,
                                    headers: list[tuple[str, str]]) -> None:
    """A session that joined and watches its disconnect: a GET parks, the POST comes; then the
    POST's answer, the parked GET's, a later GET's, and the reason the application heard."""
    async def session(port: int, out: list[object]) -> None:
        opened = await _ask(port, "GET", f"{P}?EIO=4&transport=polling", [], b"")
        sid = json.loads(opened.body[1:])["sid"]
        target = f"{P}?EIO=4&transport=polling&sid={sid}"
        await _ask(port, "POST", target, [], b"40")
        await _ask(port, "GET", target, [], b"")
        await _ask(port, "POST", target, [], b'421["watch-my-disconnect"]')
        assert (await _ask(port, "GET", target, [], b"")).body == b"431[true]"
        async with trio.open_nursery() as nursery:
            parked: list[HTTPResponse] = []

            async def poll() -> None:
                parked.append(await _ask(port, "GET", target, [], b""))

            nursery.start_soon(poll)
            await trio.sleep(0.3)  # the GET parks
            posted = await _ask(port, "POST", target, headers, body)
            out.append((posted.status, posted.body, _headers(posted)))
            with trio.move_on_after(0.5):  # a GET the session keeps stays parked
                while not parked:
                    await trio.sleep(0.05)
            out.append([(r.status, r.body, _headers(r)) for r in parked])
            nursery.cancel_scope.cancel()
        if not (parked and parked[0].body in (b"1", b"6")):  # the session lives on
            await _ask(port, "POST", target, [], b"1")
            return
        out.append(_summary(await _ask(port, "GET", target, [], b"")))
        other = await _ask(port, "GET", f"{P}?EIO=4&transport=polling", [], b"")
        other_target = f"{P}?EIO=4&transport=polling&sid={json.loads(other.body[1:])['sid']}"
        await _ask(port, "POST", other_target, [], b"40")
        await _ask(port, "GET", other_target, [], b"")
        await _ask(port, "POST", other_target, [], b'420["last-disconnect-reason"]')
        out.append((await _ask(port, "GET", other_target, [], b"")).body)
        await _ask(port, "POST", other_target, [], b"1")

    ours, node = _side_by_side(ports, session)
    assert ours == node


def test_polling_requests_on_a_websocket_session_are_refused_as_on_node(
        ports: tuple[int, int]) -> None:
    async def session(port: int, out: list[object]) -> None:
        ws = await connect_websocket(await open_stream("127.0.0.1", port), "127.0.0.1",
                                     f"{P}?EIO=4&transport=websocket")
        opened = await ws.receive()
        assert isinstance(opened, str)
        sid = json.loads(opened[1:])["sid"]
        target = f"{P}?EIO=4&transport=polling&sid={sid}"
        for method, body in (("GET", b""), ("POST", b"40"), ("POST", b"x")):
            response = await _ask(port, method, target, [], body)
            out.append((response.status, _summary(response), _headers(response)))
        await ws.send("40")  # the session is still there
        out.append(_packet(str(await ws.receive())))
        await ws.aclose()

    ours, node = _side_by_side(ports, session)
    assert ours == node
