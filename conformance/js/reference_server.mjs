// The official socket.io server implementing the interop contract (same as tests/interop/app.py).
// Usage: node reference_server.mjs PORT   -- prints "listening PORT" once ready.
import { Server } from "socket.io";

const port = Number(process.argv[2] || 0);
const io = new Server({ pingInterval: 2000, pingTimeout: 2000, cors: { origin: "*" } });
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
