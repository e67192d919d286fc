// The Node reference cluster node: official socket.io 4.8 on one of the official Redis adapters,
// serving the contract of shared/cluster-node.md (the same contract as conformance/cluster_node.py).
// Usage: node cluster_node.mjs --port P --redis URL --adapter pubsub|sharded|streams --key K --name N
// (or the CLUSTER_* environment variables); prints "listening P" once both namespaces are subscribed.
import { Server } from "socket.io";
import { createClient } from "redis";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";

function option(name, env, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  if (index !== -1) return process.argv[index + 1];
  return process.env[env] ?? fallback;
}

const port = Number(option("port", "CLUSTER_PORT", "0"));
const redisUrl = option("redis", "CLUSTER_REDIS_URL", "redis://127.0.0.1:6379");
const kind = option("adapter", "CLUSTER_ADAPTER", "pubsub");
const key = option("key", "CLUSTER_KEY", "socket.io");
const name = option("name", "CLUSTER_NODE_NAME", "node-0");

const pubClient = createClient({ url: redisUrl });
pubClient.on("error", (error) => console.error("redis:", error.message));
await pubClient.connect();
const options = { pingInterval: 2000, pingTimeout: 2000 };
if (kind === "pubsub") {
  const subClient = pubClient.duplicate();
  subClient.on("error", (error) => console.error("redis:", error.message));
  await subClient.connect();
  options.adapter = createAdapter(pubClient, subClient, { key });
} else if (kind === "sharded") {
  const subClient = pubClient.duplicate();
  subClient.on("error", (error) => console.error("redis:", error.message));
  await subClient.connect();
  options.adapter = createShardedAdapter(pubClient, subClient, {
    channelPrefix: key,
    subscriptionMode: "dynamic",
  });
} else if (kind === "streams") {
  options.adapter = createStreamsAdapter(pubClient, { streamName: key, channelPrefix: key });
  options.connectionStateRecovery = { maxDisconnectionDuration: 60000, skipMiddlewares: true };
} else {
  throw new Error(`unknown adapter ${kind}`);
}
const io = new Server(options);

function operator(nsp, req, base) {
  let op = base ?? nsp;
  if (req.rooms) op = op.to(req.rooms);
  if (req.except) op = op.except(req.except);
  if (req.volatile) op = op.volatile;
  if (req.compress !== undefined) op = op.compress(req.compress);
  if (req.local) op = op.local;
  if (req.timeout !== undefined) op = op.timeout(req.timeout);
  return op;
}

function details(socket) {
  const { auth, query, address } = socket.handshake;
  return { id: socket.id, rooms: [...socket.rooms], data: socket.data ?? null,
    handshake: { auth, query, address } };
}

function setUp(nsp) {
  const log = [];
  nsp.on("cluster-note", (...args) => log.push({ event: "cluster-note", args }));
  nsp.on("cluster-ask", (...args) => {
    const ack = args.pop();
    log.push({ event: "cluster-ask", args });
    ack({ name, args });
  });
  nsp.on("connection", (socket) => {
    const handle = (event, fn) => {
      socket.on(event, async (...args) => {
        const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
        let result;
        try {
          result = await fn(args[0] ?? {});
        } catch (error) {
          result = { error: String(error && error.message ? error.message : error) };
        }
        if (ack) ack(result);
      });
    };
    handle("whoami", () => ({ name, sid: socket.id, nsp: nsp.name, recovered: socket.recovered }));
    handle("join", (req) => { socket.join(req.rooms); return [...socket.rooms]; });
    handle("leave", (req) => { socket.leave(req.room); return [...socket.rooms]; });
    handle("my-rooms", () => [...socket.rooms]);
    handle("set-data", (req) => { socket.data = req.data; return true; });
    handle("get-data", () => socket.data ?? null);
    handle("broadcast", (req) => {
      operator(nsp, req, req.fromSocket ? socket.broadcast : undefined).emit(req.event, ...(req.args ?? []));
      return true;
    });
    handle("emit-with-ack", (req) => new Promise((resolve) => {
      operator(nsp, req).emit(req.event, ...(req.args ?? []), (err, responses) => {
        resolve({ err: err ? err.message : null, responses });
      });
    }));
    handle("server-side-emit", (req) => { nsp.serverSideEmit(req.event, ...(req.args ?? [])); return true; });
    handle("server-side-emit-with-ack", (req) => new Promise((resolve) => {
      nsp.serverSideEmit(req.event, ...(req.args ?? []), (err, responses) => {
        resolve({ err: err ? err.message : null, responses });
      });
    }));
    handle("server-events", () => log);
    handle("fetch-sockets", async (req) => (await operator(nsp, req).fetchSockets()).map(details));
    handle("remote-emit", async (req) => {
      const sockets = await operator(nsp, req).fetchSockets();
      for (const s of sockets) s.emit(req.event, ...(req.args ?? []));
      return sockets.map((s) => s.id);
    });
    handle("remote-emit-with-ack", async (req) => {
      const [s] = await nsp.in(req.sid).fetchSockets();
      if (!s) return { err: "socket not found" };
      return new Promise((resolve) => {
        s.timeout(req.timeout).emit(req.event, ...(req.args ?? []), (err, response) => {
          resolve({ err: err ? err.message : null, response: response ?? null });
        });
      });
    });
    handle("sockets-join", (req) => { operator(nsp, req).socketsJoin(req.join); return true; });
    handle("sockets-leave", (req) => { operator(nsp, req).socketsLeave(req.leave); return true; });
    handle("disconnect-sockets", (req) => { operator(nsp, req).disconnectSockets(!!req.close); return true; });
    handle("server-count", () => nsp.adapter.serverCount());
    handle("all-rooms", async () => (typeof nsp.adapter.allRooms === "function"
      ? [...(await nsp.adapter.allRooms())] : null));
  });
}

setUp(io.of("/"));
setUp(io.of("/chat"));
io.listen(port);
// Give the adapters' SUBSCRIBE commands a moment to reach Redis before announcing readiness.
await new Promise((resolve) => setTimeout(resolve, 200));
console.log(`listening ${io.httpServer.address().port}`);
const stop = async () => { io.close(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
