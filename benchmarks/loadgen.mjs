// The load generator: speaks Engine.IO v4 / Socket.IO v5 frames directly over `ws` and raw
// HTTP/1.1 sockets, so that it costs far less per message than any server it drives.
//
// Usage: node benchmarks/loadgen.mjs '<json options>'; prints one JSON result line.
// Options: scenario (echo | fanout | fanout_acked | rooms | polling | idle | binary), port, pid
// (the server's, for its CPU time and RSS), clients, duration and warmup (seconds), broadcasts,
// rooms, connections, concurrency, size (bytes), seed, timeout (seconds: the whole run's hard
// bound).
import fs from "node:fs";
import net from "node:net";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

const opts = JSON.parse(process.argv[2] || "{}");
const PORT = opts.port;
const WS_URL = `ws://127.0.0.1:${PORT}/socket.io/?EIO=4&transport=websocket`;
const POLL_PATH = "/socket.io/?EIO=4&transport=polling";
const CLK_TCK = 100;

setTimeout(() => {
  console.error(`loadgen: ${opts.scenario} did not finish within ${opts.timeout}s`);
  process.exit(3);
}, (opts.timeout ?? 60) * 1000).unref();

// ------------------------------------------------------------------ measuring

function serverCpuSeconds() {
  if (!opts.pid) return 0;
  const stat = fs.readFileSync(`/proc/${opts.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
}

function serverRssKiB() {
  if (!opts.pid) return 0;
  const status = fs.readFileSync(`/proc/${opts.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

// CPU of the generator and of the server over one measured window, in cores.
function cpuWindow() {
  const t0 = performance.now();
  const own0 = process.cpuUsage();
  const srv0 = serverCpuSeconds();
  return () => {
    const wall = (performance.now() - t0) / 1000;
    const own = process.cpuUsage(own0);
    return {
      wall,
      gen_cpu: (own.user + own.system) / 1e6 / wall,
      server_cpu: (serverCpuSeconds() - srv0) / wall,
    };
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ WebSocket clients

// Opens a WebSocket, joins the main namespace; resolves with the socket once `40{...}` came.
// `onPacket(data, isBinary)` then gets every later frame but pings, which are answered here.
function openSocket(onPacket) {
  return new Promise((resolve, reject) => {
    // A zero masking key is valid (RFC 6455 §5.3) and lets `ws` skip masking: the generator
    // then does not pay for it on 64 KiB frames.
    const ws = new WebSocket(WS_URL, { perMessageDeflate: false, generateMask: (m) => m.fill(0) });
    let connected = false;
    ws.on("message", (data, isBinary) => {
      if (!isBinary && data.length === 1 && data[0] === 0x32) {
        ws.send("3");
        return;
      }
      if (connected) {
        onPacket(data, isBinary);
        return;
      }
      const text = data.toString();
      if (text[0] === "0") ws.send("40");
      else if (text.startsWith("40")) {
        connected = true;
        resolve(ws);
      } else reject(new Error(`unexpected ${text.slice(0, 80)}`));
    });
    ws.on("error", reject);
    ws.on("close", () => {
      if (!connected) reject(new Error("closed before connecting"));
    });
  });
}

// Runs `make(i)` for i in [0, n) with at most `limit` in flight; resolves with the results.
async function bounded(n, limit, make) {
  const out = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      out[i] = await make(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return out;
}

// The id of an ack frame `43<id>[...]` (or binary `46<n>-<id>[...]`).
function ackId(text) {
  let i = text[1] === "6" ? text.indexOf("-") + 1 : 2;
  let id = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    id = id * 10 + (c - 48);
  }
  return id;
}

// Closed-loop echo with ack over WebSocket: each client sends the next `echo` when the last
// ack came. `binary` sends one attachment of `size` bytes instead of a short string.
async function echoLoop({ binary }) {
  const clients = opts.clients;
  const blob = Buffer.alloc(opts.size || 65536, 7);
  const small = JSON.stringify("hello from the load generator");
  let measuring = false;
  let stopping = false;
  let acks = 0;
  const latencies = [];
  const states = [];

  function send(state) {
    state.id += 1;
    state.sent = performance.now();
    state.measured = measuring;
    if (binary) {
      state.ws.send(`451-${state.id}["echo",{"_placeholder":true,"num":0}]`);
      state.ws.send(blob, { binary: true });
    } else {
      state.ws.send(`42${state.id}["echo",${small}]`);
    }
  }

  function done(state) {
    if (measuring && state.measured) {
      acks += 1;
      latencies.push(performance.now() - state.sent);
    }
    if (!stopping) send(state);
  }

  const sockets = await bounded(clients, 50, async (i) => {
    const state = { id: 0, sent: 0, measured: false, ws: null, header: false };
    states[i] = state;
    state.ws = await openSocket((data, isBinary) => {
      if (isBinary) {
        if (state.header) {
          state.header = false;
          if (data.length !== blob.length) throw new Error(`attachment of ${data.length} bytes`);
          done(state);
        }
        return;
      }
      const text = data.toString();
      if (text.startsWith("46")) {
        if (ackId(text) !== state.id) throw new Error(`ack ${text} for ${state.id}`);
        state.header = true;
      } else if (text.startsWith("43")) {
        if (ackId(text) !== state.id) throw new Error(`ack ${text} for ${state.id}`);
        done(state);
      }
    });
    return state.ws;
  });
  for (const state of states) send(state);
  await sleep(opts.warmup * 1000);
  measuring = true;
  const window = cpuWindow();
  await sleep(opts.duration * 1000);
  measuring = false;
  const cpu = window();
  stopping = true;
  for (const ws of sockets) ws.terminate();
  latencies.sort((a, b) => a - b);
  const rate = acks / cpu.wall;
  const result = { ...cpu, acks, acks_per_s: rate, p50_ms: percentile(latencies, 50),
                   p99_ms: percentile(latencies, 99) };
  if (binary) result.mb_per_s = (rate * blob.length) / 1e6;
  return result;
}

// Fan-out: `clients` sockets join one room; the first then sends `broadcasts` broadcasts back to
// back, without waiting for their acks. Every socket (the sender too) gets every `bcast`.
async function fanout() {
  const clients = opts.clients;
  const total = clients * opts.broadcasts;
  let deliveries = 0;
  let lastDelivery = 0;
  let acked = 0;
  const latencies = [];
  let allDelivered;
  const finished = new Promise((resolve) => { allDelivered = resolve; });

  function onBcast(data) {
    const text = data.toString();
    if (!text.startsWith('42["bcast"')) return;
    const now = performance.now();
    latencies.push(now - JSON.parse(text.slice(2))[1]);
    deliveries += 1;
    lastDelivery = now;
    if (deliveries === total && acked === opts.broadcasts) allDelivered();
  }

  const sockets = await bounded(clients, 100, async () => {
    let joined = null;
    const join = new Promise((resolve) => { joined = resolve; });
    const ws = await openSocket((data, isBinary) => {
      if (isBinary) return;
      if (data[0] === 0x34 && data[1] === 0x33) {
        if (joined !== null) {
          joined();
          joined = null;
        } else if (++acked === opts.broadcasts && deliveries === total) allDelivered();
        return;
      }
      onBcast(data);
    });
    ws.send(`420["join","room"]`);
    await join;
    return ws;
  });
  const sender = sockets[0];
  const window = cpuWindow();
  const start = performance.now();
  for (let i = 1; i <= opts.broadcasts; i++) {
    sender.send(`42${i}["broadcast","room",${performance.now()}]`);
  }
  // A server that drops clients never delivers everything: stop once nothing came for a while.
  const stall = (opts.stall ?? 10) * 1000;
  const watch = setInterval(() => {
    if (performance.now() - Math.max(lastDelivery, start) > stall) allDelivered();
  }, 250);
  await finished;
  clearInterval(watch);
  const cpu = window();
  for (const ws of sockets) ws.terminate();
  latencies.sort((a, b) => a - b);
  const elapsed = (lastDelivery - start) / 1000;
  return { ...cpu, deliveries, lost: total - deliveries, acked,
           deliveries_per_s: deliveries / elapsed,
           p50_ms: percentile(latencies, 50), p99_ms: percentile(latencies, 99) };
}

// Opens `clients` sockets, each joined to the room `roomOf(i)` (acked); `onBcast(i, data)` gets
// every later text frame of socket i but acks, `onAck(i, data)` every later ack.
async function joinedSockets(roomOf, onBcast, onAck) {
  return bounded(opts.clients, 100, async (i) => {
    let joined = null;
    const join = new Promise((resolve) => { joined = resolve; });
    const ws = await openSocket((data, isBinary) => {
      if (isBinary) return;
      if (data[0] === 0x34 && data[1] === 0x33) {
        if (joined !== null) {
          joined();
          joined = null;
        } else onAck(i, data);
        return;
      }
      onBcast(i, data);
    });
    ws.send(`420["join",${JSON.stringify(roomOf(i))}]`);
    await join;
    return ws;
  });
}

// A small seeded generator (mulberry32), so that every server gets the same rooms in turn.
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Broadcasts one at a time, as chat messages arrive: the sender (socket 0) sends the next
// `broadcast` only once the last one was acked. `roomOf(i)` places socket i; `target()` picks
// each broadcast's room. Counted over the measured window (after the warm-up): every `bcast`
// delivered, and its latency from the send.
async function oneAtATime(roomOf, target, { count }) {
  let measuring = false;
  let stopping = false;
  let deliveries = 0;
  let sent = 0;
  const latencies = [];
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  let sender = null;
  let lastDelivery = 0;

  function next() {
    if (stopping) return;
    if (count !== undefined && sent === count) {
      finish();
      return;
    }
    sent += 1;
    sender.send(`42${sent}["broadcast",${JSON.stringify(target())},${performance.now()}]`);
  }

  const sockets = await joinedSockets(roomOf, (i, data) => {
    const text = data.toString();
    if (!text.startsWith('42["bcast"')) return;
    const now = performance.now();
    lastDelivery = now;
    if (measuring) {
      deliveries += 1;
      latencies.push(now - JSON.parse(text.slice(2))[1]);
    }
  }, (i, data) => {
    if (i === 0) next();
  });
  sender = sockets[0];
  let window;
  let start;
  if (count === undefined) {
    next();
    await sleep(opts.warmup * 1000);
    measuring = true;
    window = cpuWindow();
    start = performance.now();
    await sleep(opts.duration * 1000);
    stopping = true;
  } else {
    measuring = true;
    window = cpuWindow();
    start = performance.now();
    next();
    const stall = (opts.stall ?? 10) * 1000;
    const watch = setInterval(() => {
      if (performance.now() - Math.max(lastDelivery, start) > stall) finish();
    }, 250);
    await finished;
    clearInterval(watch);
    // The last broadcast's deliveries may still be on their way when its ack came.
    const expected = count * opts.clients;
    for (let i = 0; i < 200 && deliveries < expected; i++) await sleep(10);
  }
  const elapsed = ((count === undefined ? performance.now() : lastDelivery) - start) / 1000;
  const cpu = window();
  stopping = true;
  for (const ws of sockets) ws.terminate();
  latencies.sort((a, b) => a - b);
  const result = { ...cpu, deliveries, broadcasts: sent, deliveries_per_s: deliveries / elapsed,
                   p50_ms: percentile(latencies, 50), p99_ms: percentile(latencies, 99) };
  if (count !== undefined) result.lost = count * opts.clients - deliveries;
  return result;
}

// Fan-out one at a time: `clients` sockets in one room, `broadcasts` broadcasts, each acked
// before the next is sent.
function fanoutAcked() {
  return oneAtATime(() => "room", () => "room", { count: opts.broadcasts });
}

// Many small rooms: `clients` sockets in `rooms` rooms (socket i in room i mod rooms); for the
// measured duration, broadcasts to rooms drawn at random (seeded), one at a time.
function rooms() {
  const random = seeded(opts.seed ?? 1);
  const n = opts.rooms;
  return oneAtATime((i) => `room${i % n}`, () => `room${Math.floor(random() * n)}`, {});
}

// Idle: open `connections` sockets (at most `concurrency` handshakes in flight), then hold them.
async function idle() {
  const n = opts.connections;
  await sleep(300);
  const before = serverRssKiB();
  const window = cpuWindow();
  const start = performance.now();
  const sockets = await bounded(n, opts.concurrency, () => openSocket(() => {}));
  const opening = (performance.now() - start) / 1000;
  const cpu = window();
  await sleep((opts.settle ?? 2) * 1000);
  const after = serverRssKiB();
  for (const ws of sockets) ws.terminate();
  return { ...cpu, connections: sockets.length, connections_per_s: n / opening,
           rss_before_kib: before, rss_after_kib: after, kib_per_connection: (after - before) / n };
}

// ------------------------------------------------------------------ long-polling clients

// One keep-alive HTTP/1.1 connection; requests on it run one at a time, in order.
class HttpConnection {
  constructor() {
    this.socket = net.connect(PORT, "127.0.0.1");
    this.socket.setNoDelay(true);
    this.buffer = Buffer.alloc(0);
    this.waiting = [];
    this.queue = [];
    this.busy = false;
    this.socket.on("data", (chunk) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.parse();
    });
    this.socket.on("error", (error) => this.fail(error));
    this.socket.on("close", () => this.fail(new Error("connection closed")));
  }

  fail(error) {
    for (const { reject } of this.waiting) reject(error);
    this.waiting = [];
  }

  request(method, path, body = "") {
    return new Promise((resolve, reject) => {
      this.queue.push({ method, path, body, resolve, reject });
      this.pump();
    });
  }

  pump() {
    if (this.busy || this.queue.length === 0) return;
    const r = this.queue.shift();
    this.busy = true;
    this.waiting.push(r);
    const body = Buffer.from(r.body);
    const head = `${r.method} ${r.path} HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\n` +
      (r.method === "POST" ? `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${body.length}\r\n` : "") +
      "\r\n";
    this.socket.write(r.method === "POST" ? Buffer.concat([Buffer.from(head), body]) : head);
  }

  parse() {
    const end = this.buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = this.buffer.subarray(0, end).toString("latin1");
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let body;
    let rest;
    if (length) {
      const total = end + 4 + Number(length[1]);
      if (this.buffer.length < total) return;
      body = this.buffer.subarray(end + 4, total);
      rest = this.buffer.subarray(total);
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const chunks = [];
      let at = end + 4;
      for (;;) {
        const line = this.buffer.indexOf("\r\n", at);
        if (line < 0) return;
        const size = parseInt(this.buffer.subarray(at, line).toString("latin1"), 16);
        if (this.buffer.length < line + 2 + size + 2) return;
        if (size === 0) {
          at = line + 4;
          break;
        }
        chunks.push(this.buffer.subarray(line + 2, line + 2 + size));
        at = line + 2 + size + 2;
      }
      body = Buffer.concat(chunks);
      rest = this.buffer.subarray(at);
    } else throw new Error(`response without a length: ${head}`);
    this.buffer = rest;
    const r = this.waiting.shift();
    this.busy = false;
    r.resolve({ status, body: body.toString() });
    this.pump();
    if (this.buffer.length) this.parse();
  }

  close() {
    this.socket.destroy();
  }
}

// Closed-loop echo with ack over long-polling: per client, one connection keeps a GET parked,
// another carries POSTs; the next echo is POSTed when the last ack came back in a GET.
async function polling() {
  let measuring = false;
  let stopping = false;
  let acks = 0;
  const latencies = [];
  const small = JSON.stringify("hello from the load generator");
  const connections = [];

  async function client() {
    const get = new HttpConnection();
    const post = new HttpConnection();
    connections.push(get, post);
    const open = await get.request("GET", `${POLL_PATH}&t=0`);
    const sid = JSON.parse(open.body.slice(1)).sid;
    const path = `${POLL_PATH}&sid=${sid}`;
    const state = { id: 0, sent: 0, measured: false };
    const send = () => {
      state.id += 1;
      state.sent = performance.now();
      state.measured = measuring;
      post.request("POST", path, `42${state.id}["echo",${small}]`).catch(() => {});
    };
    await post.request("POST", path, "40");
    (async () => {
      while (!stopping) {
        let response;
        try {
          response = await get.request("GET", path);
        } catch {
          return;
        }
        if (response.status !== 200) throw new Error(`GET ${response.status}: ${response.body}`);
        for (const packet of response.body.split("\x1e")) {
          if (packet === "2") post.request("POST", path, "3").catch(() => {});
          else if (packet.startsWith("40")) send();
          else if (packet.startsWith("43")) {
            if (ackId(packet) !== state.id) throw new Error(`ack ${packet} for ${state.id}`);
            if (measuring && state.measured) {
              acks += 1;
              latencies.push(performance.now() - state.sent);
            }
            if (!stopping) send();
          }
        }
      }
    })();
  }

  await bounded(opts.clients, 50, client);
  await sleep(opts.warmup * 1000);
  measuring = true;
  const window = cpuWindow();
  await sleep(opts.duration * 1000);
  measuring = false;
  const cpu = window();
  stopping = true;
  for (const c of connections) c.close();
  latencies.sort((a, b) => a - b);
  return { ...cpu, acks, acks_per_s: acks / cpu.wall, p50_ms: percentile(latencies, 50),
           p99_ms: percentile(latencies, 99) };
}

// ------------------------------------------------------------------ main

const scenarios = {
  echo: () => echoLoop({ binary: false }),
  binary: () => echoLoop({ binary: true }),
  fanout,
  fanout_acked: fanoutAcked,
  rooms,
  polling,
  idle,
};

const result = await scenarios[opts.scenario]();
console.log(JSON.stringify({ scenario: opts.scenario, ...result }));
process.exit(0);
