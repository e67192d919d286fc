"""The namespace transition tables, pair by pair, through the real connection cores."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socketio_core.protocol import (
    ClientConnection,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    ServerConnection,
)
from socketio_core.protocol.states import (
    CLIENT_TRANSITIONS,
    SERVER_TRANSITIONS,
    Input,
    NamespaceState,
    transition,
)

S = NamespaceState
NS = "/a"

SERVER_INPUTS: dict[Input, Callable[[ServerConnection], object]] = {
    Input.RECEIVE_CONNECT: lambda c: c.receive_message("0/a,", now=0.0),
    Input.RECEIVE_DISCONNECT: lambda c: c.receive_message("1/a,", now=0.0),
    Input.RECEIVE_EVENT: lambda c: c.receive_message('2/a,["e"]', now=0.0),
    Input.RECEIVE_ACK: lambda c: c.receive_message("3/a,0[]", now=0.0),
    Input.RECEIVE_CONNECT_ERROR: lambda c: c.receive_message('4/a,{"message":"m"}', now=0.0),
    Input.ACCEPT: lambda c: c.accept(NS, "sid"),
    Input.REJECT: lambda c: c.reject(NS, "no"),
    Input.EMIT: lambda c: c.emit(NS, "e", []),
    Input.ACK: lambda c: c.ack(NS, 0, []),
    Input.DISCONNECT: lambda c: c.disconnect(NS),
}

CLIENT_INPUTS: dict[Input, Callable[[ClientConnection], object]] = {
    Input.RECEIVE_CONNECT: lambda c: c.receive_message('0/a,{"sid":"x"}', now=0.0),
    Input.RECEIVE_DISCONNECT: lambda c: c.receive_message("1/a,", now=0.0),
    Input.RECEIVE_EVENT: lambda c: c.receive_message('2/a,["e"]', now=0.0),
    Input.RECEIVE_ACK: lambda c: c.receive_message("3/a,0[]", now=0.0),
    Input.RECEIVE_CONNECT_ERROR: lambda c: c.receive_message('4/a,{"message":"m"}', now=0.0),
    Input.CONNECT: lambda c: c.connect(NS),
    Input.EMIT: lambda c: c.emit(NS, "e", []),
    Input.ACK: lambda c: c.ack(NS, 0, []),
    Input.DISCONNECT: lambda c: c.disconnect(NS),
}


def server_in(state: NamespaceState) -> ServerConnection:
    server = ServerConnection(now=0.0)
    if state is not S.IDLE:
        server.receive_message("0/a,", now=0.0)
    if state is S.CONNECTED:
        server.accept(NS, "sid")
    assert server.state(NS) is state
    return server


def client_in(state: NamespaceState) -> ClientConnection:
    client = ClientConnection()
    if state is not S.IDLE:
        client.connect(NS)
    if state is S.CONNECTED:
        client.receive_message('0/a,{"sid":"x"}', now=0.0)
    assert client.state(NS) is state
    return client


def expected_error(event: Input) -> type[ProtocolError]:
    return RemoteProtocolError if event.remote else LocalProtocolError


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("event", list(SERVER_INPUTS))
def test_server_pair(state: NamespaceState, event: Input) -> None:
    server = server_in(state)
    after = SERVER_TRANSITIONS.get((state, event))
    if after is None:
        with pytest.raises(expected_error(event)):
            SERVER_INPUTS[event](server)
        with pytest.raises(expected_error(event)):
            transition(SERVER_TRANSITIONS, state, event, namespace=NS, reason="r")
    else:
        SERVER_INPUTS[event](server)
        assert server.state(NS) is after


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("event", list(CLIENT_INPUTS))
def test_client_pair(state: NamespaceState, event: Input) -> None:
    client = client_in(state)
    after = CLIENT_TRANSITIONS.get((state, event))
    if after is None:
        with pytest.raises(expected_error(event)):
            CLIENT_INPUTS[event](client)
    else:
        CLIENT_INPUTS[event](client)
        assert client.state(NS) is after


def test_tables_only_use_their_side_inputs() -> None:
    assert {event for _, event in SERVER_TRANSITIONS} <= set(SERVER_INPUTS)
    assert {event for _, event in CLIENT_TRANSITIONS} <= set(CLIENT_INPUTS)


@given(st.sampled_from(list(S)), st.sampled_from(list(Input)))
def test_transition_total_or_raises(state: NamespaceState, event: Input) -> None:
    for table in (SERVER_TRANSITIONS, CLIENT_TRANSITIONS):
        try:
            after = transition(table, state, event, namespace=NS, reason="why")
        except ProtocolError as error:
            assert (state, event) not in table
            assert isinstance(error, expected_error(event))
            assert error.reason == "why"
        else:
            assert table[state, event] is after
