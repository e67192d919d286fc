// Official socket.io-client 4.8 clients over WebSocket that connect and stay idle, for a test
// counting what an idle connection costs the server. Usage: node idle_clients.mjs URL [upgrade]
// (with "upgrade": long-polling first, then the upgrade to WebSocket, as browsers connect).
// Each line "open N" on stdin opens N clients; each emits one "echo" with an ack (so the
// server's reader has handled a message), and once all have their answer "ready TOTAL" is
// printed. The process exits when stdin closes.
import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const url = process.argv[2];
const transports = process.argv[3] === "upgrade" ? ["polling", "websocket"] : ["websocket"];
const sockets = [];

function open() {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports, forceNew: true, reconnection: false });
    sockets.push(socket);
    socket.once("connect_error", reject);
    socket.once("connect", () => {
      const upgraded = () => socket.emit("echo", 1, () => resolve());
      if (socket.io.engine.transport.name === "websocket") upgraded();
      else socket.io.engine.once("upgrade", upgraded);
    });
  });
}

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const [command, count] = line.trim().split(" ");
  if (command !== "open") return;
  await Promise.all(Array.from({ length: Number(count) }, open));
  process.stdout.write(`ready ${sockets.length}\n`);
});
lines.on("close", () => {
  for (const socket of sockets) socket.close();
  process.exit(0);
});
