// Publishes with the official @socket.io/redis-emitter 5.1, for the cluster tests.
// Usage: node emitter.mjs REDIS_URL KEY '<json list of operations>'; each operation is
// {op: "emit"|"serverSideEmit"|"socketsJoin"|"socketsLeave"|"disconnectSockets", nsp, rooms,
//  except, event, args, join, leave, close}; binary travels as {"$bin": base64}. Prints "done".
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";

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

const [url, key, operations] = process.argv.slice(2);
const client = createClient({ url });
await client.connect();
const emitter = new Emitter(client, { key });
for (const req of JSON.parse(operations)) {
  let op = req.nsp && req.nsp !== "/" ? emitter.of(req.nsp) : emitter;
  if (req.op === "serverSideEmit") {
    op.serverSideEmit(req.event, ...fromWire(req.args ?? []));
    continue;
  }
  if (req.rooms) op = op.to(req.rooms);
  if (req.except) op = op.except(req.except);
  if (req.op === "emit") op.emit(req.event, ...fromWire(req.args ?? []));
  else if (req.op === "socketsJoin") op.socketsJoin(req.join);
  else if (req.op === "socketsLeave") op.socketsLeave(req.leave);
  else if (req.op === "disconnectSockets") op.disconnectSockets(!!req.close);
}
await client.quit();
console.log("done");
