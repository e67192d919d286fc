"""Our server under soak: the soak contract, the issue's options, its log on stderr.

Usage: ``python -m benchmarks.soak.server --port PORT [--tracemalloc] [--gc-threshold N,N,N]
[--gc-freeze]``
(prints ``listening PORT`` once ready; SIGTERM closes it and exits 0).

The contract, the same as ``node_server.mjs``'s, on the default namespace:
    ``echo(*args)``: with an ack asked, ack with the same arguments; else emit ``echo`` back.
    ``join(room)``: join, then ack ``true``.
    ``burst(room, count, size)``: broadcast ``count`` ``blob`` events of a ``size``-character
    string to the room back to back, then ack ``true``.
    ``seq(n)``: count ``n`` when it is the next number, and emit ``seq`` ``n`` back;
    ``seq-end``: emit ``seq-done`` with how many came in order.
    ``GET /soak/stats``: ``{"sessions": Engine.IO sessions, "sockets": Socket.IO sockets,
    "tasks": trio tasks alive}``; with ``--tracemalloc``, ``GET /soak/snapshot?file=PATH`` dumps
    a tracemalloc snapshot to ``PATH``.
    ``GET /soak/heap``: where the process's memory is (``heap.py``): glibc's ``mallinfo2``,
    Python's small-object allocator, the resident set by mapping kind.

Every log record goes to stderr as one line ``LOG <LEVEL> <logger>: <message>`` (a traceback
follows it when there is one), so a harness counts ERROR records by their first line.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import tracemalloc
from collections import Counter
from typing import Any

import trio

from socketio_core import Server, Socket
from socketio_core.handlers import Ack
from transports import Request

from .heap import Births, heap_figures

OPTIONS: dict[str, Any] = {
    "max_http_buffer_size": 1_000_000,
    "ping_interval": 25.0,
    "ping_timeout": 20.0,
}


def make_server() -> Server:
    """Our server with the issue's options and the soak contract."""
    server = Server(**OPTIONS)

    @server.on("connection")
    def connection(socket: Socket) -> None:
        expected = 0

        @socket.on("seq")
        def seq(n: Any) -> None:
            nonlocal expected
            if n == expected:
                expected += 1
            socket.emit_nowait("seq", n)

        @socket.on("seq-end")
        def seq_end() -> None:
            socket.emit_nowait("seq-done", expected)

    @server.on("echo")
    def echo(socket: Socket, *args: Any, ack: Ack | None) -> None:
        if ack is not None:
            ack(*args)
        else:
            socket.emit_nowait("echo", *args)

    # The hostile mix sends these events with any arguments: a handler that raised would be
    # the application's error record, not the server's, so they take anything.
    @server.on("join")
    def join(socket: Socket, room: Any = None, *_: Any) -> bool:
        if not isinstance(room, str):
            return False
        socket.join(room)
        return True

    @server.on("burst")
    async def burst(socket: Socket, room: Any = None, count: Any = 0, size: Any = 0,
                    *rest: Any) -> bool:
        if not (isinstance(room, str) and type(count) is int and type(size) is int
                and 0 <= count <= 10_000 and 0 <= size <= 1_000_000):
            return False
        blob = "x" * size
        for _i in range(count):
            await server.to(room).emit("blob", blob)
        return True

    return server


def _task_names() -> dict[str, int]:
    """How many tasks run each function (the stats request's own included)."""
    names: Counter[str] = Counter()
    root = trio.lowlevel.current_root_task()
    stack = [root] if root is not None else []
    while stack:
        task = stack.pop()
        names[task.name.rsplit(".", 1)[-1]] += 1
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return dict(names)


def _watch_figures() -> dict[str, int]:
    """The sizes of the epoll watch's tables (``transports._watch``), if this run made one."""
    from transports import _watch

    try:
        watcher = _watch._WATCHER.get()
    except LookupError:
        return {}
    return {name.strip("_"): len(getattr(watcher, name)) for name in (
        "_timers", "_timed", "_armed", "_parked", "_ready", "_ended", "_watched")
        if hasattr(watcher, name)}


_BIRTHS = Births()


async def _stats(server: Server, request: Request) -> None:
    if request.path == "/soak/stats":
        body = json.dumps({
            "sessions": len(server.engine.sessions),
            "sockets": len(server.sockets),
            "tasks": trio.lowlevel.current_statistics().tasks_living,
            "task_names": _task_names(),
        }).encode()
        await request.respond(200, [("Content-Type", "application/json")], body)
        return
    if request.path == "/soak/heap":
        body = json.dumps({**heap_figures(), "watch": _watch_figures()}).encode()
        await request.respond(200, [("Content-Type", "application/json")], body)
        return
    if request.path == "/soak/born":  # ?mark: from now on; else what was born since
        births = _BIRTHS
        if "mark" in request.query_lists:
            answer: Any = births.mark()
        else:
            answer = births.report()
        await request.respond(200, [("Content-Type", "application/json")],
                              json.dumps(answer).encode())
        return
    if request.path == "/soak/snapshot" and tracemalloc.is_tracing():
        gc.collect()
        tracemalloc.take_snapshot().dump(request.query_lists["file"][-1])
        await request.respond(200, [("Content-Type", "text/plain")], b"ok")
        return
    await request.respond(404, [("Content-Type", "text/plain")], b"Not Found")


async def serve(port: int, freeze: bool = False) -> None:
    server = make_server()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            lambda task_status: server.serve(
                "127.0.0.1", port, other=lambda request: _stats(server, request),
                task_status=task_status))
        if freeze:
            gc.collect()
            gc.freeze()
        print(f"listening {listeners[0].socket.getsockname()[1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--gc-threshold", metavar="N,N,N",
                        help="gc.set_threshold while serving (as socketio-core serve's option)")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() once listening: what the server made to start is "
                             "left out of every collection")
    args = parser.parse_args()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("LOG %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    if args.tracemalloc:
        tracemalloc.start(10)
    if args.gc_threshold:
        gc.set_threshold(*(int(n) for n in args.gc_threshold.split(",")))
    trio.run(serve, args.port, args.gc_freeze)


if __name__ == "__main__":
    main()
