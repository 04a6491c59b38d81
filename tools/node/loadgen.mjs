// WebSocket load generator for tests/benchmarks/bench_session.py (loopback only, bounded in time).
//
//   node loadgen.mjs CONFIG.json      (or "-" / no argument: the config on stdin)
//
// Config: {"kind": "ours" | "reference" | "colyseus", "url": "ws://127.0.0.1:PORT/...",
//          "clients": [{"room", "pid", "probe", "token" (ours), "stall"}, ...],
//          "presence_hz": 30, "move_interval": 1, "warmup": 2, "seconds": 6, "stall_seconds": 0,
//          "concurrency": 50, "connect_timeout": 20, "hold": false, "pose_encoding": "binary",
//          "frames": "binary", "processes": 1}
//
// Each client joins (ours: token join, waits for the welcome, places and locks its own object;
// reference: a hello naming room and id; colyseus: colyseus.js joinOrCreate("shop", {room}) against
// tools/node/colyseus_server.mjs), then sends presence at presence_hz (the send time as ms modulo 1e5
// in pose p[0]; ours: as a 29-byte binary pose message (PROTOCOL.md, "Binary pose"), or with
// "pose_encoding": "json" as JSON text; colyseus: room.send("pose", [x,y,z,qx,qy,qz,qw])) and one object move every
// move_interval. Ours: the clients join with binary_frames (PROTOCOL.md, "Binary tick frame": a tick's frame
// with presence arrives binary, decoded by the JS client's decodeTickFrame), or with "frames": "json" get
// JSON text only. Probe clients parse every frame (batch frames included; colyseus: decode every state
// patch with colyseus.js) and time the other clients' poses; the others only count frames and bytes.
// Stalled clients stop reading (socket paused, so TCP backpressure builds on the server) for the
// first stall_seconds of the measured window and are left out of the counts.
//
// With "processes": N > 1 the clients are dealt out to N child processes (client i to process i mod N), each
// with its own event loop, as independent devices have (one process that takes in a server's burst of frames
// holds back all its clients' sends until it is done). The processes share core 0 and queue for it, so this is
// a different harness, not plainly a fairer one (docs/benchmarks-session.md, *The interpreter, and 8 tick
// slots*). The parent runs the phases in step over IPC and reports the counts, latencies and CPU of them all.
//
// "MEASURE_START" and "MEASURE_END" lines on stderr bracket the measured window of
// stall_seconds + seconds after warmup; with "hold" (config from a file) the clients stay connected
// after MEASURE_END until a line arrives on stdin (at most 10 s), so that the caller can look at the
// server first. At the end one JSON object goes to stdout (counts over the measured window, latency
// p50/p99 in ms, own CPU seconds, event-loop lag). Exit 2 on a bad config, 3 when the hard deadline
// (warmup + seconds + stall_seconds + 30 s from the start) cut the run short.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import WebSocket from "ws";
import { TICK_TAG, decodeTickFrame } from "../../session_server/web/static/phygital-client.js";

let Colyseus = null; // colyseus.js, loaded only for kind "colyseus"

const MOD = 1e5; // timestamps travel as ms modulo 1e5 inside the pose (fits a binary pose's int32 in 0.1 mm)
const POSE_TAG = 0x01; // a binary pose message: this byte, then x, y, z (1e-4 m) and qx, qy, qz, qw (1e-5) as int32 LE
const SEND_BUFFER_LIMIT = 1 << 20; // a server that stops reading costs us at most this per client
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const LOOP_SAMPLE_MS = 10; // event-loop lag sampling interval

// Cheap clients, like the Python ones (which skip decoding): no UTF-8 check of what arrives, and a
// zero mask on what leaves (masking is still on the wire, so servers do their usual work).
const WS_OPTIONS = (cfg) => ({
  perMessageDeflate: false,
  handshakeTimeout: cfg.connect_timeout * 1000,
  skipUTF8Validation: true,
  generateMask: (mask) => mask.fill(0),
});

