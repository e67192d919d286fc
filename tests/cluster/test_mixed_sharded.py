"""A mixed cluster on the ``sharded`` adapter (``createShardedAdapter`` of
``@socket.io/redis-adapter`` 8.3, dynamic subscriptions): 2 Node nodes and 2 Python nodes on one
redis-server, official clients on each (scenarios.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import scenarios
from .redis_server import RedisServer
from .scenarios import Cluster


@pytest.fixture(scope="module")
def mixed(redis_server: RedisServer) -> Iterator[Cluster]:
    with scenarios.cluster(redis_server, "sharded") as running:
        yield running


def test_server_count_is_the_main_channel_shardnumsub(mixed: Cluster) -> None:
    scenarios.check_server_count(mixed, "SHARDNUMSUB", "socket.io#{nsp}#")


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


def test_room_channels_follow_local_members(mixed: Cluster) -> None:
    scenarios.check_sharded_room_channels(mixed)
