// Encodes values as the Node cluster packages do, for the codec tests: reads one JSON array of
// values from stdin ({"$bin": base64} for a Buffer) and prints, per value, the hex of notepack.io
// (pub/sub and sharded adapters, emitter), of @msgpack/msgpack (streams adapter) and the text of
// JSON.stringify.
import { encode as notepack } from "notepack.io";
import { encode as msgpack } from "@msgpack/msgpack";

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) {
      return Buffer.from(value.$bin, "base64");
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromWire(v)]));
  }
  return value;
}

let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const values = JSON.parse(input).map(fromWire);
  const out = values.map((value) => ({
    notepack: Buffer.from(notepack(value)).toString("hex"),
    msgpack: Buffer.from(msgpack(value)).toString("hex"),
    json: JSON.stringify(value),
  }));
  console.log(JSON.stringify(out));
});
