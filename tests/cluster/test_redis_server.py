"""The cluster tests' own redis-server: started on a free loopback port, killed and started
again on the same port (the fault tests rely on it), with no persistence."""

from __future__ import annotations

import subprocess

import pytest

from .redis_server import RedisServer


def test_redis_server_restarts_on_its_port_without_persistence() -> None:
    server = RedisServer()
    try:
        server.start()
        assert server.cli("SET", "k", "v") == "OK"
        assert server.cli("CONFIG", "GET", "appendonly").splitlines() == ["appendonly", "no"]
        assert server.cli("CONFIG", "GET", "save").splitlines() == ["save"]  # no snapshots
        server.kill()
        with pytest.raises(subprocess.CalledProcessError):
            server.cli("PING")
        server.start()
        assert server.cli("PING") == "PONG"
        assert server.cli("EXISTS", "k") == "0"  # nothing survived the kill
    finally:
        server.close()
    assert not server.dir.exists()