const nowMs = () => (performance.timeOrigin + performance.now()) % MOD;
const latMs = (sent) => {
  const d = nowMs() - sent;
  return d < -MOD / 2 ? d + MOD : d;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// a binary pose message at (x, y, 0) with no rotation
function binaryPose(x, y) {
  const buf = Buffer.allocUnsafe(29);
  buf.writeUInt8(POSE_TAG, 0);
  buf.writeInt32LE(Math.round(x * 1e4), 1);
  buf.writeInt32LE(Math.round(y * 1e4), 5);
  buf.writeInt32LE(0, 9);
  buf.writeInt32LE(0, 13);
  buf.writeInt32LE(0, 17);
  buf.writeInt32LE(0, 21);
  buf.writeInt32LE(1e5, 25);
  return buf;
}

// resolves on a line (or the end) on stdin, or after ms
function stdinLine(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      process.stdin.pause();
      resolve();
    };
    const timer = setTimeout(done, ms);
    process.stdin.once("data", done).once("end", done).resume();
  });
}

function fail(message) {
  process.stderr.write(`loadgen: ${message}\n`);
  process.exit(2);
}

function readConfig(arg) {
  const source = arg && arg !== "-" ? arg : "stdin";
  let cfg;
  try {
    cfg = JSON.parse(readFileSync(source === "stdin" ? 0 : source, "utf8"));
  } catch (err) {
    fail(`${source}: cannot read the config: ${err.message}`);
  }
  const defaults = {
    presence_hz: 30,
    move_interval: 1,
    warmup: 2,
    seconds: 6,
    stall_seconds: 0,
    concurrency: 50,
    connect_timeout: 20,
    processes: 1,
  };
  cfg = { pose_encoding: "binary", frames: "binary", ...defaults, ...cfg };
  if (!["binary", "json"].includes(cfg.pose_encoding)) fail(`${source}: field pose_encoding must be "binary" or "json"`);
  if (!["binary", "json"].includes(cfg.frames)) fail(`${source}: field frames must be "binary" or "json"`);
  if (!["ours", "reference", "colyseus"].includes(cfg.kind)) {
    fail(`${source}: field kind must be "ours", "reference" or "colyseus"`);
  }
  let url;
  try {
    url = new URL(cfg.url);
  } catch {
    fail(`${source}: field url is not a URL`);
  }
  if (url.protocol !== "ws:" || !LOOPBACK.has(url.hostname)) fail(`${source}: field url must be ws:// on loopback`);
  for (const key of Object.keys(defaults)) {
    if (typeof cfg[key] !== "number" || !(cfg[key] >= 0)) fail(`${source}: field ${key} must be a number >= 0`);
  }
  if (!(cfg.presence_hz > 0 && cfg.move_interval > 0 && cfg.concurrency >= 1)) {
    fail(`${source}: fields presence_hz, move_interval and concurrency must be positive`);
  }
  if (!Number.isInteger(cfg.processes) || cfg.processes < 1) fail(`${source}: field processes must be an integer >= 1`);
  if (!Array.isArray(cfg.clients) || cfg.clients.length === 0) {
    fail(`${source}: field clients must be a non-empty list`);
  }
  cfg.clients.forEach((c, i) => {
    if (typeof c?.room !== "string" || typeof c.pid !== "string") {
      fail(`${source}: clients[${i}] needs room and pid strings`);
    }
    if (cfg.kind === "ours" && typeof c.token !== "string") fail(`${source}: clients[${i}].token is required for ours`);
  });
  return cfg;
}

const stats = {
  frames: 0,
  bytes: 0,
  probe_frames: 0,
  probe_updates: 0,
  moves: 0,
  errors: 0, // error frames received by probes
  ws_errors: 0, // socket-level errors after the join
  closed: 0, // connections closed by the server during the run
  sent: 0, // presence messages sent during the measured window
  send_skipped: 0, // presence not sent: more than SEND_BUFFER_LIMIT waiting on the socket
  binary_frames: 0, // binary tick frames decoded by probes (ours, "frames": "binary")
};
const latencies = [];
let measuring = false;
let shuttingDown = false;
let stopAt = Infinity; // performance.now() when clients stop sending: the end of the measured window

