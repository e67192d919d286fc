"""``socketio_core.Server`` passes the Engine.IO options on as one ``ServerOptions``: every name
in it is an ``engineio_core.Server`` option, and each reaches the engine."""

from __future__ import annotations

import inspect

import pytest

import engineio_core
from engineio_core.options import ServerOptions
from socketio_core import Server


def test_every_passed_on_option_is_an_engine_option() -> None:
    engine = set(inspect.signature(engineio_core.Server).parameters)
    assert set(ServerOptions.__annotations__) <= engine
    # What the Socket.IO server sets itself, or that means something else to it.
    assert engine - set(ServerOptions.__annotations__) == {
        "handler", "attach", "path", "max_http_buffer_size", "sid_factory"}


def test_options_reach_the_engine() -> None:
    server = Server(path="/rt", ping_interval=3.0, ping_timeout=2.0, upgrade_timeout=1.5,
                    max_http_buffer_size=1234, transports=("websocket",), allow_upgrades=False,
                    http_compression=False, max_buffered_bytes=777)
    engine = server.engine
    assert engine.path == "/rt/"
    assert (engine.config.ping_interval, engine.config.ping_timeout,
            engine.config.upgrade_timeout) == (3.0, 2.0, 1.5)
    assert engine.config.max_payload == 1234 and engine.http_config.max_message_size == 1234
    assert engine.config.transports == ("websocket",) and not engine.config.allow_upgrades
    assert not engine.http_compression and engine.max_buffered_bytes == 777


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(TypeError, match="ping_intreval"):
        Server(ping_intreval=1.0)  # type: ignore[call-arg]
