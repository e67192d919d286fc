"""docs/deployment.md as printed: its server behind its nginx site (a real nginx, Debian's),
reached by our client over each transport, with a forwarded address."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from socketio_core import connect
from tests.cli.proc import Proc

from .samples import free_port, sample

SAMPLES = {("deployment.md", "behind-proxy"), ("deployment.md", "nginx-site")}

MAIN_CONF = """
daemon off;
master_process off;
error_log {tmp}/error.log;
pid {tmp}/nginx.pid;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file()
                                      else None)
    if found is None:
        pytest.fail("nginx is missing: `apt-get install -y nginx` (bash .ci/test does it)")
    return found


def start_nginx(tmp: Path, listen: int, upstream: int) -> subprocess.Popen[bytes]:
    site = sample("deployment.md", "nginx-site")
    assert "listen 80;" in site and "server 127.0.0.1:8000;" in site
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    (tmp / "site.conf").write_text(site.replace("server 127.0.0.1:8000;",
                                                f"server 127.0.0.1:{upstream};"))
    (tmp / "nginx.conf").write_text(MAIN_CONF.format(tmp=tmp))
    process = subprocess.Popen([nginx_binary(), "-p", str(tmp), "-c", str(tmp / "nginx.conf")])
    deadline = time.monotonic() + 15
    while not (tmp / "nginx.pid").exists():  # written once it listens
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"nginx did not start: {(tmp / 'error.log').read_text()}")
        time.sleep(0.05)
    return process


def test_the_server_behind_the_nginx_site(tmp_path: Path) -> None:
    upstream, listen = free_port(), free_port()
    code = sample("deployment.md", "behind-proxy")
    assert 'sio.run("127.0.0.1", 8000)' in code
    server = Proc([sys.executable, "-c", code.replace("8000", str(upstream))])
    nginx = None
    try:
        server.expect(rf"listening on http://127\.0\.0\.1:{upstream}/socket\.io/")
        nginx = start_nginx(tmp_path, listen, upstream)
        url = f"http://127.0.0.1:{listen}"

        async def through_nginx() -> list[str | None]:
            used = []
            with trio.fail_after(20):
                for transports in (("polling",), ("websocket",), ("polling", "websocket")):
                    async with connect(url, transports=transports,
                                       headers={"X-Forwarded-For": "203.0.113.9"}) as client:
                        assert client.connected
                        if transports == ("polling", "websocket"):
                            while client.io.transport != "websocket":  # the upgrade, via nginx
                                await trio.sleep(0.02)
                        used.append(client.io.transport)
            return used

        assert trio.run(through_nginx) == ["polling", "websocket", "websocket"]
        # The address the client's request came from as nginx appended it (127.0.0.1, a
        # trusted proxy here too), then, left of it, the one the client claimed.
        for _ in range(3):
            server.expect(r"^client 203\.0\.113\.9 secure False$")
        server.process.send_signal(signal.SIGTERM)
        assert server.finish(None) == 0
    finally:
        server.kill()
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()
    assert "Traceback" not in "".join(server.lines)
    assert not re.search(r"\[(error|crit|alert|emerg)\]", (tmp_path / "error.log").read_text())