class Client {
  constructor(spec, cfg) {
    this.cfg = cfg;
    this.room = spec.room;
    this.pid = spec.pid;
    this.token = spec.token;
    this.probe = Boolean(spec.probe);
    this.stall = Boolean(spec.stall);
    this.ours = cfg.kind === "ours";
    this.binary = this.ours && cfg.pose_encoding === "binary";
    this.colyseus = cfg.kind === "colyseus";
    this.room_ = null; // colyseus.js Room
    this.seq = 0;
    this.ws = null;
    this.timer = null;
    // the reference cannot tell who sent a batched message, so its clients name themselves
    this.tail = this.ours ? "}" : `,"from":"${spec.pid}"}`;
  }

  async openColyseus() {
    const client = new Colyseus.Client(this.cfg.url);
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.pid}: no join within ${this.cfg.connect_timeout} s`)),
        this.cfg.connect_timeout * 1000,
      );
    });
    let room;
    try {
      room = await Promise.race([client.joinOrCreate("shop", { room: this.room }), timeout]);
    } catch (err) {
      throw new Error(`${this.pid}: join refused: ${err.message ?? err}`);
    } finally {
      clearTimeout(timer);
    }
    this.room_ = room;
    this.ws = room.connection.transport.ws;
    const decode = this.ws.onmessage; // colyseus.js: decodes state and patches
    if (this.probe) {
      const seen = new Map();
      const moved = new Map();
      room.onStateChange((state) => {
        if (!measuring) return;
        stats.probe_frames += 1;
        state.players.forEach((pose, sid) => {
          if (sid === room.sessionId || seen.get(sid) === pose.x) return;
          seen.set(sid, pose.x);
          stats.probe_updates += 1;
          latencies.push(latMs(pose.x));
        });
        state.objects.forEach((thing, sid) => {
          if (moved.get(sid) === thing.x) return;
          moved.set(sid, thing.x);
          stats.moves += 1;
        });
      });
    }
    this.ws.onmessage = (ev) => {
      if (measuring && !this.stall) {
        stats.frames += 1;
        stats.bytes += ev.data.byteLength;
      }
      if (this.probe) decode(ev); // the others only count, as for the other servers
    };
    this.ws.on("error", () => {
      stats.ws_errors += 1;
    });
    this.ws.on("close", () => {
      if (!shuttingDown) stats.closed += 1;
    });
  }

  open() {
    if (this.colyseus) return this.openColyseus();
    return new Promise((resolve, reject) => {
      let ready = false;
      const ws = new WebSocket(this.cfg.url, WS_OPTIONS(this.cfg));
      this.ws = ws;
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`${this.pid}: no ${this.ours ? "welcome" : "answer"} within ${this.cfg.connect_timeout} s`));
      }, this.cfg.connect_timeout * 1000);
      const joined = () => {
        ready = true;
        clearTimeout(timer);
        resolve();
      };
      ws.on("open", () => {
        if (this.ours) {
          const join = { v: 1, type: "join", id: "j", room: this.room, token: this.token };
          if (this.cfg.frames === "binary") join.binary_frames = true;
          ws.send(JSON.stringify(join));
        } else {
          ws.send(JSON.stringify({ room: this.room, id: this.pid }));
        }
      });
      ws.on("message", (data, isBinary) => {
        if (ready) return this.receive(data, isBinary);
        if (!this.ours) return joined();
        const frame = JSON.parse(data.toString());
        if (frame.type === "error") {
          clearTimeout(timer);
          ws.terminate();
          reject(new Error(`${this.pid}: join refused: ${frame.code ?? ""} ${frame.message ?? ""}`.trim()));
        } else if (frame.type === "welcome") {
          const pose = { p: [0, 0, 0] };
          ws.send(JSON.stringify({ v: 1, type: "object.place", id: "p", object: this.pid, sku: "BENCH", pose }));
          ws.send(JSON.stringify({ v: 1, type: "object.lock", id: "l", object: this.pid }));
          joined();
        }
      });
      ws.on("error", (err) => {
        if (ready) stats.ws_errors += 1;
        else {
          clearTimeout(timer);
          reject(new Error(`${this.pid}: ${err.message}`));
        }
      });
      ws.on("close", (code) => {
        if (ready && !shuttingDown) stats.closed += 1;
        if (!ready) {
          clearTimeout(timer);
          reject(new Error(`${this.pid}: closed during the join (code ${code})`));
        }
      });
    });
  }

  receive(data, isBinary) {
    if (!measuring || this.stall) return;
    stats.frames += 1;
    stats.bytes += data.length;
    if (!this.probe) return;
    if (isBinary && data[0] === TICK_TAG) {
      stats.binary_frames += 1;
      const { json, presence } = decodeTickFrame(data);
      if (json !== null) this.countText(json);
      this.count(presence);
    } else {
      this.countText(data.toString());
    }
  }

  countText(text) {
    const frame = JSON.parse(text);
    if (frame.type === "batch") for (const f of frame.frames) this.count(f);
    else this.count(frame);
  }

  count(frame) {
    if (frame.type === "presence") {
      stats.probe_frames += 1;
      if (this.ours) {
        for (const [pid, pose] of Object.entries(frame.poses)) {
          if (pid === this.pid) continue;
          stats.probe_updates += 1;
          latencies.push(latMs(pose[0]));
        }
      } else {
        for (const msg of frame.msgs) {
          if (msg.from === this.pid) continue;
          stats.probe_updates += 1;
          latencies.push(latMs(msg.pose.p[0]));
        }
      }
    } else if (frame.type === "delta" || frame.type === "object.move") {
      stats.moves += 1;
    } else if (frame.type === "error") {
      stats.errors += 1;
    }
  }

  // presence at presence_hz from a random phase, a move every move_interval, until stopAt
  start() {
    const period = 1000 / this.cfg.presence_hz;
    const moveEvery = this.cfg.move_interval * 1000;
    let nextAt = performance.now() + Math.random() * period;
    let nextMove = performance.now() + Math.random() * moveEvery;
    const tick = () => {
      const ws = this.ws;
      if (performance.now() >= stopAt || ws.readyState !== WebSocket.OPEN) return;
      nextAt += period;
      this.seq += 1;
      if (ws.bufferedAmount < SEND_BUFFER_LIMIT) {
        if (measuring) stats.sent += 1;
        if (this.colyseus) {
          this.room_.send("pose", [Number(nowMs().toFixed(4)), this.seq % 100000, 0, 0, 0, 0, 1]);
        } else if (this.binary) {
          ws.send(binaryPose(nowMs(), this.seq % 100000));
        } else {
          const p = `[${nowMs().toFixed(4)},${this.seq % 100000},0]`;
          ws.send(`{"v":1,"type":"presence","pose":{"p":${p},"q":[0,0,0,1]}${this.tail}`);
        }
      } else {
        stats.send_skipped += 1;
      }
      if (performance.now() >= nextMove) {
        nextMove += moveEvery;
        if (this.colyseus) {
          this.room_.send("move", [nowMs(), 0, 0]);
          this.timer = setTimeout(tick, Math.max(0, nextAt - performance.now()));
          return;
        }
        const move = this.ours
          ? { v: 1, type: "object.move", id: `m${this.seq}`, object: this.pid, pose: { p: [nowMs(), 0, 0] } }
          : { v: 1, type: "object.move", object: this.pid, t: nowMs() };
        ws.send(JSON.stringify(move));
      }
      this.timer = setTimeout(tick, Math.max(0, nextAt - performance.now()));
    };
    this.timer = setTimeout(tick, Math.max(0, nextAt - performance.now()));
  }

  stop() {
    clearTimeout(this.timer);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close();
  }
}

async function connectAll(clients, limit) {
  const failures = [];
  const connected = [];
  let next = 0;
  const worker = async () => {
    while (next < clients.length) {
      const client = clients[next++];
      try {
        await client.open();
        connected.push(client);
      } catch (err) {
        failures.push(err.message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, clients.length) }, worker));
  return { connected, failures };
}

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] : null;
}

// counts of latencies in buckets of `width` ms (the last one holds everything from (n - 1) * width up)
function histogram(sorted, width, n) {
  const counts = new Array(n).fill(0);
  for (const v of sorted) counts[Math.min(n - 1, Math.max(0, Math.floor(v / width)))] += 1;
  return counts;
}

function report(extra) {
  const sorted = Float64Array.from(latencies).sort();
  const cpu = process.cpuUsage();
  const out = {
    ...stats,
    latency: {
      count: sorted.length,
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      p999: percentile(sorted, 0.999),
      histogram_5ms: histogram(sorted, 5, 20),
    },
    ...extra,
    cpu_total_s: (cpu.user + cpu.system) / 1e6 + (extra.children_cpu_s ?? 0),
  };
  return JSON.stringify(out) + "\n";
}

// ---- the phases, run in one process or in step in each child process -----------------------------

async function connectPhase(cfg) {
  if (cfg.kind === "colyseus" && Colyseus === null) Colyseus = await import("colyseus.js");
  const clients = cfg.clients.map((spec) => new Client(spec, cfg));
  const { connected, failures } = await connectAll(clients, cfg.concurrency);
  return { connected, failures };
}

// the measured window: stall_seconds + seconds from now; what it counted
async function measurePhase(cfg, connected) {
  const stalled = connected.filter((c) => c.stall);
  measuring = true;
  for (const c of stalled) c.ws.pause();
  const cpu0 = process.cpuUsage();
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  loopDelay.enable();
  const m0 = performance.now();
  stopAt = m0 + (cfg.stall_seconds + cfg.seconds) * 1000;
  await sleep(cfg.stall_seconds * 1000);
  for (const c of stalled) c.ws.resume();
  await sleep(Math.max(0, stopAt - performance.now()));
  measuring = false;
  const cpu = process.cpuUsage(cpu0);
  loopDelay.disable();
  const lag = (ns) => Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS); // the histogram holds interval + lag
  return {
    elapsed: (performance.now() - m0) / 1000,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    loop_lag_ms: { p50: lag(loopDelay.percentile(50)), p99: lag(loopDelay.percentile(99)) },
  };
}

async function closePhase(connected) {
  shuttingDown = true;
  for (const c of connected) c.stop();
  const closing = performance.now();
  const open = () => connected.some((c) => c.ws.readyState !== WebSocket.CLOSED);
  while (open() && performance.now() - closing < 2000) await sleep(50);
  for (const c of connected) c.ws.terminate();
}

// a child process: the phases on the parent's word (IPC messages), its counts back to the parent
function childMain() {
  let connected = [];
  process.on("message", async (msg) => {
    try {
      if (msg.type === "config") {
        const got = await connectPhase(msg.cfg);
        connected = got.connected;
        process.send({ type: "connected", connected: connected.length, failures: got.failures });
      } else if (msg.type === "start") {
        for (const c of connected) c.start();
      } else if (msg.type === "measure") {
        const window = await measurePhase(msg.cfg, connected);
        process.send({ type: "measured", window, stats, latencies });
      } else if (msg.type === "stop") {
        await closePhase(connected);
        const cpu = process.cpuUsage();
        process.send({ type: "closed", cpu_total_s: (cpu.user + cpu.system) / 1e6 }, () => process.exit(0));
      }
    } catch (err) {
      process.stderr.write(`loadgen child: ${err.stack ?? err}\n`);
      process.exit(1);
    }
  });
  process.on("disconnect", () => process.exit(0)); // the parent is gone
}

// the parent of cfg.processes children: deals out the clients, runs the phases in step, merges the counts
function spawnChildren(cfg) {
  const children = [];
  for (let k = 0; k < cfg.processes; k++) {
    const part = cfg.clients.filter((_, i) => i % cfg.processes === k);
    if (part.length === 0) continue;
    const child = fork(new URL(import.meta.url).pathname, ["--child"], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
    const inbox = [];
    const waiting = [];
    child.on("message", (msg) => (waiting.length ? waiting.shift()(msg) : inbox.push(msg)));
    child.on("exit", (code) => {
      if (code !== 0 && !shuttingDown) fail(`a child process exited with code ${code}`);
    });
    const next = (type) =>
      new Promise((resolve) => {
        const take = (msg) => (msg.type === type ? resolve(msg) : fail(`child sent ${msg.type}, not ${type}`));
        if (inbox.length) take(inbox.shift());
        else waiting.push(take);
      });
    child.send({ type: "config", cfg: { ...cfg, clients: part, processes: 1, hold: false } });
    children.push({ child, next });
  }
  const all = (type, payload = {}) => {
    for (const { child } of children) child.send({ type, ...payload });
  };
  const gather = (type) => Promise.all(children.map(({ next }) => next(type)));
  return { all, gather };
}

function mergeStats(parts) {
  for (const part of parts) {
    for (const [key, value] of Object.entries(part.stats)) stats[key] += value;
    for (const v of part.latencies) latencies.push(v);
  }
}

async function main() {
  if (process.argv[2] === "--child") return childMain();
  const cfg = readConfig(process.argv[2]);
  const startedAt = performance.now();
  const result = { connected: 0, connect_failed: 0, connect_errors: [], timed_out: false, cpu_s: null, elapsed: null };
  const deadline = setTimeout(
    () => {
      result.timed_out = true;
      process.stdout.write(report(result), () => process.exit(3));
    },
    (cfg.warmup + cfg.seconds + cfg.stall_seconds + 30) * 1000,
  );
  const phases = cfg.processes > 1 ? await inChildren(cfg, result) : await inProcess(cfg, result);
  await phases.start();
  await sleep(cfg.warmup * 1000);
  process.stderr.write("MEASURE_START\n");
  Object.assign(result, await phases.measure());
  process.stderr.write("MEASURE_END\n");
  if (cfg.hold) await stdinLine(10000);
  await phases.close();
  clearTimeout(deadline);
  result.run_s = (performance.now() - startedAt) / 1000;
  process.stdout.write(report(result), () => process.exit(0));
}

function noteConnects(result, connected, failures) {
  result.connected += connected;
  result.connect_failed += failures.length;
  result.connect_errors = result.connect_errors.concat(failures).slice(0, 5);
}

// the phases in this process
async function inProcess(cfg, result) {
  const { connected, failures } = await connectPhase(cfg);
  noteConnects(result, connected.length, failures);
  return {
    start: async () => {
      for (const c of connected) c.start();
    },
    measure: () => measurePhase(cfg, connected),
    close: () => closePhase(connected),
  };
}

// the phases in cfg.processes children, in step
async function inChildren(cfg, result) {
  const { all, gather } = spawnChildren(cfg);
  for (const msg of await gather("connected")) noteConnects(result, msg.connected, msg.failures);
  return {
    start: async () => all("start"),
    measure: async () => {
      all("measure", { cfg: { stall_seconds: cfg.stall_seconds, seconds: cfg.seconds } });
      const parts = await gather("measured");
      mergeStats(parts);
      const windows = parts.map((p) => p.window);
      return {
        elapsed: Math.max(...windows.map((w) => w.elapsed)),
        cpu_s: windows.reduce((sum, w) => sum + w.cpu_s, 0),
        loop_lag_ms: {
          p50: Math.max(...windows.map((w) => w.loop_lag_ms.p50)),
          p99: Math.max(...windows.map((w) => w.loop_lag_ms.p99)),
        },
      };
    },
    close: async () => {
      shuttingDown = true;
      all("stop");
      result.children_cpu_s = (await gather("closed")).reduce((sum, m) => sum + m.cpu_total_s, 0);
    },
  };
}

main().catch((err) => {
  process.stderr.write(`loadgen: ${err.stack ?? err}\n`);
  process.exit(1);
});
