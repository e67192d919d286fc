// The official socket.io 4.8 server under soak, with the options and the soak contract
// of benchmarks/soak/server.py (echo, join, burst, seq, seq-end; GET /soak/stats).
// Usage: node benchmarks/soak/node_server.mjs PORT  -- prints "listening PORT" once ready.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] || 0);
let io;
const httpServer = createServer((req, res) => {
  if (req.url === "/soak/stats") {
    const body = JSON.stringify({
      sessions: io.engine.clientsCount,
      sockets: io.of("/").sockets.size,
      tasks: null,
    });
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(body);
    return;
  }
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("Not Found");
});
io = new Server(httpServer, { maxHttpBufferSize: 1e6, pingInterval: 25000, pingTimeout: 20000 });

io.on("connection", (socket) => {
  let expected = 0;
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(true);
  });
  socket.on("burst", (room, count, size, ack) => {
    const blob = "x".repeat(size);
    for (let i = 0; i < count; i++) io.to(room).emit("blob", blob);
    if (typeof ack === "function") ack(true);
  });
  socket.on("seq", (n) => {
    if (n === expected) expected++;
    socket.emit("seq", n);
  });
  socket.on("seq-end", () => socket.emit("seq-done", expected));
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
