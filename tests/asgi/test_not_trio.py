"""``ASGIApp`` under uvicorn (asyncio) says plainly that it needs an ASGI server on trio."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.cli.proc import Proc
from tests.interop.conftest import ROOT

NEEDS_TRIO = ("ASGIApp runs on trio, and this ASGI server runs applications on another event "
              "loop (asyncio: uvicorn, or hypercorn without -k trio). Serve it with an ASGI "
              "server on trio: `hypercorn -k trio module:app`.")


def test_uvicorn_stops_at_startup_with_the_reason() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "uvicorn", "examples.asgi_app:app", "--port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert completed.returncode == 3  # uvicorn's "application startup failed"
    assert f"ERROR:    {NEEDS_TRIO}\n" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_without_the_lifespan_each_request_fails_with_the_reason() -> None:
    proc = Proc([sys.executable, "-m", "uvicorn", "examples.asgi_app:app", "--port", "0",
                 "--lifespan", "off"])
    try:
        port = proc.expect(r"Uvicorn running on http://127\.0\.0\.1:(\d+)").group(1)
        url = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url, timeout=10)
        assert caught.value.code == 500
        proc.expect(re.escape(f"RuntimeError: {NEEDS_TRIO}"))
    finally:
        proc.kill()
