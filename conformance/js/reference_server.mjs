// The official socket.io server implementing the interop contract (same as tests/interop/app.py).
// Usage: node reference_server.mjs PORT [recovery]   -- prints "listening PORT" once ready.
// With "recovery": connection state recovery on, sessions kept for 3 s.
import { Server } from "socket.io";

const port = Number(process.argv[2] || 0);
const recovery = process.argv[3] === "recovery";
const io = new Server({
  pingInterval: 2000, pingTimeout: 2000, cors: { origin: "*" },
  ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 3000 } } : {}),
});
let lastDisconnectReason = null;
const watched = new Set();

function contract(socket) {
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  socket.on("whoami", (ack) => ack(socket.nsp.name));
  socket.on("auth?", (ack) => ack(socket.handshake.auth));
  socket.on("please-ask", (n) => {
    socket.emit("ask", n, (answer) => socket.emit("answered", answer));
  });
  socket.on("never-ack", () => {});
  socket.on("send-binary", () => {
    socket.emit("binary-from-server", { x: Buffer.from([7, 8]), nested: [Buffer.from([0])] });
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack(true);
  });
  socket.on("to-room", (room, msg, ack) => {
    socket.to(room).emit("room-message", msg);
    ack(true);
  });
  socket.on("to-all", (msg, ack) => {
    io.emit("room-message", msg);
    ack(true);
  });
  socket.on("disconnect-me", () => socket.disconnect());
  socket.on("drop-transport", () => socket.conn.close());
  socket.on("watch-my-disconnect", (ack) => {
    watched.add(socket.id);
    ack(true);
  });
  socket.on("last-disconnect-reason", (ack) => ack(lastDisconnectReason));
  let seq = 0;
  socket.on("seq", (n) => {
    if (n === seq) seq++;
    socket.emit("seq", n);
  });
  socket.on("seq-end", () => socket.emit("seq-done", seq));
  socket.on("disconnect", (reason) => {
    if (watched.delete(socket.id)) lastDisconnectReason = reason;
  });
  // Connection state recovery.
  socket.on("set-data", (data, ack) => {
    socket.data = data;
    ack(true);
  });
  socket.on("data?", (ack) => ack(socket.data));
  socket.on("rooms?", (ack) => ack([...socket.rooms].map((r) => (r === socket.id ? "<self>" : r)).sort()));
  socket.on("recovered?", (ack) => ack(socket.recovered));
  socket.on("send-me", (value, ack) => {
    socket.emit("sent", value);
    if (ack) ack(true);
  });
  // On its next disconnect, the server sends the socket events it can only get by recovering.
  socket.on("arm-missed", (room, ack) => {
    socket.once("disconnect", (reason) => {
      socket.emit("missed", "direct", reason);
      socket.nsp.to(room).emit("missed", "room");
      socket.nsp.to("elsewhere").emit("missed", "not for it");
      socket.nsp.emit("missed", "all");
      socket.nsp.except(room).emit("missed", "not for it either");
      socket.nsp.volatile.emit("missed", "volatile");
    });
    ack(true);
  });
}

io.on("connection", contract);
const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") return next();
  const err = new Error("not authorized");
  err.data = { code: 42 };
  next(err);
});
admin.on("connection", contract);

io.listen(port);
const addr = io.httpServer.address();
console.log(`listening ${addr.port}`);
