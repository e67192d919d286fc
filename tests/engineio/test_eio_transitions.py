"""Both Engine.IO sessions driven through their public inputs only, in any order, with
hypothesis (as h2 tests its state machine): every input either works or raises our
``ProtocolError``, never anything else; every change of state, of each of the session's
machines (``states.SERVER_TABLES``, ``states.CLIENT_TABLES``), is a path of that machine's
table; the machines move together as ``states.py`` says; a local error changes nothing; a
closed session stays closed; and ``SessionClosed`` is reported once, last."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_core.protocol import (
    ClientSession,
    ClientState,
    Event,
    LocalProtocolError,
    ProtocolError,
    ServerConfig,
    ServerSession,
    ServerState,
    SessionClosed,
)
from engineio_core.protocol.states import (
    CLIENT_TABLES,
    SERVER_TABLES,
    CloseRequest,
    Slot,
    Transport,
    UpgradeAttempt,
)

CONFIG = ServerConfig(ping_interval=25.0, ping_timeout=20.0, max_payload=100,
                      upgrade_timeout=10.0, close_timeout=30.0)
OPEN = (b'0{"sid":"s","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,'
        b'"maxPayload":100}')

BODIES = [b"4hello", b"3", b"2", b"1", b"6", b"4a\x1e4b", b"", b"9", b"bx", b"4" + b"x" * 200]
MESSAGES = ["4hi", "3", "2", "1", "6", "5", "2probe", "3probe", "9", "", b"\x01", "0{}"]


def _reachable(table: dict[tuple[Any, Any], Any]) -> dict[Any, set[Any]]:
    """Every state the table can lead to from each state (itself included)."""
    states = {s for s, _ in table} | set(table.values())
    reach = {s: {s} for s in states}
    changed = True
    while changed:
        changed = False
        for (before, _), after in table.items():
            for seen in reach.values():
                if before in seen and after not in seen:
                    seen.add(after)
                    changed = True
    return reach


SERVER_REACH = {name: _reachable(table) for name, table in SERVER_TABLES.items()}
CLIENT_REACH = {name: _reachable(table) for name, table in CLIENT_TABLES.items()}


def _server_machines_agree(s: ServerSession) -> None:
    states = s.states
    on_ws = states["transport"] is Transport.WEBSOCKET
    assert (s.state is ServerState.WEBSOCKET) == (on_ws and not s.closed)
    if states["close"] is CloseRequest.DEFERRED:
        assert s.upgrading
    assert s.poll_parked == (states["poll"] is Slot.BUSY)


def _client_machines_agree(c: ClientSession) -> None:
    states = c.states
    if c.upgrading:
        assert states["upgrade"] is UpgradeAttempt.TRIED
        assert states["transport"] is Transport.POLLING
    if c.state is ClientState.PAUSING:
        assert states["poll"] is Slot.BUSY or states["post"] is Slot.BUSY


def _server_ops(s: ServerSession) -> dict[str, Callable[[float, int], Any]]:
    return {
        "start_poll": lambda now, i: s.start_poll(now=now),
        "take_poll": lambda now, i: s.take_poll_payload() if s.poll_ready() else [],
        "post": lambda now, i: s.receive_poll_body(BODIES[i % len(BODIES)], now=now),
        "ws": lambda now, i: s.receive_ws_message(MESSAGES[i % len(MESSAGES)], now=now),
        "begin_upgrade": lambda now, i: s.begin_upgrade(now=now),
        "probe": lambda now, i: s.receive_probe_message(MESSAGES[i % len(MESSAGES)], now=now),
        "probe_closed": lambda now, i: s.probe_closed(now=now),
        "take_frames": lambda now, i: (s.take_ws_frames(), s.take_probe_frames()),
        "send": lambda now, i: s.send_message(f"m{i}"),
        "timeout": lambda now, i: s.handle_timeout(now=now),
        "close": lambda now, i: s.close(now=now),
        "transport_closed": lambda now, i: s.transport_closed(
            reason=("transport close", "transport error")[i % 2], now=now),
    }


def _client_ops(c: ClientSession) -> dict[str, Callable[[float, int], Any]]:
    return {
        "start_poll": lambda now, i: c.start_poll(now=now),
        "poll_response": lambda now, i: c.receive_poll_response(
            (OPEN, *BODIES)[i % (len(BODIES) + 1)], now=now),
        "take_post": lambda now, i: c.take_post_body() if c.post_ready() else b"",
        "post_done": lambda now, i: c.post_done(now=now),
        "ws": lambda now, i: c.receive_ws_message(MESSAGES[i % len(MESSAGES)], now=now),
        "begin_upgrade": lambda now, i: c.begin_upgrade(now=now),
        "probe": lambda now, i: c.receive_probe_message(MESSAGES[i % len(MESSAGES)], now=now),
        "probe_closed": lambda now, i: c.probe_closed(now=now),
        "take_frames": lambda now, i: (c.take_ws_frames(), c.take_probe_frames()),
        "send": lambda now, i: c.send_message(f"m{i}"),
        "timeout": lambda now, i: c.handle_timeout(now=now),
        "close": lambda now, i: c.close(now=now),
        "transport_closed": lambda now, i: c.transport_closed(
            reason=("transport close", "transport error")[i % 2], now=now),
    }


def _drive(session: Any, ops: dict[str, Callable[[float, int], Any]],
           steps: list[tuple[str, int, float]], reach: dict[str, dict[Any, set[Any]]],
           closed_state: Any, agree: Callable[[Any], None]) -> None:
    now = 0.0
    events: list[Event] = []
    for name, i, step in steps:
        now += step
        before = session.state
        machines = session.states
        try:
            result = ops[name](now, i)
        except LocalProtocolError:
            assert session.state is before, f"{name}: a local error changed the state"
            assert session.states == machines, f"{name}: a local error changed a machine"
            continue
        except ProtocolError:
            events += session.events_after_error()
        else:
            if isinstance(result, list) and all(isinstance(e, Event) for e in result):
                events += result
        after = session.state
        for machine, state in session.states.items():
            was = machines[machine]
            assert state in reach[machine][was], \
                f"{name}: {machine} {was.name} -> {state.name} not in the table"
        agree(session)
        if before is closed_state:
            assert after is closed_state
        assert session.closed == (after is closed_state)
    events += session.handle_timeout(now=now + 1000.0)
    closes = [e for e in events if isinstance(e, SessionClosed)]
    assert len(closes) == (1 if session.closed else 0)
    if closes:
        assert isinstance(events[-1], SessionClosed)


STEPS = st.lists(st.tuples(st.sampled_from(sorted(_server_ops(ServerSession(
    "s", CONFIG, transport="polling", now=0.0)))), st.integers(0, 50),
    st.sampled_from([0.0, 0.1, 5.0, 30.0])), max_size=40)
CLIENT_STEPS = st.lists(st.tuples(st.sampled_from(sorted(_client_ops(ClientSession(
    transport="polling", now=0.0)))), st.integers(0, 50),
    st.sampled_from([0.0, 0.1, 5.0, 30.0])), max_size=40)


@settings(max_examples=400, deadline=None)
@given(transport=st.sampled_from(["polling", "websocket"]), steps=STEPS)
def test_the_server_session_follows_its_table(
    transport: str, steps: list[tuple[str, int, float]]
) -> None:
    s = ServerSession("s", CONFIG, transport=transport, now=0.0)
    _drive(s, _server_ops(s), steps, SERVER_REACH, ServerState.CLOSED, _server_machines_agree)


@settings(max_examples=400, deadline=None)
@given(transport=st.sampled_from(["polling", "websocket"]), steps=CLIENT_STEPS)
def test_the_client_session_follows_its_table(
    transport: str, steps: list[tuple[str, int, float]]
) -> None:
    c = ClientSession(transport=transport, now=0.0)
    _drive(c, _client_ops(c), steps, CLIENT_REACH, ClientState.CLOSED, _client_machines_agree)
