// Colyseus 0.16 server for tests/benchmarks/bench_session.py: the scenario of the session benchmark,
// written the way Colyseus does it (loopback only).
//
//   node colyseus_server.mjs PORT
//
// One room type, "shop", matched by the join option "room" (filterBy), so clients that join with
// {room: "room-3"} share one room instance, as our clients share the room named in their token.
// Its state holds one pose per participant (position + quaternion, the send time in x as the load
// generator puts it) and one object per participant; clients send "pose" ([x,y,z,qx,qy,qz,qw], 30 Hz)
// and "move" ([x,y,z], once a second), the room writes them into the state, and Colyseus sends each
// client the state's changes as one binary patch per patch interval (here 1000/30 ms, our tick rate).
// "READY <port>" on stdout once listening.
import { Room, Server } from "@colyseus/core";
import { MapSchema, Schema, defineTypes } from "@colyseus/schema";
import { WebSocketTransport } from "@colyseus/ws-transport";

const TICK_HZ = 30;
const ROOM_LIMIT = 250;

class Pose extends Schema {}
defineTypes(Pose, { x: "number", y: "number", z: "number", qx: "number", qy: "number", qz: "number", qw: "number" });

class Thing extends Schema {}
defineTypes(Thing, { x: "number", y: "number", z: "number" });

class ShopState extends Schema {
  constructor() {
    super();
    this.players = new MapSchema();
    this.objects = new MapSchema();
  }
}
defineTypes(ShopState, { players: { map: Pose }, objects: { map: Thing } });

const finite = (v, n) => Array.isArray(v) && v.length === n && v.every((x) => typeof x === "number" && Number.isFinite(x));

class ShopRoom extends Room {
  onCreate() {
    this.maxClients = ROOM_LIMIT;
    this.setState(new ShopState());
    this.patchRate = 1000 / TICK_HZ;
    this.onMessage("pose", (client, p) => {
      const pose = this.state.players.get(client.sessionId);
      if (!pose || !finite(p, 7)) return;
      [pose.x, pose.y, pose.z, pose.qx, pose.qy, pose.qz, pose.qw] = p;
    });
    this.onMessage("move", (client, p) => {
      const thing = this.state.objects.get(client.sessionId);
      if (!thing || !finite(p, 3)) return;
      [thing.x, thing.y, thing.z] = p;
    });
  }

  onJoin(client) {
    const pose = new Pose();
    Object.assign(pose, { x: 0, y: 0, z: 0, qx: 0, qy: 0, qz: 0, qw: 1 });
    this.state.players.set(client.sessionId, pose);
    const thing = new Thing();
    Object.assign(thing, { x: 0, y: 0, z: 0 });
    this.state.objects.set(client.sessionId, thing);
  }

  onLeave(client) {
    this.state.players.delete(client.sessionId);
    this.state.objects.delete(client.sessionId);
  }
}

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write("colyseus_server: usage: node colyseus_server.mjs PORT (1-65535)\n");
  process.exit(2);
}
const server = new Server({ transport: new WebSocketTransport({ perMessageDeflate: false }), greet: false });
server.define("shop", ShopRoom).filterBy(["room"]);
await server.listen(port, "127.0.0.1");
process.stdout.write(`READY ${port}\n`);
const stop = () => server.gracefullyShutdown(true).finally(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
