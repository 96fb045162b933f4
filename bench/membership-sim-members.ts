// The simulated members of the membership simulation (bench/membership-sim.ts):
//   node --import tsx bench/membership-sim-members.ts <nats-url> broadcast|ring
// One process speaks for thousands of node ids over one NATS connection (the runtime's, `noEcho`).
// Each member's `NodeHeartbeat` (with `server` from that connection) is encoded once with the
// runtime's codec (runtime/membership/heartbeat.ts) and sent every SIM_INTERVAL_MS, the members spread
// evenly over the interval in TICK_MS slots, as independently started nodes would be. `broadcast`
// publishes on the heartbeat subject every node listens to (today's all-to-all design); `ring` speaks
// ring membership with the runtime's code (bench/membership-sim-ring.ts): heartbeats to each member's
// monitors, `joined`/`left`/`lost` notices, probes answered, the roster served, digests.
import { randomBytes } from "node:crypto";
import { connectNats, Subjects } from "../runtime/index.js";
import { encodeHeartbeat, type Heartbeat } from "../runtime/membership/heartbeat.js";
import { REAL_NODE_ID, SIM_INTERVAL_MS, SIM_SYSTEM, type Design, type FromMembers, type ToMembers } from "./membership-sim-protocol.js";
import { SimulatedRing } from "./membership-sim-ring.js";

/** Publishing turns per interval: each member publishes in one of them. */
const TICK_MS = 10;
const SLOTS = SIM_INTERVAL_MS / TICK_MS;
/** What a worker node of a small app would list: a kind and an entity kind. */
const KINDS = ["sim-worker", "entity.sim-counter"];
/** The member that serves the roster and sends digests (ring): never picked to crash. */
const ANSWERER = "sim-0";

const [natsUrl, designArg] = process.argv.slice(2);
const design = designArg as Design;
if (!process.send || !natsUrl || !["broadcast", "ring"].includes(design)) {
  console.error("usage: node --import tsx bench/membership-sim-members.ts <nats-url> broadcast|ring (started by bench/membership-sim.ts)");
  process.exit(2);
}
process.on("disconnect", () => process.exit(0));
const post = (message: FromMembers): void => void process.send?.(message);
const wallMs = (): number => performance.timeOrigin + performance.now();

// No read watchdog: this process is busy by design, and a stall shows as lag in its stats instead.
const transport = await connectNats({ servers: natsUrl, name: "membership-sim-members", noEcho: true, readTimeoutMs: false });
const subjects = new Subjects("troupe", SIM_SYSTEM);
const server = transport.serverId?.() ?? "";
const ring = design === "ring" ? new SimulatedRing(transport, subjects, REAL_NODE_ID, ANSWERER) : undefined;
ring?.start();
await transport.flush();

interface Member {
  readonly beat: Heartbeat;
  readonly bytes: Uint8Array;
  readonly slot: number;
}
const members = new Map<string, Member>();
const slots: Set<Member>[] = Array.from({ length: SLOTS }, () => new Set());
let nextSlot = 0;
let published = 0;
let maxLagMs = 0;

function heartbeatOf(node: string): Heartbeat {
  return { node, incarnation: randomBytes(8).toString("hex"), startedAtMs: Date.now(), kinds: KINDS, actorCount: 3, intervalMs: SIM_INTERVAL_MS, leaving: false, system: SIM_SYSTEM, server };
}

function send(member: Member): void {
  published++;
  if (ring) ring.heartbeat(member.beat.node, member.bytes);
  else transport.publish(subjects.heartbeat, member.bytes);
}

/** Adds a member and sends its first heartbeat at once, as a starting node does. */
function add(node: string): void {
  if (members.has(node)) return;
  const beat = heartbeatOf(node);
  const member = { beat, bytes: encodeHeartbeat(beat), slot: nextSlot };
  nextSlot = (nextSlot + 1) % SLOTS;
  members.set(node, member);
  slots[member.slot]!.add(member);
  ring?.joined(beat, member.bytes);
  send(member);
}

/** Stops a member: silently (a crash) or saying so (a graceful stop). */
function remove(node: string, graceful: boolean): void {
  const member = members.get(node);
  if (!member) return;
  members.delete(node);
  slots[member.slot]!.delete(member);
  if (graceful) ring?.left(node);
  else ring?.crashed(node);
}

// Turns run on a schedule kept against the clock, so a late turn is caught up rather than lost.
let turn = 0;
let dueMs = performance.now();
let exiting = false;
function tick(): void {
  if (exiting) return;
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
        // Members past the count leave, and so do the joiners of earlier steps (not `sim-<i>`: NaN).
        for (const node of [...members.keys()]) if (!(Number(node.slice("sim-".length)) < message.count)) remove(node, true);
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
        // Ring: a member whose nearest monitor is the real node, or one the real node does not
        // monitor at all. Today's design: any member (every node watches every other).
        if (ring && !ring.realSeen) throw new Error(`the members have not seen the real node ${REAL_NODE_ID} announce itself`);
        const ids = [...members.keys()].filter((node) => node.startsWith("sim-") && node !== ANSWERER);
        const after = message.after % ids.length;
        const fits = (node: string): boolean => ring === undefined || (message.watchedByReal ? ring.realRank(node) === 0 : ring.realRank(node) < 0);
        const node = [...ids.slice(after), ...ids.slice(0, after)].find(fits);
        if (node === undefined) throw new Error(`no member ${message.watchedByReal ? "" : "not "}monitored by the real node`);
        return post({ id: message.id, type: "picked", node });
      }
      case "stop":
        remove(message.node, false);
        return post({ id: message.id, type: "done", atMs: wallMs() });
      case "start":
        add(message.node);
        return post({ id: message.id, type: "done", atMs: wallMs() });
      case "stats": {
        const { user, system } = process.cpuUsage();
        post({ id: message.id, type: "stats", published, cpuUs: user + system, atMs: wallMs(), maxLagMs, ...(ring && { ring: { ...ring.counts } }) });
        maxLagMs = 0;
        return;
      }
      case "exit":
        exiting = true;
        ring?.stop();
        void transport.close().finally(() => process.exit(0));
        return;
    }
  } catch (error) {
    post({ id: message.id, type: "error", error: error instanceof Error ? error.message : String(error) });
  }
});
post({ type: "ready" });
