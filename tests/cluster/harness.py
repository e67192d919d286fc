"""Mixed clusters on one ``redis-server``: Node reference nodes (conformance/js/cluster_node.mjs),
Python nodes (``python -m conformance.cluster_node``), and official socket.io-client 4.8 clients
driven through conformance/js/cluster_clients.mjs. Both kinds of node serve the contract of
shared/cluster-node.md, so a test issues each operation from each node in turn."""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "conformance"

__all__ = ["Clients", "Node", "binary", "unwire"]


def _require_node_modules() -> None:
    if not (CONFORMANCE / "node_modules" / "@socket.io" / "redis-adapter").is_dir():
        pytest.fail("run `npm ci` in conformance/ first (bash .ci/test does it)")


def binary(data: bytes) -> dict[str, str]:
    """``data`` as the client driver carries binary."""
    return {"$bin": base64.b64encode(data).decode()}


def unwire(value: Any) -> Any:
    """The driver's ``{"$bin": ...}`` back into bytes, everywhere in ``value``."""
    if isinstance(value, list):
        return [unwire(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return base64.b64decode(value["$bin"])
        return {key: unwire(item) for key, item in value.items()}
    return value


class Node:
    """One cluster node process, ``kind`` ``"node"`` (the Node reference) or ``"python"``."""

    def __init__(self, kind: str, redis_url: str, adapter: str, name: str,
                 key: str = "socket.io") -> None:
        _require_node_modules()
        self.kind, self.name, self.adapter = kind, name, adapter
        options = ["--port", "0", "--redis", redis_url, "--adapter", adapter, "--key", key,
                   "--name", name]
        if kind == "node":
            command = ["node", str(CONFORMANCE / "js" / "cluster_node.mjs"), *options]
        else:
            command = [sys.executable, "-m", "conformance.cluster_node", *options]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert self.process.stdout is not None
        self.output: list[str] = []
        line = self.process.stdout.readline()
        while line and not line.startswith("listening "):
            self.output.append(line)
            line = self.process.stdout.readline()
        if not line:
            self.process.kill()
            pytest.fail(f"{kind} node {name} did not start:\n{''.join(self.output)}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        # Keep draining its output so that it never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        self._wait_ready()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                        f"{self.url}/socket.io/?EIO=4&transport=polling", timeout=2) as response:
                    if response.status == 200 and response.read().startswith(b"0{"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{self.kind} node {self.name} not ready:\n{''.join(self.output)}")
            time.sleep(0.05)

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name}>"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Clients:
    """The client driver: one Node process holding every official client of a test."""

    def __init__(self) -> None:
        _require_node_modules()
        self.process = subprocess.Popen(
            ["node", str(CONFORMANCE / "js" / "cluster_clients.mjs")], cwd=CONFORMANCE,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()
        assert json.loads(ready) == {"ready": True}, ready
        self._ids = itertools.count()
        self._answers: dict[int, Any] = {}
        self._lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            answer = json.loads(line)
            with self._lock:
                self._answers[answer["id"]] = answer
                self._lock.notify_all()

    def send(self, op: str, wait: float = 20, **fields: Any) -> Any:
        """Send one command and wait for its answer; raises ``RuntimeError`` on an error."""
        request_id = next(self._ids)
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": request_id, "op": op, **fields}) + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + wait
        with self._lock:
            while request_id not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer to {op} {fields}")
                self._lock.wait(left)
            answer = self._answers.pop(request_id)
        if not answer["ok"]:
            raise RuntimeError(f"{op} {fields}: {answer['error']}")
        return answer["result"]

    def connect(self, client: str, node: Node, nsp: str = "/", silent: bool = False) -> str:
        sid: str = self.send("connect", client=client, url=node.url, nsp=nsp,
                             auth={"token": f"tok-{client}"}, query={"cq": f"q-{client}"},
                             silent=silent)
        return sid

    def ask(self, client: str, event: str, req: Any = None, timeout: float = 15) -> Any:
        """Emit ``event`` with ``req`` and the node's ack as the answer."""
        args = [] if req is None else [req]
        return self.send("emit", client=client, event=event, args=args, ack=True,
                         timeout=int(timeout * 1000), wait=timeout + 5)

    def tell(self, client: str, event: str, req: Any = None) -> None:
        args = [] if req is None else [req]
        self.send("emit", client=client, event=event, args=args, ack=False)

    def received(self, client: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.send("received", client=client)
        return events

    def status(self, client: str) -> dict[str, Any]:
        status: dict[str, Any] = self.send("status", client=client)
        return status

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
