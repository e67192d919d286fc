from __future__ import annotations

import socketio_core.protocol as sio
from engineio_core.protocol import LocalProtocolError, ProtocolError, RemoteProtocolError


def test_error_carries_what_the_runtime_must_do() -> None:
    err = RemoteProtocolError("bad packet", reason="parse error", http_status=400, code=3)
    assert isinstance(err, ProtocolError)
    assert (err.message, err.reason, err.http_status, err.ws_close_code, err.code) == (
        "bad packet", "parse error", 400, 1002, 3,
    )
    assert str(err) == "bad packet"
    assert not isinstance(LocalProtocolError("x"), RemoteProtocolError)


def test_socketio_shares_the_family() -> None:
    assert sio.ProtocolError is ProtocolError
    assert sio.RemoteProtocolError is RemoteProtocolError
