"""``Server.serve`` reports what stops it from serving as plain exceptions, before it starts:
``except OSError`` around ``nursery.start(sio.serve, ...)`` catches them (no exception group)."""

from __future__ import annotations

import ssl
from functools import partial
from pathlib import Path

import pytest
import trio

from socketio_core import Server


def test_a_port_in_use_raises_a_plain_oserror() -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(Server().serve)
            port = listeners[0].socket.getsockname()[1]
            with pytest.raises(OSError, match="in use") as caught:
                await nursery.start(Server().serve, "127.0.0.1", port)
            assert type(caught.value) is OSError
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_a_missing_or_bad_certificate_raises_a_plain_oserror(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            missing = str(tmp_path / "missing.pem")
            with pytest.raises(FileNotFoundError) as caught:
                await nursery.start(partial(Server().serve, ssl_certfile=missing))
            assert caught.value.filename == missing
            with pytest.raises(ssl.SSLError):
                await nursery.start(partial(Server().serve, ssl_certfile=str(garbage)))
            with pytest.raises(FileNotFoundError, match="needs its certificate"):
                await nursery.start(partial(Server().serve, ssl_keyfile=str(garbage)))

    trio.run(main)
