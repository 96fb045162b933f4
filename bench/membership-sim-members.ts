// The simulated members of the membership simulation (bench/membership-sim.ts):
//   node --import tsx bench/membership-sim-members.ts <nats-url> broadcast|monitors
// One process speaks for thousands of node ids over one NATS connection. Each member's
// `NodeHeartbeat` is encoded once with the runtime's codec (runtime/membership/heartbeat.ts) and
// published every SIM_INTERVAL_MS, the members spread evenly over the interval in TICK_MS slots, as
// independently started nodes would be. `broadcast` publishes on the heartbeat subject every node
// listens to (today's design); `monitors` sends each heartbeat to the member's few monitors only
// (the prototype of docs/scale.md, see bench/membership-sim-monitor.ts).
import { randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { Subjects } from "../runtime/index.js";
import { encodeHeartbeat } from "../runtime/membership/heartbeat.js";
import { SimulatedMonitors } from "./membership-sim-monitor.js";
import { REAL_NODE_ID, SIM_INTERVAL_MS, SIM_SYSTEM, type Design, type FromMembers, type ToMembers } from "./membership-sim-protocol.js";

/** Publishing turns per interval: each member publishes in one of them. */
const TICK_MS = 10;
const SLOTS = SIM_INTERVAL_MS / TICK_MS;
/** What a worker node of a small app would list: a kind and an entity kind. */
const KINDS = ["sim-worker", "entity.sim-counter"];

const [natsUrl, designArg] = process.argv.slice(2);
const design = designArg as Design;
if (!process.send || !natsUrl || !["broadcast", "monitors"].includes(design)) {
  console.error("usage: node --import tsx bench/membership-sim-members.ts <nats-url> broadcast|monitors (started by bench/membership-sim.ts)");
  process.exit(2);
}
process.on("disconnect", () => process.exit(0));
const post = (message: FromMembers): void => void process.send?.(message);
const wallMs = (): number => performance.timeOrigin + performance.now();

const nc = await connect({ servers: natsUrl, name: "membership-sim-members" });
const subjects = new Subjects("troupe", SIM_SYSTEM);
const monitors = design === "monitors" ? new SimulatedMonitors(nc, subjects, REAL_NODE_ID) : undefined;

interface Member {
  readonly node: string;
  readonly bytes: Uint8Array;
  readonly slot: number;
}
const members = new Map<string, Member>();
const slots: Set<Member>[] = Array.from({ length: SLOTS }, () => new Set());
let nextSlot = 0;
let published = 0;
let maxLagMs = 0;

function heartbeatOf(node: string): Uint8Array {
  return encodeHeartbeat({ node, incarnation: randomBytes(8).toString("hex"), startedAtMs: Date.now(), kinds: KINDS, actorCount: 3, intervalMs: SIM_INTERVAL_MS, leaving: false, system: SIM_SYSTEM });
}

function send(member: Member): void {
  published++;
  if (monitors) monitors.heartbeat(member.node, member.bytes);
  else nc.publish(subjects.heartbeat, member.bytes);
}

/** Adds a member and publishes its first heartbeat at once, as a starting node does. */
function add(node: string): void {
  if (members.has(node)) return;
  const member = { node, bytes: heartbeatOf(node), slot: nextSlot };
  nextSlot = (nextSlot + 1) % SLOTS;
  members.set(node, member);
  slots[member.slot]!.add(member);
  monitors?.joined(node, member.bytes);
  send(member);
}

function remove(node: string): void {
  const member = members.get(node);
  if (!member) return;
  members.delete(node);
  slots[member.slot]!.delete(member);
  monitors?.stopped(node, member.bytes);
}

// Turns run on a schedule kept against the clock, so a late turn is caught up rather than lost.
let turn = 0;
let dueMs = performance.now();
function tick(): void {
  const now = performance.now();
  maxLagMs = Math.max(maxLagMs, now - dueMs);
  while (dueMs <= now) {
    for (const member of slots[turn % SLOTS]!) send(member);
    turn++;
    dueMs += TICK_MS;
  }
  setTimeout(tick, Math.max(0, dueMs - performance.now()));
}
tick();

process.on("message", (message: ToMembers) => {
  try {
    switch (message.type) {
      case "set": {
        // Members past the count stop, and so do the joiners of earlier steps (not `sim-<i>`: NaN).
        for (const node of [...members.keys()]) if (!(Number(node.slice("sim-".length)) < message.count)) remove(node);
        // Joins arrive spread over one interval, not in one burst: SLOTS batches, one per turn.
        const missing: string[] = [];
        for (let i = 0; i < message.count; i++) if (!members.has(`sim-${i}`)) missing.push(`sim-${i}`);
        const perTurn = Math.ceil(missing.length / SLOTS);
        const addBatch = (): void => {
          for (const node of missing.splice(0, perTurn)) add(node);
          if (missing.length > 0) setTimeout(addBatch, TICK_MS);
          else post({ id: message.id, type: "done", atMs: wallMs() });
        };
        addBatch();
        return;
      }
      case "pick": {
        // A member the real node monitors, or one it does not (today's design: any member).
        const ids = [...members.keys()].filter((node) => node.startsWith("sim-"));
        const after = message.after % ids.length;
        const node = [...ids.slice(after), ...ids.slice(0, after)].find((id) => monitors === undefined || monitors.watchedByReal(id) === message.watchedByReal);
        if (node === undefined) throw new Error(`no member ${message.watchedByReal ? "" : "not "}monitored by the real node`);
        return post({ id: message.id, type: "picked", node });
      }
      case "stop":
        remove(message.node);
        return post({ id: message.id, type: "done", atMs: wallMs() });
      case "start":
        add(message.node);
        return post({ id: message.id, type: "done", atMs: wallMs() });
      case "stats": {
        const { user, system } = process.cpuUsage();
        post({ id: message.id, type: "stats", published, cpuUs: user + system, atMs: wallMs(), maxLagMs });
        maxLagMs = 0;
        return;
      }
      case "exit":
        void nc.close().finally(() => process.exit(0));
        return;
    }
  } catch (error) {
    post({ id: message.id, type: "error", error: error instanceof Error ? error.message : String(error) });
  }
});
post({ type: "ready" });
