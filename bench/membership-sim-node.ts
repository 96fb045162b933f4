// The observer of the membership simulation (bench/membership-sim.ts), one of:
//   node --import tsx bench/membership-sim-node.ts troupe <nats-url> <max-nodes>   a real Troupe node
//   node --import tsx bench/membership-sim-node.ts bare <nats-url> <design>        the baseline
//   node --import tsx bench/membership-sim-node.ts monitors <nats-url>             the prototype (docs/scale.md)
// `troupe` is an ActorSystem on the NATS transport, as `troupe node` runs one, with membership's
// maxNodes raised to <max-nodes> (the default, 1,000, would refuse most simulated members). `bare` is a
// plain nats.js client on the subjects the observer of <design> receives on, that only counts
// messages: what receiving them costs before anything is done with them. `monitors` is the prototype
// of the ring-monitor design. The driver asks over IPC for CPU use, member counts and detection times.
import { connect } from "@nats-io/transport-node";
import { ActorSystem, connectNats, Subjects } from "../runtime/index.js";
import { monitorSubjects, MonitorNode } from "./membership-sim-monitor.js";
import { REAL_NODE_ID, SIM_SYSTEM, type FromObserver, type ToObserver } from "./membership-sim-protocol.js";

const [mode, natsUrl, modeArg] = process.argv.slice(2);
if (!process.send || !natsUrl || !["troupe", "bare", "monitors"].includes(mode ?? "")) {
  console.error("usage: node --import tsx bench/membership-sim-node.ts troupe <nats-url> <max-nodes> | bare <nats-url> broadcast|monitors | monitors <nats-url> (started by bench/membership-sim.ts)");
  process.exit(2);
}
process.on("disconnect", () => process.exit(0));
const post = (message: FromObserver): void => void process.send?.(message);
const wallMs = (): number => performance.timeOrigin + performance.now();

/** Waiting `await` requests, by node id and event. */
const waiting = new Map<string, number[]>();
let members = 0;
const seen = (node: string, event: "joined" | "lost"): void => {
  const ids = waiting.get(`${event}:${node}`);
  if (ids === undefined) return;
  waiting.delete(`${event}:${node}`);
  const atMs = wallMs();
  for (const id of ids) post({ id, type: "seen", atMs });
};

const subjects = new Subjects("troupe", SIM_SYSTEM);

/** What the driver can ask of every kind of observer. */
interface Observer {
  /** Heartbeat messages received, where the observer counts them (0 where it does not). */
  received(): number;
  refused(): number;
  /** Called when a join is awaited, before it happens. */
  arm?(node: string): void;
  close(): Promise<void>;
}

const observer: Observer = mode === "troupe" ? await startTroupe() : mode === "bare" ? await startBare() : await startMonitors();

async function startTroupe(): Promise<Observer> {
  const maxNodes = Number(modeArg ?? 1_000);
  const system = await ActorSystem.start({ name: SIM_SYSTEM, nodeId: REAL_NODE_ID, transport: await connectNats({ servers: natsUrl! }), membership: { protocol: "all-to-all", maxNodes } });
  system.onEvent((event) => {
    if (event.type !== "membership") return;
    const { type, node } = event.event;
    if (type === "joined") members++;
    if (type === "lost" || type === "left") members--;
    if (type === "joined" || type === "lost") seen(node.node, type);
  });
  return {
    received: () => 0,
    refused: () => Object.values(system.heartbeatsRefused()).reduce((a, b) => a + b, 0),
    close: () => system.shutdown(),
  };
}

async function startBare(): Promise<Observer> {
  const nc = await connect({ servers: natsUrl!, name: "membership-sim-bare" });
  let received = 0;
  // Armed only while a join is timed: the first heartbeat whose bytes contain the node id counts.
  const armed = new Map<string, Buffer>();
  // The subjects the observer of the design receives on: today's heartbeat subject, or the real
  // node's monitor subject and the notices.
  const { heartbeatTo, joined, lost } = monitorSubjects(subjects);
  const subscribed = modeArg === "monitors" ? [heartbeatTo(REAL_NODE_ID), joined, lost] : [subjects.heartbeat];
  const callback = (_error: unknown, message: { data: Uint8Array }): void => {
      received++;
      if (armed.size === 0) return;
      const data = Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength);
      for (const [node, bytes] of armed) {
        if (data.indexOf(bytes) < 0) continue;
        armed.delete(node);
        seen(node, "joined");
      }
  };
  for (const subject of subscribed) nc.subscribe(subject, { callback });
  await nc.flush();
  return {
    received: () => received,
    refused: () => 0,
    arm: (node) => void armed.set(node, Buffer.from(node)),
    close: () => nc.close(),
  };
}

async function startMonitors(): Promise<Observer> {
  const nc = await connect({ servers: natsUrl!, name: "membership-sim-monitors" });
  const node = new MonitorNode(nc, subjects, REAL_NODE_ID);
  node.onEvent((type, id) => {
    members += type === "joined" ? 1 : -1;
    seen(id, type);
  });
  await node.start();
  return {
    received: () => node.received,
    refused: () => node.refused,
    close: async () => {
      node.stop();
      await nc.close();
    },
  };
}

process.on("message", (message: ToObserver) => {
  try {
    switch (message.type) {
      case "cpu": {
        const { user, system } = process.cpuUsage();
        return post({ id: message.id, type: "cpu", cpuUs: user + system, atMs: wallMs(), received: observer.received() });
      }
      case "count":
        return post({ id: message.id, type: "count", members, refused: observer.refused() });
      case "await": {
        if (mode === "bare" && message.event === "lost") throw new Error("the bare client does not track members: it cannot report a loss");
        const key = `${message.event}:${message.node}`;
        waiting.set(key, [...(waiting.get(key) ?? []), message.id]);
        observer.arm?.(message.node);
        return post({ id: message.id, type: "armed" });
      }
      case "exit":
        void observer.close().finally(() => process.exit(0));
        return;
    }
  } catch (error) {
    post({ id: message.id, type: "error", error: error instanceof Error ? error.message : String(error) });
  }
});
post({ type: "ready" });
