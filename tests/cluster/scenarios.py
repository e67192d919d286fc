"""Every operation of shared/cluster-node.md across a mixed cluster: 2 Node nodes and 2 Python
nodes on one redis-server, an official client on each node, each operation issued from a Node
node and from a Python node and checked on the clients of both kinds of node.

``Cluster`` starts the processes once per test module; each ``check_*`` function then runs one
group of operations on it.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgpack
import trio

from .harness import CONFORMANCE, Clients, Node, binary, unwire
from .redis_server import RedisServer

KINDS = ("node", "node", "python", "python")
#: The two nodes every operation is issued from: a Node one and a Python one.
SOURCES = ("N0", "P0")
_OFFSET = re.compile(r"^[0-9]+-[0-9]+$")


class Cluster:
    """Nodes N0, N1 (Node) and P0, P1 (Python); clients ``c-<node>`` on ``/`` and
    ``chat-<node>`` on ``/chat`` of every node."""

    def __init__(self, redis: RedisServer, adapter: str) -> None:
        self.redis = redis
        self.adapter = adapter
        self.nodes: dict[str, Node] = {}
        names = ("N0", "N1", "P0", "P1")
        for index, (label, kind) in enumerate(zip(names, KINDS, strict=True)):
            self.nodes[label] = Node(kind, redis.url, adapter, f"node-{index}")
        self.clients = Clients()
        self.sids: dict[str, str] = {}
        for label, node in self.nodes.items():
            self.sids[f"c-{label}"] = self.clients.connect(f"c-{label}", node)
            self.sids[f"chat-{label}"] = self.clients.connect(f"chat-{label}", node, nsp="/chat")

    @property
    def all(self) -> list[str]:
        return [f"c-{label}" for label in self.nodes]

    def close(self) -> None:
        self.clients.close()
        for node in self.nodes.values():
            node.stop()

    def ask(self, source: str, event: str, req: Any = None, nsp: str = "/") -> Any:
        client = f"{'c' if nsp == '/' else 'chat'}-{source}"
        answer = self.clients.ask(client, event, req)
        if isinstance(answer, dict) and "error" in answer:
            raise AssertionError(f"{source} {event}: {answer['error']}")
        return answer

    def received(self, client: str, offsets: list[str | None] | None = None
                 ) -> list[tuple[str, list[Any]]]:
        """The events ``client`` got since last asked, binary as bytes. With the streams
        adapter (connection state recovery on), the stream offset appended as a last argument
        (cluster-node.md §5) is taken off, and added to ``offsets`` (``None`` for an event
        without one)."""
        events = []
        for item in self.clients.received(client):
            args = unwire(item["args"])
            offset = None
            if self.adapter == "streams" and args and isinstance(args[-1], str) \
                    and _OFFSET.match(args[-1]):
                offset = args.pop()
            if offsets is not None:
                offsets.append(offset)
            events.append((item["event"], args))
        return events

    def expect(self, expected: dict[str, list[tuple[str, list[Any]]]],
               others: list[str] | None = None, settle: float = 0.3,
               timeout: float = 10.0, offsets: bool = True, one_entry: bool = True
               ) -> dict[str, list[str | None]]:
        """Each client in ``expected`` gets exactly those events (in that order), and every
        client in ``others`` none, within ``timeout``. With the streams adapter, each event
        carries its stream offset when ``offsets`` (the same for every client that got it,
        increasing for each client; with ``one_entry`` false, each client's copy is an entry
        of its own, as for ``RemoteSocket.emit``), and none otherwise (local and volatile
        broadcasts); with the other adapters, none."""
        got: dict[str, list[tuple[str, list[Any]]]] = {client: [] for client in expected}
        got_offsets: dict[str, list[str | None]] = {client: [] for client in expected}
        deadline = time.monotonic() + timeout
        while True:
            for client in expected:
                got[client].extend(self.received(client, got_offsets[client]))
            if all(len(got[c]) >= len(events) for c, events in expected.items()):
                break
            assert time.monotonic() < deadline, f"missing events: {got} != {expected}"
            time.sleep(0.02)
        time.sleep(settle)  # anything extra or misdirected arrives too
        for client in expected:
            got[client].extend(self.received(client, got_offsets[client]))
        for client, events in expected.items():
            assert got[client] == events, (client, _first_difference(got[client], events))
        for client in others or []:
            assert self.received(client) == [], client
        self._check_offsets(got, got_offsets, offsets and self.adapter == "streams", one_entry)
        return got_offsets

    @staticmethod
    def _check_offsets(got: dict[str, list[tuple[str, list[Any]]]],
                       offsets: dict[str, list[str | None]], wanted: bool,
                       one_entry: bool) -> None:
        by_event: dict[str, set[str | None]] = {}
        for client, events in got.items():
            if not wanted:
                assert offsets[client] == [None] * len(events), (client, offsets[client])
                continue
            assert None not in offsets[client], (client, events, offsets[client])
            ids = [tuple(map(int, str(o).split("-"))) for o in offsets[client]]
            assert ids == sorted(ids) and len(set(ids)) == len(ids), (client, offsets[client])
            for event, offset in zip(events, offsets[client], strict=True):
                by_event.setdefault(json.dumps(event, default=repr), set()).add(offset)
        for event, seen in by_event.items():
            assert len(seen) == 1 or not one_entry, f"{event} came with offsets {seen}"

    def drain(self) -> None:
        for client in [*self.all, *(f"chat-{label}" for label in self.nodes)]:
            self.received(client)


def _first_difference(got: list[Any], expected: list[Any]) -> str:
    for index, (a, b) in enumerate(zip(got, expected, strict=False)):
        if a != b:
            return f"at {index}: got {a!r:.200}, expected {b!r:.200}"
    return f"got {len(got)} events, expected {len(expected)}: {got[len(expected):]!r:.300}"


@contextmanager
def cluster(redis: RedisServer, adapter: str) -> Iterator[Cluster]:
    running = Cluster(redis, adapter)
    try:
        yield running
    finally:
        running.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def check_server_count(c: Cluster, count_command: str, channel: str) -> None:
    for nsp in ("/", "/chat"):
        assert c.redis.numsub(count_command, channel.format(nsp=nsp)) == 4
        for label in c.nodes:
            assert c.ask(label, "server-count", nsp=nsp) == 4


def check_broadcasts(c: Cluster) -> None:
    c.ask("N1", "join", {"rooms": ["room-x"]})
    c.ask("P1", "join", {"rooms": ["room-x"]})
    big = bytes(range(256)) * 300
    for source in SOURCES:
        c.drain()
        everyone = [f"c-{label}" for label in c.nodes]
        c.ask(source, "broadcast", {"event": "all", "args": [source, 1, {"k": [None, True]}]})
        c.expect({client: [("all", [source, 1, {"k": [None, True]}])] for client in everyone},
                 others=[f"chat-{label}" for label in c.nodes])
        c.ask(source, "broadcast", {"event": "room", "args": [source], "rooms": ["room-x"]})
        c.expect({"c-N1": [("room", [source])], "c-P1": [("room", [source])]},
                 others=["c-N0", "c-P0"])
        c.ask(source, "broadcast", {"event": "except", "args": [source], "except": ["room-x"]})
        c.expect({"c-N0": [("except", [source])], "c-P0": [("except", [source])]},
                 others=["c-N1", "c-P1"])
        c.ask(source, "broadcast", {"event": "two", "args": [source],
                                    "rooms": ["room-x", c.sids["c-N0"]], "except": ["nobody"]})
        c.expect({"c-N0": [("two", [source])], "c-N1": [("two", [source])],
                  "c-P1": [("two", [source])]}, others=["c-P0"])
        payload = [source, binary(b"\x00\x01\x02\xff"), {"nested": [binary(big), "x"]}]
        plain = unwire(payload)
        c.ask(source, "broadcast", {"event": "bin", "args": payload})
        c.expect({client: [("bin", plain)] for client in everyone})
        # to(<socket id on another node>), of each kind
        for target in ("c-N1", "c-P1"):
            c.ask(source, "broadcast", {"event": "direct", "args": [source],
                                        "rooms": [c.sids[target]]})
            c.expect({target: [("direct", [source])]},
                     others=[x for x in everyone if x != target])
        c.ask(source, "broadcast", {"event": "local", "args": [source], "local": True})
        c.expect({f"c-{source}": [("local", [source])]},
                 others=[x for x in everyone if x != f"c-{source}"], offsets=False)
        c.ask(source, "broadcast", {"event": "flags", "args": [source], "volatile": True,
                                    "compress": False})
        c.expect({client: [("flags", [source])] for client in everyone}, offsets=False)
        c.ask(source, "broadcast", {"event": "others", "args": [source], "fromSocket": True})
        c.expect({client: [("others", [source])] for client in everyone
                  if client != f"c-{source}"}, others=[f"c-{source}"])
        c.ask(source, "broadcast", {"event": "chat", "args": [source]}, nsp="/chat")
        c.expect({f"chat-{label}": [("chat", [source])] for label in c.nodes}, others=everyone)
        # 100 in a row without acks arrive in order everywhere
        for index in range(100):
            c.clients.tell(f"c-{source}", "broadcast",
                           {"event": "seq", "args": [index], "rooms": ["room-x"]})
        c.expect({"c-N1": [("seq", [i]) for i in range(100)],
                  "c-P1": [("seq", [i]) for i in range(100)]}, others=["c-N0", "c-P0"])


def check_acks(c: Cluster) -> None:
    everyone = [f"c-{label}" for label in c.nodes]
    sids = sorted(c.sids[client] for client in everyone)
    for source in SOURCES:
        answer = c.ask(source, "emit-with-ack", {"event": "ack-me", "args": [source],
                                                 "timeout": 5000})
        assert answer["err"] is None
        assert sorted(r["sid"] for r in answer["responses"]) == sids
        assert {r["x"] for r in answer["responses"]} == {source}
        answer = c.ask(source, "emit-with-ack", {"event": "ack-me", "args": [source],
                                                 "rooms": ["room-x"], "timeout": 5000})
        assert sorted(r["sid"] for r in answer["responses"]) == sorted(
            [c.sids["c-N1"], c.sids["c-P1"]])
        c.drain()
    # one client of each kind of node leaves ack-maybe unanswered
    silent = {"N1": "s-N1", "P1": "s-P1"}
    for label, client in silent.items():
        c.sids[client] = c.clients.connect(client, c.nodes[label], silent=True)
    for source in SOURCES:
        answer = c.ask(source, "emit-with-ack", {"event": "ack-maybe", "args": [source],
                                                 "timeout": 1500})
        assert answer["err"] == "operation has timed out"
        assert sorted(r["sid"] for r in answer["responses"]) == sids
    for client in silent.values():
        c.clients.send("close", client=client)
    c.drain()


def check_fetch_and_remote_sockets(c: Cluster) -> None:
    c.ask("P1", "set-data", {"data": {"label": "p1", "nested": {"list": [1, "two", None]}}})
    c.ask("N1", "set-data", {"data": {"label": "n1"}})
    everyone = [f"c-{label}" for label in c.nodes]
    for source in SOURCES:
        fetched = {s["id"]: s for s in c.ask(source, "fetch-sockets", {})}
        assert sorted(fetched) == sorted(c.sids[client] for client in everyone)
        for client in everyone:
            details = fetched[c.sids[client]]
            assert details["handshake"]["auth"] == {"token": f"tok-{client}"}
            assert details["handshake"]["query"]["cq"] == f"q-{client}"
            assert c.sids[client] in details["rooms"]
        assert fetched[c.sids["c-P1"]]["data"] == {"label": "p1",
                                                   "nested": {"list": [1, "two", None]}}
        assert fetched[c.sids["c-N1"]]["data"] == {"label": "n1"}
        assert "room-x" in fetched[c.sids["c-P1"]]["rooms"]
        in_room = c.ask(source, "fetch-sockets", {"rooms": ["room-x"]})
        assert sorted(s["id"] for s in in_room) == sorted([c.sids["c-N1"], c.sids["c-P1"]])
        local = c.ask(source, "fetch-sockets", {"local": True})
        assert [s["id"] for s in local] == [c.sids[f"c-{source}"]]
        ids = c.ask(source, "remote-emit", {"rooms": ["room-x"], "event": "remote",
                                            "args": [source, binary(b"\x07")]})
        assert sorted(ids) == sorted([c.sids["c-N1"], c.sids["c-P1"]])
        c.expect({"c-N1": [("remote", [source, b"\x07"])],
                  "c-P1": [("remote", [source, b"\x07"])]}, others=["c-N0", "c-P0"],
                 one_entry=False)
        for target in ("c-N1", "c-P1"):
            answer = c.ask(source, "remote-emit-with-ack", {
                "sid": c.sids[target], "event": "ack-me", "args": [source], "timeout": 5000})
            assert answer == {"err": None, "response": {"sid": c.sids[target], "x": source}}
        assert c.ask(source, "remote-emit-with-ack", {"sid": "nobody", "event": "ack-me",
                                                      "timeout": 1000}) == {
            "err": "socket not found"}
        c.drain()


def check_membership_operations(c: Cluster) -> None:
    for source in SOURCES:
        joined = f"joined-{source}"
        c.ask(source, "sockets-join", {"rooms": ["room-x"], "join": [joined]})
        wait_for(lambda joined=joined: all(
            joined in c.ask(label, "my-rooms") for label in ("N1", "P1")))
        # exactly once, and only the selected sockets (the issuer's own sockets included)
        for label in ("N0", "P0"):
            assert joined not in c.ask(label, "my-rooms")
        c.ask(source, "sockets-leave", {"rooms": [joined], "leave": "room-x"})
        wait_for(lambda: all("room-x" not in c.ask(label, "my-rooms")
                             for label in ("N1", "P1")))
        c.ask(source, "sockets-join", {"rooms": [joined], "join": ["room-x"]})
        wait_for(lambda: all("room-x" in c.ask(label, "my-rooms") for label in ("N1", "P1")))
        # the issuer's own node: its client joins through its own request
        c.ask(source, "sockets-join", {"rooms": [c.sids[f"c-{source}"]], "join": ["self"]})
        wait_for(lambda source=source: "self" in c.ask(source, "my-rooms"))
        c.ask(source, "sockets-leave", {"rooms": [c.sids[f"c-{source}"]], "leave": "self"})
        wait_for(lambda source=source: "self" not in c.ask(source, "my-rooms"))
        # disconnect-sockets reaches victims on both kinds of node
        victims = {label: f"v-{source}-{label}" for label in ("N1", "P1", source)}
        for label, client in victims.items():
            c.clients.connect(client, c.nodes[label])
            c.clients.ask(client, "join", {"rooms": ["doomed"]})
        c.ask(source, "disconnect-sockets", {"rooms": ["doomed"], "close": source == "P0"})
        for client in victims.values():
            wait_for(lambda client=client: not c.clients.status(client)["connected"])
            assert c.clients.status(client)["disconnects"] == ["io server disconnect"]
        for label in c.nodes:
            assert c.clients.status(f"c-{label}")["connected"]
    c.drain()


def check_server_side_emit(c: Cluster) -> None:
    names = {label: node.name for label, node in c.nodes.items()}
    for source in SOURCES:
        note = f"note-from-{source}"
        c.ask(source, "server-side-emit", {"event": "cluster-note",
                                           "args": [note, {"n": 1}, binary(b"\x01")]})
        for label in c.nodes:
            if label == source:
                continue
            wait_for(lambda label=label, note=note: any(
                e["args"][0] == note for e in c.ask(label, "server-events")))
        assert not any(e["args"][0] == note for e in c.ask(source, "server-events"))
        answer = c.ask(source, "server-side-emit-with-ack",
                       {"event": "cluster-ask", "args": [f"ask-{source}"]})
        assert answer["err"] is None
        assert sorted(r["name"] for r in answer["responses"]) == sorted(
            name for label, name in names.items() if label != source)
        assert all(r["args"] == [f"ask-{source}"] for r in answer["responses"])
        # the /chat namespace has its own listeners
        answer = c.ask(source, "server-side-emit-with-ack",
                       {"event": "cluster-ask", "args": ["chat"]}, nsp="/chat")
        assert len(answer["responses"]) == 3


def check_all_rooms(c: Cluster) -> None:
    for source in SOURCES:
        rooms = set(c.ask(source, "all-rooms"))
        assert {c.sids[f"c-{label}"] for label in c.nodes} | {"room-x"} <= rooms


def check_sharded_room_channels(c: Cluster) -> None:
    """``SHARDNUMSUB {key}#/#<room>#`` counts the nodes with a local member in a public room:
    a node subscribes on the first local join and unsubscribes when the room empties."""
    channel = "socket.io#/#{}#"
    assert c.redis.numsub("SHARDNUMSUB", channel.format("room-x")) == 2  # N1 and P1
    c.ask("N0", "join", {"rooms": ["lonely"]})
    c.ask("P0", "join", {"rooms": ["lonely"]})
    wait_for(lambda: c.redis.numsub("SHARDNUMSUB", channel.format("lonely")) == 2)
    for source in SOURCES:
        c.ask(source, "broadcast", {"event": "lonely", "args": [source], "rooms": ["lonely"]})
        c.expect({"c-N0": [("lonely", [source])], "c-P0": [("lonely", [source])]},
                 others=["c-N1", "c-P1"])
    c.ask("P0", "leave", {"room": "lonely"})
    wait_for(lambda: c.redis.numsub("SHARDNUMSUB", channel.format("lonely")) == 1)
    c.ask("N0", "leave", {"room": "lonely"})
    wait_for(lambda: c.redis.numsub("SHARDNUMSUB", channel.format("lonely")) == 0)
    # socket ids are private rooms: no channel of their own
    for label in c.nodes:
        assert c.redis.numsub("SHARDNUMSUB", channel.format(c.sids[f"c-{label}"])) == 0
        assert len(c.sids[f"c-{label}"]) == 20


def check_stream_entries(c: Cluster) -> None:
    """Broadcasts and joins of both kinds of node are entries of the one stream, in Node's
    field layout."""
    before = int(c.redis.cli("XLEN", "socket.io"))
    c.ask("P0", "broadcast", {"event": "streamed", "args": ["p0"], "rooms": ["room-x"]})
    c.ask("N0", "broadcast", {"event": "streamed", "args": ["n0"], "rooms": ["room-x"]})
    offsets = c.expect({"c-N1": [("streamed", ["p0"]), ("streamed", ["n0"])],
                        "c-P1": [("streamed", ["p0"]), ("streamed", ["n0"])]})
    assert int(c.redis.cli("XLEN", "socket.io")) == before + 2
    last = c.redis.cli("XREVRANGE", "socket.io", "+", "-", "COUNT", "2").splitlines()
    # the offset each client got is the id of the entry, on the sending node and the others
    ids = [line for line in last if re.match(r"^[0-9]+-[0-9]+$", line)]
    assert offsets["c-N1"] == offsets["c-P1"] == ids[::-1]
    fields = [line for line in last if not re.match(r"^[0-9]+-[0-9]+$", line)]
    assert fields[0::8] == ["uid", "uid"] and fields[2::8] == ["nsp", "nsp"]
    assert fields[4::8] == ["type", "type"] and fields[5::8] == ["3", "3"]
    assert all('"streamed"' in data for data in fields[7::8])


def node_emitter(c: Cluster, operations: list[dict[str, Any]]) -> None:
    """Run operations with the official ``@socket.io/redis-emitter``."""
    completed = subprocess.run(
        ["node", str(CONFORMANCE / "js" / "emitter.mjs"), c.redis.url, "socket.io",
         json.dumps(operations)], cwd=CONFORMANCE, capture_output=True, text=True, timeout=30)
    assert completed.stdout.strip() == "done", completed.stderr


def check_emitters(c: Cluster) -> None:
    """Our emitter reaches clients on Node nodes, Node's reaches clients on Python nodes (and
    each reaches both kinds)."""
    from socketio_core.redis import Emitter

    everyone = [f"c-{label}" for label in c.nodes]
    payload = ["e", binary(b"\x00\xff"), {"nested": [binary(b"\x01")]}]

    async def ours() -> None:
        async with Emitter(c.redis.url) as emitter:
            await emitter.emit("py-all", *unwire(payload))
            await emitter.to("room-x").except_(c.sids["c-P1"]).emit("py-room", 1)
            await emitter.of("/chat").emit("py-chat", 2)
            await emitter.server_side_emit("cluster-note", "py-note")
            await emitter.in_("room-x").sockets_join("py-joined")

    trio.run(ours)
    c.expect({client: [("py-all", unwire(payload))] + ([("py-room", [1])] if client == "c-N1"
                                                       else []) for client in everyone})
    c.expect({f"chat-{label}": [("py-chat", [2])] for label in c.nodes})
    for label in c.nodes:
        wait_for(lambda label=label: any(e["args"] == ["py-note"]
                                         for e in c.ask(label, "server-events")))
    wait_for(lambda: all("py-joined" in c.ask(label, "my-rooms") for label in ("N1", "P1")))

    node_emitter(c, [
        {"op": "emit", "event": "js-all", "args": payload},
        {"op": "emit", "event": "js-room", "args": [1], "rooms": ["room-x"],
         "except": [c.sids["c-N1"]]},
        {"op": "emit", "event": "js-chat", "args": [2], "nsp": "/chat"},
        {"op": "serverSideEmit", "event": "cluster-note", "args": ["js-note"]},
        {"op": "socketsJoin", "rooms": ["room-x"], "join": ["js-joined"]},
    ])
    c.expect({client: [("js-all", unwire(payload))] + ([("js-room", [1])] if client == "c-P1"
                                                       else []) for client in everyone})
    c.expect({f"chat-{label}": [("js-chat", [2])] for label in c.nodes})
    for label in c.nodes:
        wait_for(lambda label=label: any(e["args"] == ["js-note"]
                                         for e in c.ask(label, "server-events")))
    wait_for(lambda: all("js-joined" in c.ask(label, "my-rooms") for label in ("N1", "P1")))


def _session(c: Cluster, pid: str) -> tuple[dict[str, Any], int] | None:
    """The session stored under ``sio:session:<pid>`` (base64 of msgpack), with its TTL in
    ms; ``None`` when there is none."""
    raw = c.redis.cli("GET", f"sio:session:{pid}")
    if not raw:
        return None
    ttl = int(c.redis.cli("PTTL", f"sio:session:{pid}"))
    return msgpack.unpackb(base64.b64decode(raw), raw=False), ttl


def check_recovery(c: Cluster) -> None:
    """Connection state recovery across nodes (cluster-node.md §5): a client drops its
    transport on a node of one kind, misses broadcasts from both kinds, comes back on a node of
    the other kind (and of its own), and gets its id, rooms, data and every missed event back,
    once and in order. The session in Redis is Node's: base64 msgpack ``{sid, pid, rooms,
    data}`` with a TTL, deleted once restored."""
    routes = [("N0", "P1"), ("P0", "N1"), ("P0", "P1"), ("N0", "N1")]
    for index, (first, then) in enumerate(routes):
        client = f"r-{first}-{then}"
        room, data = f"csr-{index}", {"csr": index, "nested": [1, None, "x"]}
        sid = c.clients.connect(client, c.nodes[first])
        c.clients.ask(client, "join", {"rooms": [room]})
        assert c.clients.ask(client, "set-data", {"data": data}) is True
        # one event, to give the client an offset
        c.ask("N0" if first == "P0" else "P0", "broadcast",
              {"event": "hello", "args": ["first"], "rooms": [sid]})
        c.expect({client: [("hello", ["first"])]})
        pid = c.clients.status(client)["pid"]
        assert isinstance(pid, str) and pid != sid
        c.clients.send("drop", client=client)
        wait_for(lambda client=client: not c.clients.status(client)["connected"])
        wait_for(lambda pid=pid: _session(c, pid) is not None)
        stored, ttl = _session(c, pid) or ({}, 0)
        assert stored == {"sid": sid, "pid": pid, "rooms": [sid, room], "data": data}, stored
        assert 0 < ttl <= 60000
        # while it is away: for its room, for everyone, for its id, from both kinds of node;
        # a volatile one (replayed: the stream keeps it); and ones not for it
        missed = []
        for source in SOURCES:
            for event, req in (("room", {"rooms": [room]}), ("all", {}),
                               ("direct", {"rooms": [sid]}),
                               ("volatile", {"rooms": [room], "volatile": True}),
                               ("other-room", {"rooms": ["room-x"]}),
                               ("excepted", {"except": [room]})):
                c.ask(source, "broadcast", {"event": f"missed-{event}",
                                            "args": [source, binary(b"\x01")], **req})
                if event not in ("other-room", "excepted"):
                    missed.append((f"missed-{event}", [source, b"\x01"]))
        c.drain()
        back = c.clients.send("reconnect", client=client, url=c.nodes[then].url)
        assert back == {"id": sid, "recovered": True}, (first, then, back)
        offsets = c.expect({client: missed})
        assert all(offsets[client])
        assert c.clients.ask(client, "whoami")["recovered"] is True
        assert sorted(c.clients.ask(client, "my-rooms")) == sorted([sid, room])
        assert c.clients.ask(client, "get-data") == data
        assert _session(c, pid) is None
        # live events reach it on its new node, with offsets
        c.ask(first, "broadcast", {"event": "live", "args": [index], "rooms": [room]})
        c.expect({client: [("live", [index])]})
        c.clients.send("close", client=client)
    c.drain()
