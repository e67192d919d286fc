"""The official socket.io-client (npm, in Node) against our server and against the official
server, scenario by scenario: what the client observes must be the same, and as expected."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import run_scenario

BIN_ECHO = {"a": {"$bin": [1, 2, 3]}, "list": [{"$bin": []}, {"b": {"$bin": [255]}}], "text": "t"}

EXPECTED: dict[str, Any] = {
    "polling": {"acked": "hi", "transport": "polling", "id": "string"},
    "websocket": {"acked": "hi", "transport": "websocket", "id": "string"},
    "upgrade": {"acked": "hi", "transport": "websocket", "id": "string"},
    "namespaces": {"main": "/", "admin": "/admin", "sameEngine": True},
    "auth": {"seen": {"user": "ada", "n": 3}},
    "middleware_error": {"message": "not authorized", "data": {"code": 42}, "active": False},
    "acks": {
        "reported": {"answer": 42},
        "echoed": {"deep": [1, "two"]},
        "timeoutError": "operation has timed out",
    },
    "binary": {
        "echoed": BIN_ECHO,
        "fromServer": [{"x": {"$bin": [7, 8]}, "nested": [{"$bin": [0]}]}],
    },
    "rooms": {"a": ["from-c", "everyone"], "b": ["from-a", "from-c", "everyone"],
              "c": ["everyone"]},
    "server_disconnect": {"reason": "io server disconnect", "active": False},
    "client_disconnect": {"seen": "client namespace disconnect"},
    "reconnect": {"reason": "transport close", "echoed": "after", "changedId": True},
    "ordered": {"serverCount": 1000, "clientCount": 1000, "inOrder": True},
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_official_client_sees_the_same_as_with_the_reference_server(
    scenario: str, our_server: str, reference_server: str
) -> None:
    ours = run_scenario(scenario, our_server)
    reference = run_scenario(scenario, reference_server)
    assert reference == EXPECTED[scenario], "the reference server itself changed behaviour"
    assert ours == reference
