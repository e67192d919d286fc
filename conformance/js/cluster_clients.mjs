// Official socket.io-client 4.8 clients driven by a test over stdin/stdout, one JSON command per
// line in, one JSON answer per line out ({id, ok, result} or {id, ok: false, error}).
// Binary travels as {"$bin": "<base64>"} both ways.
// Commands: connect {client, url, nsp, auth, query, silent}, emit {client, event, args, ack,
// timeout}, received {client} (events so far, then cleared), status {client} (connected, id,
// disconnect reasons, recovered, and the private session id of connection state recovery),
// drop {client} (closes the transport without a DISCONNECT), reconnect {client, url} (connects
// again, to the node at url, presenting the session to recover), close {client}.
import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const clients = new Map();

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

function toWire(value) {
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  }
  return value;
}

function connect(req) {
  return new Promise((resolve, reject) => {
    const socket = io(req.url + (req.nsp && req.nsp !== "/" ? req.nsp : ""), {
      transports: ["websocket"], auth: req.auth ?? {}, query: req.query ?? {},
      reconnection: false, forceNew: true, timeout: 10000,
    });
    const state = { socket, events: [], disconnects: [], silent: !!req.silent };
    clients.set(req.client, state);
    socket.onAny((event, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      state.events.push({ event, args: toWire(args) });
      if (ack && (event === "ack-me" || (event === "ack-maybe" && !state.silent))) {
        ack({ sid: socket.id, x: args[0] });
      }
    });
    socket.on("disconnect", (reason) => state.disconnects.push(reason));
    socket.once("connect", () => resolve(socket.id));
    socket.once("connect_error", (error) => reject(error));
  });
}

function emit(req) {
  const { socket } = clients.get(req.client);
  const args = fromWire(req.args ?? []);
  if (!req.ack) {
    socket.emit(req.event, ...args);
    return Promise.resolve(null);
  }
  return socket.timeout(req.timeout ?? 10000).emitWithAck(req.event, ...args).then(toWire);
}

async function handle(req) {
  switch (req.op) {
    case "connect":
      return connect(req);
    case "emit":
      return emit(req);
    case "received": {
      const state = clients.get(req.client);
      const events = state.events;
      state.events = [];
      return events;
    }
    case "status": {
      const { socket, disconnects } = clients.get(req.client);
      return { connected: socket.connected, id: socket.id ?? null, disconnects,
               recovered: !!socket.recovered, pid: socket._pid ?? null };
    }
    case "reconnect": {
      const { socket } = clients.get(req.client);
      socket.io.uri = req.url; // the manager's next connection goes to this node
      const connected = new Promise((resolve, reject) => {
        socket.once("connect", () => resolve({ id: socket.id, recovered: socket.recovered }));
        socket.once("connect_error", (error) => reject(error));
      });
      socket.connect();
      return connected;
    }
    case "drop":
      clients.get(req.client).socket.io.engine.close();
      return true;
    case "close":
      clients.get(req.client).socket.disconnect();
      clients.delete(req.client);
      return true;
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const req = JSON.parse(line);
  handle(req).then(
    (result) => process.stdout.write(JSON.stringify({ id: req.id, ok: true, result }) + "\n"),
    (error) => process.stdout.write(JSON.stringify({ id: req.id, ok: false,
      error: String(error && error.message ? error.message : error) }) + "\n"),
  );
});
lines.on("close", () => process.exit(0));
console.log(JSON.stringify({ ready: true }));
