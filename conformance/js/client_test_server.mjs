// The official socket.io server for the Python client's tests (tests/client); the same contract
// as tests/client/server_app.py.
// Usage: node client_test_server.mjs '{"port":0,"pingInterval":1000,"pingTimeout":2000,
//   "path":"/socket.io","transports":["polling","websocket"],"cert":"...","key":"...",
//   "recovery":{"maxDisconnectionDuration":60000,"skipMiddlewares":true}}'
// Prints "listening PORT" once ready.
import { readFileSync } from "node:fs";
import { createServer as createHttp } from "node:http";
import { createServer as createHttps } from "node:https";
import { Server } from "socket.io";

const config = JSON.parse(process.argv[2] || "{}");
const httpServer = config.cert
  ? createHttps({ cert: readFileSync(config.cert), key: readFileSync(config.key) })
  : createHttp();
const io = new Server(httpServer, {
  pingInterval: config.pingInterval ?? 1000,
  pingTimeout: config.pingTimeout ?? 2000,
  path: config.path ?? "/socket.io",
  transports: config.transports ?? ["polling", "websocket"],
  ...(config.recovery ? { connectionStateRecovery: config.recovery } : {}),
});
const records = new Map();
const attempts = new Map();

function ackOf(args) {
  return typeof args[args.length - 1] === "function" ? args.pop() : () => {};
}

function contract(socket) {
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  socket.on("whoami", (ack) => ack(socket.nsp.name));
  socket.on("auth?", (ack) => ack(socket.handshake.auth));
  socket.on("handshake?", (ack) =>
    ack({ query: socket.handshake.query.custom ?? null, header: socket.handshake.headers["x-custom"] ?? null }));
  socket.on("transport?", (ack) => ack(socket.conn.transport.name));
  socket.on("engine-id?", (ack) => ack(socket.conn.id));
  socket.on("please-ask", (...args) => {
    socket.emit("ask", ...args, (...answer) => socket.emit("answered", ...answer));
  });
  socket.on("send-binary", () => {
    socket.emit("binary-from-server", { x: Buffer.from([7, 8]), nested: [Buffer.from([0])] });
  });
  socket.on("never-ack", () => {});
  socket.on("disconnect-me", () => socket.disconnect());
  socket.on("drop-transport", () => socket.conn.close());
  socket.on("record", (...args) => {
    const ack = ackOf(args);
    const [key, value] = args;
    if (!records.has(key)) records.set(key, []);
    records.get(key).push(value);
    ack(true);
  });
  socket.on("records?", (key, ack) => ack(records.get(key) ?? []));
  // Acknowledges only from the second delivery of a given key on: the client's retries resend.
  socket.on("flaky", (...args) => {
    const ack = ackOf(args);
    const [key] = args;
    const count = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, count);
    if (count >= 2) ack(count);
  });
  socket.on("attempts?", (key, ack) => ack(attempts.get(key) ?? 0));
  // Connection state recovery.
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack(true);
  });
  socket.on("rooms?", (ack) => ack([...socket.rooms].sort()));
  socket.on("set-data", (data, ack) => {
    socket.data = data;
    ack(true);
  });
  socket.on("data?", (ack) => ack(socket.data));
  socket.on("recovered?", (ack) => ack(socket.recovered));
  socket.on("send-me", (...args) => {
    const ack = ackOf(args);
    socket.emit("sent", ...args);
    ack(true);
  });
  // On its next disconnect, the server sends the socket events it can only get by recovering.
  socket.on("arm-missed", (room, ack) => {
    socket.once("disconnect", (reason) => {
      socket.emit("missed", "direct", reason);
      socket.nsp.to(room).emit("missed", "room");
      socket.nsp.to("elsewhere").emit("missed", "not for it");
      socket.nsp.emit("missed", "all");
      socket.nsp.except(room).emit("missed", "not for it either");
    });
    ack(true);
  });
}

io.on("connection", contract);
io.of("/other").on("connection", contract);
const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") return next();
  const err = new Error("not authorized");
  err.data = { code: 42 };
  next(err);
});
admin.on("connection", contract);

httpServer.listen(config.port ?? 0, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
