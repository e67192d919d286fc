"""TLS against our server and Node's (https): verified by default, so a self-signed certificate
is refused; accepted with its CA in ``ssl_context``, or with verification turned off."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any

import pytest

from socketio_core import ConnectError, connect
from tests.client.conftest import KINDS, TRANSPORTS, run
from tests.tls_cert import make_cert


@pytest.mark.parametrize("kind", KINDS)
def test_tls_is_verified_unless_turned_off(
    tmp_path: Path, make_server: Any, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = make_cert(tmp_path)
    server = make_server(kind, cert=str(cert), key=str(key))
    assert server.url.startswith("https://")

    async def main() -> None:
        for mode, transports in TRANSPORTS.items():
            with pytest.raises(ConnectError) as caught:
                async with connect(server.url, transports=transports, reconnection=False):
                    pass
            expected = "websocket error" if mode == "websocket" else "xhr poll error"
            assert caught.value.message == expected
            assert "CERTIFICATE_VERIFY_FAILED" in caught.value.data
            trusted = ssl.create_default_context(cafile=str(cert))
            async with connect(server.url, transports=transports, ssl_context=trusted) as socket:
                assert await socket.emit_with_ack("echo", b"secure") == b"secure"
            with caplog.at_level(logging.WARNING, logger="engineio_core.client"):
                async with connect(server.url, transports=transports,
                                   ssl_verify=False) as socket:
                    assert await socket.emit_with_ack("echo", mode) == mode
            assert "verification is turned off" in caplog.text

    run(main)
