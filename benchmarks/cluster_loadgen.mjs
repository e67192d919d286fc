// The cluster benchmark's load generator: `clients` WebSocket clients on each of two nodes join
// one room; one client of node A sends `broadcasts` broadcasts one at a time (the next once every
// client of both nodes got the last), speaking Engine.IO/Socket.IO frames directly over `ws`, in
// the contract of the cluster test nodes (shared/cluster-node.md: `join`, `broadcast`).
//
// Usage: node benchmarks/cluster_loadgen.mjs '<json options>'; prints one JSON result line.
// Options: ports [A, B], pids [A, B, redis] (for CPU time), clients (per node), broadcasts,
// warmup (broadcasts not measured), timeout (seconds: the whole run's hard bound).
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

const opts = JSON.parse(process.argv[2] || "{}");
const CLK_TCK = 100;

setTimeout(() => {
  console.error(`cluster loadgen did not finish within ${opts.timeout}s`);
  process.exit(3);
}, (opts.timeout ?? 120) * 1000).unref();

function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function openSocket(port, onPacket) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
      { perMessageDeflate: false, generateMask: (m) => m.fill(0) });
    let connected = false;
    ws.on("message", (data, isBinary) => {
      if (!isBinary && data.length === 1 && data[0] === 0x32) {
        ws.send("3");
        return;
      }
      if (connected) {
        onPacket(data);
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
  });
}

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

const total = opts.clients * 2;
let current = -1;
let sentAt = 0;
let got = 0;
let roundDone = null;
const latencies = [[], []]; // per node
let measuring = false;

function onPacket(node, data) {
  const text = data.toString();
  if (!text.startsWith('42["bcast"')) return;
  const seq = JSON.parse(text.slice(2))[1];
  if (seq !== current) return;
  if (measuring) latencies[node].push(performance.now() - sentAt);
  if (++got === total) roundDone();
}

const sockets = [];
for (const [node, port] of opts.ports.entries()) {
  sockets.push(...await bounded(opts.clients, 100, async () => {
    let joined = null;
    const join = new Promise((resolve) => { joined = resolve; });
    const ws = await openSocket(port, (data) => {
      if (data[0] === 0x34 && data[1] === 0x33 && joined !== null) {
        joined();
        joined = null;
        return;
      }
      onPacket(node, data);
    });
    ws.send(`420["join",{"rooms":["room"]}]`);
    await join;
    return ws;
  }));
}
// Let both nodes' room subscriptions and joins settle.
await new Promise((resolve) => setTimeout(resolve, 500));
const sender = sockets[0];

async function one(seq) {
  current = seq;
  got = 0;
  const done = new Promise((resolve) => { roundDone = resolve; });
  sentAt = performance.now();
  sender.send(`42["broadcast",{"event":"bcast","args":[${seq}],"rooms":["room"]}]`);
  await done;
}

for (let i = 0; i < (opts.warmup ?? 20); i++) await one(-2 - i);
measuring = true;
const cpu0 = opts.pids.map(cpuSeconds);
const start = performance.now();
for (let i = 0; i < opts.broadcasts; i++) await one(i);
const wall = (performance.now() - start) / 1000;
const cpu = opts.pids.map((pid, i) => cpuSeconds(pid) - cpu0[i]);
for (const ws of sockets) ws.terminate();
const all = [...latencies[0], ...latencies[1]].sort((a, b) => a - b);
latencies[0].sort((a, b) => a - b);
latencies[1].sort((a, b) => a - b);
const n = opts.broadcasts;
console.log(JSON.stringify({
  deliveries: all.length,
  deliveries_per_s: all.length / wall,
  broadcasts_per_s: n / wall,
  p50_ms: percentile(all, 50),
  p99_ms: percentile(all, 99),
  p99_a_ms: percentile(latencies[0], 99),
  p99_b_ms: percentile(latencies[1], 99),
  cpu_a_us_per_broadcast: (cpu[0] / n) * 1e6,
  cpu_b_us_per_broadcast: (cpu[1] / n) * 1e6,
  cpu_redis_us_per_broadcast: (cpu[2] / n) * 1e6,
  wall,
}));
