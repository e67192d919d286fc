// Interop scenarios run by the official socket.io-client against a server under test.
// Usage: node client_scenarios.mjs SCENARIO URL
// Prints one JSON line with what the client observed; exits 1 with {"error": ...} on failure.
// The server under test implements the contract in tests/interop/app.py.
import { io, Manager } from "socket.io-client";

const [scenario, url] = process.argv.slice(2);
const TIMEOUT_MS = 15000;

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

function connect(opts = {}, nsp = "/") {
  return io(url + (nsp === "/" ? "" : nsp), { forceNew: true, reconnection: false, ...opts });
}

// Resolves on "connect"; a client that will not retry rejects on its "connect_error" at once
// instead of waiting for the scenario's timeout.
async function connected(socket) {
  if (socket.connected) return socket;
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    if (!socket.io.reconnection()) socket.once("connect_error", reject);
  });
  return socket;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Connection state recovery: a client that reconnects by itself, quickly.
function recovering(opts = {}) {
  return io(url, {
    forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100, transports: ["websocket"],
    ...opts,
  });
}

// Every event and connect, in order, as [name, ...args].
function eventLog(socket) {
  const log = [];
  socket.onAny((event, ...args) => log.push([event, ...args]));
  socket.on("connect", () => log.push(["<connect>"]));
  return log;
}

// The log with each event's offset (its last argument, a string) taken off, and whether every
// event had one, each different.
function withoutOffsets(log) {
  const offsets = [];
  const events = log.map(([name, ...args]) => {
    if (name === "<connect>") return [name];
    const offset = args.pop();
    offsets.push(offset);
    return [name, ...args];
  });
  const offsetsOk = offsets.every((o) => typeof o === "string") && new Set(offsets).size === offsets.length;
  return { events, offsetsOk };
}

async function initOffset(socket) {
  await Promise.all([once(socket, "sent"), socket.emit("send-me", "x")]);
}

// Drop the transport without a DISCONNECT; the server sees it close ("transport close").
function drop(socket) {
  socket.io.engine.close();
}

async function recoveryRound(socket, how) {
  await socket.timeout(5000).emitWithAck("arm-missed", "r");
  const log = eventLog(socket);
  const id = socket.id;
  if (how === "server") socket.emit("drop-transport");
  else drop(socket);
  await once(socket, "connect");
  socket.offAny();
  const rooms = await socket.timeout(5000).emitWithAck("rooms?");
  const onServer = await socket.timeout(5000).emitWithAck("recovered?");
  return { recovered: socket.recovered, onServer, sameId: socket.id === id, rooms,
           ...withoutOffsets(log) };
}

function bin(...bytes) {
  return Buffer.from(bytes);
}

