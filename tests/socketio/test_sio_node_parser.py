"""Cross-check against Node's own socket.io-parser (conformance/node_modules, installed by
.ci/test): the same packets must encode to the same messages, and what Node's decoder refuses
we refuse too."""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from socketio_core.protocol import Decoder, Packet, PacketType, RemoteProtocolError, encode

ROOT = Path(__file__).resolve().parents[2]
PARSER = ROOT / "conformance" / "node_modules" / "socket.io-parser"
NODE = shutil.which("node")



@pytest.fixture(autouse=True)
def _require_node() -> None:
    # A missing Node is a broken setup, not a reason to pass: fail loudly.
    if NODE is None or not PARSER.exists():
        pytest.fail("node and conformance/node_modules are required (run `npm ci` in conformance/)")

SCRIPT = r"""
const { Encoder, Decoder } = require(process.argv[1]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const revive = (v) => {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if ("$bin" in v) return Buffer.from(v.$bin, "base64");
    const o = {};
    for (const k of Object.keys(v)) o[k] = revive(v[k]);
    return o;
  }
  return v;
};
const enc = new Encoder();
const encoded = input.packets.map((p) =>
  enc.encode(revive(p)).map((part) =>
    typeof part === "string" ? part : { $bin: Buffer.from(part).toString("base64") }));
const refused = input.hostile.map((messages) => {
  const dec = new Decoder();
  try {
    for (const m of messages) dec.add(typeof m === "string" ? m : Buffer.from(m.$bin, "base64"));
    return false;
  } catch (e) {
    return true;
  }
});
process.stdout.write(JSON.stringify({ encoded, refused }));
"""

WORDS = ["", "a", "é", "日本", "\u2028", "x\ny", '"q"', "\\", "\x01", "emoji 😀", "_placeholder"]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    if kind == 3:
        return rng.choice([0.5, -1.25, 1e-7, 3e-5, 1e21, 1.5e300, 2.0, 1 / 3, 1e16, -0.0, 123.456])
    if kind == 4:
        return rng.choice(WORDS)
    if kind == 5:
        return rng.randbytes(rng.randrange(4))
    if kind in (6, 7):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(WORDS[1:4]) + str(i): random_value(rng, depth + 1) for i in range(3)}


def to_node(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bin": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [to_node(item) for item in value]
    if isinstance(value, dict):
        return {key: to_node(item) for key, item in value.items()}
    return value


def random_packets(count: int) -> list[Packet]:
    rng = random.Random(5)
    packets = []
    for _ in range(count):
        namespace = rng.choice(["/", "/admin", "/a/b"])
        ack_id = rng.choice([None, 0, 7, 123456])
        args = [random_value(rng) for _ in range(rng.randrange(4))]
        if rng.random() < 0.6:
            packets.append(Packet(PacketType.EVENT, namespace, [rng.choice(WORDS), *args], ack_id))
        else:
            packets.append(Packet(PacketType.ACK, namespace, args, ack_id or 1))
    packets += [
        Packet(PacketType.CONNECT, "/"),
        Packet(PacketType.CONNECT, "/admin", {"token": "t", "n": 1.0}),
        Packet(PacketType.DISCONNECT, "/admin"),
        Packet(PacketType.CONNECT_ERROR, "/", {"message": "Invalid namespace"}),
        Packet(PacketType.CONNECT_ERROR, "/x", "plain"),
    ]
    return packets


HOSTILE: list[list[str | bytes]] = [
    ["2[]"],
    ['2[{"toString":"x"}]'],
    ['2["disconnect"]'],
    ['2["hello"]x'],
    ['5999999999-["hello",{"_placeholder":true,"num":0}]'],
    ['511-["a",{"_placeholder":true,"num":0}]'],
    ['51-["hello",{"_placeholder":true,"num":"splice"}]', b"x"],
    ['51-["hello",{"_placeholder":true,"num":-1}]', b"x"],
    ['51-["hello",{"_placeholder":true,"num":1}]', b"x"],
    [b"\x01"],
    ['51-["a",{"_placeholder":true,"num":0}]', '2["b"]'],
    ['1{"a":1}'],
    ['0"x"'],
    ['4["x"]'],
    ["3/admin,1{}"],
    ["7"],
]


def run_node(packets: list[Packet]) -> dict[str, Any]:
    assert NODE is not None
    payload = {
        "packets": [
            {"type": int(p.type), "nsp": p.namespace, "data": to_node(p.data), "id": p.id}
            for p in packets
        ],
        "hostile": [[to_node(m) for m in messages] for messages in HOSTILE],
    }
    result = subprocess.run(
        [NODE, "-e", SCRIPT, str(PARSER)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_same_encoding_and_refusals_as_node() -> None:
    packets = random_packets(300)
    node = run_node(packets)
    for packet, theirs in zip(packets, node["encoded"], strict=True):
        ours = [part if isinstance(part, str) else to_node(part) for part in encode(packet)]
        assert ours == theirs, packet
    for messages, refused in zip(HOSTILE, node["refused"], strict=True):
        assert refused, messages
        decoder = Decoder()
        with pytest.raises(RemoteProtocolError):
            for message in messages:
                decoder.receive(message)
