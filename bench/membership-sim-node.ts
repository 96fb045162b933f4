// The observer of the membership simulation (bench/membership-sim.ts), one of:
//   node --import tsx bench/membership-sim-node.ts troupe <nats-url> <max-nodes> broadcast|ring   a real Troupe node
//   node --import tsx bench/membership-sim-node.ts bare <nats-url> broadcast|ring                 the baseline
// `troupe` is an ActorSystem on the NATS transport, as `troupe node` runs one, with membership's
// maxNodes raised to <max-nodes> (the default, 1,000, would refuse most simulated members) and its
// protocol `all-to-all` (broadcast) or the default, `ring`. `bare` is a plain nats.js client on the
// subjects the real node of the design receives on, that only counts messages: what receiving them
// costs before anything is done with them. The driver asks over IPC for CPU use, member counts and
// detection times.
import { connect } from "@nats-io/transport-node";
import { ActorSystem, connectNats, Subjects } from "../runtime/index.js";
import { REAL_NODE_ID, SIM_SYSTEM, type Design, type FromObserver, type ToObserver } from "./membership-sim-protocol.js";

const [mode, natsUrl, ...rest] = process.argv.slice(2);
const design = rest.at(-1) as Design;
if (!process.send || !natsUrl || !["troupe", "bare"].includes(mode ?? "") || !["broadcast", "ring"].includes(design)) {
  console.error("usage: node --import tsx bench/membership-sim-node.ts troupe <nats-url> <max-nodes> broadcast|ring | bare <nats-url> broadcast|ring (started by bench/membership-sim.ts)");
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
  refused(): Readonly<Record<string, number>>;
  /** Called when a join is awaited, before it happens. */
  arm?(node: string): void;
  close(): Promise<void>;
}

const observer: Observer = mode === "troupe" ? await startTroupe() : await startBare();

async function startTroupe(): Promise<Observer> {
  const maxNodes = Number(rest[0] ?? 1_000);
  const protocol = design === "broadcast" ? "all-to-all" : "ring";
  const system = await ActorSystem.start({ name: SIM_SYSTEM, nodeId: REAL_NODE_ID, transport: await connectNats({ servers: natsUrl! }), membership: { protocol, maxNodes } });
  // Those read from the roster at start were reported before anyone could listen.
  members = system.nodes().filter((n) => !n.self).length;
  system.onEvent((event) => {
    if (event.type !== "membership") return;
    const { type, node } = event.event;
    if (type === "joined") members++;
    if (type === "lost" || type === "left") members--;
    if (type === "joined" || type === "lost") seen(node.node, type);
  });
  return {
    received: () => 0,
    refused: () => Object.fromEntries(Object.entries(system.heartbeatsRefused()).filter(([, n]) => n > 0)),
    close: () => system.shutdown(),
  };
}

async function startBare(): Promise<Observer> {
  const nc = await connect({ servers: natsUrl!, name: "membership-sim-bare" });
  let received = 0;
  // Armed only while a join is timed: the first heartbeat whose bytes contain the node id counts.
  const armed = new Map<string, Buffer>();
  // The subjects the real node of the design receives on: the heartbeat subject (all-to-all), or its
  // own `membership.to.<node>` and the notices (ring; the roster subject is quiet in a steady state).
  const subscribed = design === "ring" ? [subjects.membershipTo(REAL_NODE_ID), subjects.membershipChanges] : [subjects.heartbeat];
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
    refused: () => ({}),
    arm: (node) => void armed.set(node, Buffer.from(node)),
    close: () => nc.close(),
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
