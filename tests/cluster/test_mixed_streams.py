"""A mixed cluster on the ``streams`` adapter (``@socket.io/redis-streams-adapter`` 0.3.1, every
node with connection state recovery on, as cluster-node.md says): 2 Node nodes and 2 Python
nodes on one redis-server, official clients on each (scenarios.py). Every event that came
through the stream carries its entry's id as offset, and a client recovers its session moving
between nodes of either kind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import scenarios
from .redis_server import RedisServer
from .scenarios import Cluster


@pytest.fixture(scope="module")
def mixed(redis_server: RedisServer) -> Iterator[Cluster]:
    with scenarios.cluster(redis_server, "streams") as running:
        yield running


def test_server_count_is_the_public_channel_numsub(mixed: Cluster) -> None:
    scenarios.check_server_count(mixed, "NUMSUB", "socket.io#{nsp}#")


def test_broadcasts(mixed: Cluster) -> None:
    scenarios.check_broadcasts(mixed)


def test_broadcasts_with_acks(mixed: Cluster) -> None:
    scenarios.check_acks(mixed)


def test_fetch_sockets_and_remote_sockets(mixed: Cluster) -> None:
    scenarios.check_fetch_and_remote_sockets(mixed)


def test_sockets_join_leave_and_disconnect(mixed: Cluster) -> None:
    scenarios.check_membership_operations(mixed)


def test_server_side_emit(mixed: Cluster) -> None:
    scenarios.check_server_side_emit(mixed)


def test_stream_entries(mixed: Cluster) -> None:
    scenarios.check_stream_entries(mixed)


def test_connection_state_recovery_across_kinds_of_node(mixed: Cluster) -> None:
    scenarios.check_recovery(mixed)
