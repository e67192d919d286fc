"""Request checks, error bodies, the config and the open packet."""

from __future__ import annotations

import pytest

from engineio_core.protocol import (
    ERROR_MESSAGES,
    RemoteProtocolError,
    RequestKind,
    ServerConfig,
    ServerSession,
    check_request,
    error_body,
    open_packet_data,
    request_error,
)

CONFIG = ServerConfig()
POLL = {"EIO": "4", "transport": "polling"}
WS = {"EIO": "4", "transport": "websocket"}


def _session(transport: str = "polling", config: ServerConfig = CONFIG) -> ServerSession:
    return ServerSession("sid1", config, transport=transport, now=0.0)


def _check(method: str, query: dict[str, str], *, websocket: bool = False,
           session: ServerSession | None = None, config: ServerConfig = CONFIG,
           origin: str | None = None) -> RequestKind:
    return check_request(method=method, query=query, websocket=websocket, config=config,
                         session=session, origin=origin)


def _code(**kwargs: object) -> tuple[int | None, str, int | None]:
    with pytest.raises(RemoteProtocolError) as info:
        _check(**kwargs)  # type: ignore[arg-type]
    return info.value.code, info.value.message, info.value.http_status


def test_handshakes() -> None:
    assert _check("GET", POLL) is RequestKind.HANDSHAKE
    assert _check("GET", WS, websocket=True) is RequestKind.HANDSHAKE
    assert _check("GET", {**POLL, "sid": ""}) is RequestKind.HANDSHAKE


def test_requests_on_a_session() -> None:
    session = _session()
    q = {**POLL, "sid": "sid1"}
    assert _check("GET", q, session=session) is RequestKind.POLL
    assert _check("POST", q, session=session) is RequestKind.POST
    assert _check("GET", {**WS, "sid": "sid1"}, websocket=True, session=session) \
        is RequestKind.UPGRADE


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"method": "GET", "query": {"EIO": "4"}}, (0, "Transport unknown", 400)),
        ({"method": "GET", "query": {"EIO": "4", "transport": "foo"}},
         (0, "Transport unknown", 400)),
        ({"method": "GET", "query": {**POLL, "sid": "nope"}}, (1, "Session ID unknown", 400)),
        ({"method": "POST", "query": {**POLL, "sid": "nope"}}, (1, "Session ID unknown", 400)),
        ({"method": "POST", "query": POLL}, (2, "Bad handshake method", 400)),
        ({"method": "PUT", "query": {"transport": "polling"}}, (2, "Bad handshake method", 400)),
        ({"method": "GET", "query": WS}, (3, "Bad request", 400)),
        ({"method": "GET", "query": POLL, "websocket": True}, (3, "Bad request", 400)),
        ({"method": "GET", "query": POLL, "origin": "a\x00b"}, (3, "Bad request", 400)),
        ({"method": "GET", "query": {"transport": "polling"}},
         (5, "Unsupported protocol version", 400)),
        ({"method": "GET", "query": {"EIO": "3", "transport": "polling"}},
         (5, "Unsupported protocol version", 400)),
        ({"method": "GET", "query": {"EIO": "5", "transport": "websocket"}, "websocket": True},
         (5, "Unsupported protocol version", 400)),
    ],
)
def test_refusals_without_a_session(kwargs: dict[str, object],
                                    expected: tuple[int, str, int]) -> None:
    assert _code(**kwargs) == expected


def test_method_is_checked_before_eio_and_transport_first() -> None:
    assert _code(method="POST", query={"EIO": "3", "transport": "polling"})[0] == 2
    assert _code(method="POST", query={"EIO": "3", "transport": "x", "sid": "nope"})[0] == 0


def test_refusals_with_a_session() -> None:
    session = _session()
    q = {**POLL, "sid": "sid1"}
    assert _code(method="PUT", query=q, session=session)[0] == 3
    assert _code(method="GET", query={**WS, "sid": "sid1"}, session=session)[0] == 3
    assert _code(method="GET", query=q, websocket=True, session=session)[0] == 3
    assert _code(method="GET", query={**q, "sid": "other"}, session=session)[0] == 1
    ws_session = _session("websocket")
    assert _code(method="GET", query=q, session=ws_session)[0] == 3
    assert _code(method="GET", query={**WS, "sid": "sid1"}, session=ws_session)[0] == 3


def test_websockets_for_sessions_that_cannot_take_a_probe_are_accepted_then_closed() -> None:
    # Node accepts the WebSocket and closes it at once (engine.io-protocol test suite:
    # "ignores WebSocket connection with same sid after upgrade").
    ws = {**WS, "sid": "sid1"}
    refused = RequestKind.UPGRADE_REFUSED
    assert _check("GET", ws, websocket=True, session=_session("websocket")) is refused
    upgrading = _session()
    upgrading.begin_upgrade(now=0.0)
    assert _check("GET", ws, websocket=True, session=upgrading) is refused
    closing = _session()
    closing.close()
    assert _check("GET", ws, websocket=True, session=closing) is refused
    no_upgrades = ServerConfig(allow_upgrades=False)
    assert _check("GET", ws, websocket=True, session=_session(config=no_upgrades),
                  config=no_upgrades) is refused


def test_refusals_of_a_closed_session() -> None:
    q = {**POLL, "sid": "sid1"}
    closed = _session()
    closed.transport_closed(reason="transport error", now=0.0)
    assert _code(method="GET", query=q, session=closed)[0] == 1


def test_valid_origin_passes() -> None:
    assert _check("GET", POLL, origin="http://example.com\té") is RequestKind.HANDSHAKE


def test_error_bodies_exactly_as_node() -> None:
    assert error_body(0) == b'{"code":0,"message":"Transport unknown"}'
    assert error_body(1) == b'{"code":1,"message":"Session ID unknown"}'
    assert error_body(5) == b'{"code":5,"message":"Unsupported protocol version"}'
    assert error_body(4, "not you, é") == '{"code":4,"message":"not you, é"}'.encode()
    forbidden = request_error(4)
    assert (forbidden.code, forbidden.message, forbidden.http_status) == (4, "Forbidden", 403)
    assert request_error(4, "custom").message == "custom"
    assert sorted(ERROR_MESSAGES) == [0, 1, 2, 3, 4, 5]


def test_open_packet_key_order_and_units() -> None:
    assert open_packet_data("abc", CONFIG, "polling") == (
        '{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,'
        '"pingTimeout":20000,"maxPayload":1000000}')
    assert open_packet_data("abc", CONFIG, "websocket") == (
        '{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')
    custom = ServerConfig(ping_interval=0.3, ping_timeout=0.2, max_payload=10,
                          transports=("polling",))
    assert open_packet_data("s", custom, "polling") == (
        '{"sid":"s","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":10}')
    assert '"upgrades":[]' in open_packet_data("s", ServerConfig(allow_upgrades=False), "polling")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ping_interval": 0}, {"ping_timeout": -1}, {"upgrade_timeout": True},
        {"close_timeout": "1"}, {"max_payload": 0}, {"max_payload": 1.5}, {"max_payload": True},
        {"transports": ()}, {"transports": ("polling", "polling")}, {"transports": ("udp",)},
        {"allow_upgrades": 1},
    ],
)
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ServerConfig(**kwargs)  # type: ignore[arg-type]


def test_config_normalises_transports_to_a_tuple() -> None:
    assert ServerConfig(transports=["websocket"]).transports == ("websocket",)  # type: ignore[arg-type]