function plain(value) {
  // Buffers and ArrayBuffers become {"$bin": [...]} so the result prints as JSON.
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { $bin: Array.from(Buffer.from(value)) };
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

const scenarios = {
  // One round trip on a given transport set; reports the transport in use at the end.
  async transport(opts) {
    const socket = await connected(connect(opts));
    const acked = await socket.timeout(5000).emitWithAck("echo", "hi", 1);
    if (opts.upgrade !== false && opts.transports === undefined) {
      if (socket.io.engine.transport.name !== "websocket") await once(socket.io.engine, "upgrade");
    }
    const transport = socket.io.engine.transport.name;
    const id = typeof socket.id;
    socket.disconnect();
    return { acked, transport, id };
  },
  polling: () => scenarios.transport({ transports: ["polling"] }),
  websocket: () => scenarios.transport({ transports: ["websocket"] }),
  upgrade: () => scenarios.transport({}),

  async namespaces() {
    const manager = new Manager(url, { reconnection: false, autoConnect: true });
    const main = manager.socket("/");
    const admin = manager.socket("/admin", { auth: { token: "secret" } });
    main.connect();
    admin.connect();
    await Promise.all([connected(main), connected(admin)]);
    const [a, b] = await Promise.all([
      main.timeout(5000).emitWithAck("whoami"),
      admin.timeout(5000).emitWithAck("whoami"),
    ]);
    const sameEngine = main.io.engine === admin.io.engine;
    main.disconnect();
    admin.disconnect();
    return { main: a, admin: b, sameEngine };
  },

  async auth() {
    const socket = await connected(connect({ auth: { user: "ada", n: 3 } }));
    const seen = await socket.timeout(5000).emitWithAck("auth?");
    socket.disconnect();
    return { seen };
  },

  async middleware_error() {
    const socket = connect({ auth: { token: "wrong" } }, "/admin");
    const [err] = await once(socket, "connect_error");
    socket.disconnect();
    return { message: err.message, data: err.data ?? null, active: socket.active };
  },

  async acks() {
    const socket = await connected(connect());
    // server -> client ack: the server asks, we answer, the server reports the answer back.
    socket.on("ask", (question, ack) => ack({ answer: question * 2 }));
    const [reported] = await Promise.all([
      once(socket, "answered"),
      socket.emit("please-ask", 21),
    ]);
    // client -> server ack
    const echoed = await socket.timeout(5000).emitWithAck("echo", { deep: [1, "two"] });
    // ack timeout: the server never answers "never-ack"
    let timeoutError = null;
    try {
      await socket.timeout(200).emitWithAck("never-ack");
    } catch (e) {
      timeoutError = e.message;
    }
    socket.disconnect();
    return { reported: reported[0], echoed, timeoutError };
  },

  async binary() {
    const socket = await connected(connect());
    const payload = { a: bin(1, 2, 3), list: [bin(), { b: bin(255) }], text: "t" };
    const echoed = await socket.timeout(5000).emitWithAck("echo", payload, bin(9));
    const [fromServer] = await Promise.all([
      once(socket, "binary-from-server"),
      socket.emit("send-binary"),
    ]);
    socket.disconnect();
    return { echoed: plain(echoed), fromServer: plain(fromServer) };
  },

  async rooms() {
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => connected(connect())));
    await a.timeout(5000).emitWithAck("join", "r1");
    await b.timeout(5000).emitWithAck("join", "r1");
    const got = { a: [], b: [], c: [] };
    for (const [name, s] of Object.entries({ a, b, c })) s.on("room-message", (m) => got[name].push(m));
    await a.timeout(5000).emitWithAck("to-room", "r1", "from-a");   // excludes the sender
    await c.timeout(5000).emitWithAck("to-room", "r1", "from-c");   // c is not in the room
    await c.timeout(5000).emitWithAck("to-all", "everyone");
    await new Promise((r) => setTimeout(r, 300));
    for (const s of [a, b, c]) s.disconnect();
    return got;
  },

  async server_disconnect() {
    const socket = await connected(connect());
    const [[reason]] = await Promise.all([once(socket, "disconnect"), socket.emit("disconnect-me")]);
    return { reason, active: socket.active };
  },

  async client_disconnect() {
    const socket = await connected(connect());
    await socket.timeout(5000).emitWithAck("watch-my-disconnect");
    socket.disconnect();
    // a second connection asks the server what reason it saw for the first one
    const other = await connected(connect());
    await new Promise((r) => setTimeout(r, 200));
    const seen = await other.timeout(5000).emitWithAck("last-disconnect-reason");
    other.disconnect();
    return { seen };
  },

  async reconnect() {
    const socket = io(url, { forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200 });
    await connected(socket);
    const firstId = socket.id;
    const [[reason]] = await Promise.all([once(socket, "disconnect"), socket.emit("drop-transport")]);
    await once(socket, "connect");
    const echoed = await socket.timeout(5000).emitWithAck("echo", "after");
    const secondId = socket.id;
    socket.disconnect();
    return { reason, echoed, changedId: firstId !== secondId };
  },

  async recovery_drop(transports = ["websocket"]) {
    const socket = recovering({ transports });
    await connected(socket);
    const before = socket.recovered;
    await socket.timeout(5000).emitWithAck("join", "r");
    await socket.timeout(5000).emitWithAck("set-data", { k: [1, "two"] });
    await initOffset(socket);
    const round = await recoveryRound(socket, "client");
    const data = await socket.timeout(5000).emitWithAck("data?");
    socket.disconnect();
    return { before, ...round, data };
  },
  recovery_drop_polling: () => scenarios.recovery_drop(["polling"]),

  // Three in a row: the client drops the transport, then the server, then the client.
  async recovery_again() {
    const socket = recovering();
    await connected(socket);
    await socket.timeout(5000).emitWithAck("join", "r");
    await initOffset(socket);
    const rounds = [];
    for (const how of ["client", "server", "client"]) rounds.push(await recoveryRound(socket, how));
    socket.disconnect();
    return rounds;
  },

  async recovery_deliberate() {
    const socket = recovering();
    await connected(socket);
    await initOffset(socket);
    let id = socket.id;
    socket.disconnect();
    socket.connect();
    await once(socket, "connect");
    const clientSide = { recovered: socket.recovered, sameId: socket.id === id };
    await initOffset(socket);
    id = socket.id;
    const [[reason]] = await Promise.all([once(socket, "disconnect"), socket.emit("disconnect-me")]);
    socket.connect();
    await once(socket, "connect");
    const serverSide = { reason, recovered: socket.recovered, sameId: socket.id === id };
    socket.disconnect();
    return { clientSide, serverSide };
  },

  // No event received yet: no offset to recover from.
  async recovery_no_offset() {
    const socket = recovering();
    await connected(socket);
    const id = socket.id;
    drop(socket);
    await once(socket, "connect");
    const result = { recovered: socket.recovered, sameId: socket.id === id };
    socket.disconnect();
    return result;
  },

  // Back after the session expired (the servers keep it 3 s).
  async recovery_expired() {
    const socket = recovering({ reconnection: false });
    await connected(socket);
    await initOffset(socket);
    const id = socket.id;
    drop(socket);
    await sleep(3500);
    socket.connect();
    await once(socket, "connect");
    const result = { recovered: socket.recovered, sameId: socket.id === id };
    socket.disconnect();
    return result;
  },

  // A made-up pid, then the socket's public id as the pid: neither gives a session.
  async recovery_forged() {
    const results = [];
    for (const forge of [() => "AAAAAAAAAAAAAAAAAAAA", (socket) => socket.id]) {
      const socket = recovering();
      await connected(socket);
      await initOffset(socket);
      const id = socket.id;
      socket._pid = forge(socket); // the official client's private field
      drop(socket);
      await once(socket, "connect");
      results.push({ recovered: socket.recovered, sameId: socket.id === id });
      socket.disconnect();
    }
    return results;
  },

  // The client loses its connection without the server noticing (the old WebSocket stays open,
  // unanswered, as after a network switch), an event is broadcast to its room meanwhile, and it
  // comes back at once on a new connection.
  async recovery_half_open() {
    const socket = recovering({ reconnection: false });
    const helper = await connected(recovering());
    await connected(socket);
    await socket.timeout(5000).emitWithAck("join", "r");
    await initOffset(socket);
    const id = socket.id;
    socket.io.engine.transport.ws.close = () => {};
    drop(socket);
    await helper.timeout(5000).emitWithAck("to-room", "r", "while-away");
    const log = eventLog(socket);
    socket.connect();
    await once(socket, "connect");
    socket.offAny();
    const result = { recovered: socket.recovered, sameId: socket.id === id, ...withoutOffsets(log) };
    socket.disconnect();
    helper.disconnect();
    return result;
  },

  // Against a server whose initial_headers hook sets four cookies, as engine.io-client's own
  // cookie tests: the Cookie header of a request after the handshake (null when none).
  async cookies(withCredentials = true) {
    const socket = await connected(connect({ transports: ["polling"], withCredentials }));
    const cookie = await socket.timeout(5000).emitWithAck("cookie?");
    socket.disconnect();
    return { cookie: cookie ?? null };
  },
  cookies_without_credentials: () => scenarios.cookies(false),

  // Against a server whose json= codec reads and writes {"$date": iso} objects as dates.
  async json_dates() {
    const socket = await connected(connect());
    const sent = { when: { $date: "2024-05-06T07:08:09+00:00" }, file: bin(1, 2) };
    const answer = await socket.timeout(5000).emitWithAck("next-day", sent);
    const [[pushed]] = await Promise.all([once(socket, "now"), socket.emit("send-now")]);
    socket.disconnect();
    return { answer: plain(answer), pushed: plain(pushed) };
  },

  // Against a server whose /refusing connection handler sends "welcome", then raises
  // ConnectError("not allowed", {code: 7}): every packet the manager decoded is listed.
  async handler_refusal() {
    const socket = connect({}, "/refusing");
    const packets = [];
    socket.io.on("packet", ({ type, nsp, data }) => packets.push({ type, nsp, data }));
    let connects = 0;
    socket.on("connect", () => connects++);
    const [err] = await once(socket, "connect_error");
    socket.disconnect();
    return { message: err.message, data: err.data ?? null, active: socket.active, connects,
             packets };
  },

  async ordered() {
    // 1000 messages sent from the start of a polling session, across the upgrade to WebSocket.
    const socket = connect();
    const received = [];
    socket.on("seq", (n) => received.push(n));
    const done = once(socket, "seq-done");
    for (let i = 0; i < 1000; i++) socket.emit("seq", i);
    socket.emit("seq-end");
    await connected(socket);
    const [count] = await done;
    if (socket.io.engine.transport.name !== "websocket") await once(socket.io.engine, "upgrade");
    const inOrder = received.every((n, i) => n === i);
    socket.disconnect();
    return { serverCount: count, clientCount: received.length, inOrder };
  },
};

const run = scenarios[scenario];
if (!run) {
  console.log(JSON.stringify({ error: `unknown scenario ${scenario}` }));
  process.exit(1);
}
const timer = setTimeout(() => {
  console.log(JSON.stringify({ error: "timeout" }));
  process.exit(1);
}, TIMEOUT_MS);
try {
  const result = await run();
  clearTimeout(timer);
  console.log(JSON.stringify(result));
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ error: String(e && e.stack ? e.stack : e) }));
  process.exit(1);
}
