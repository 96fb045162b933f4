import type { PersistentFakeGcs } from "../helpers/chaos-gcs.js";
import type { ResultDuplicator } from "../helpers/chaos-duplicator.js";
import type { NatsCluster } from "../helpers/nats-cluster.js";
import type { SeededRandom } from "../helpers/seeded-random.js";

export type FaultKind = "kill-worker" | "pause-worker" | "restart-nats" | "gcs-outage" | "duplicate-results";
export const FAULT_KINDS: readonly FaultKind[] = ["kill-worker", "pause-worker", "restart-nats", "gcs-outage", "duplicate-results"];

/** Failure detection with the default membership settings: 2 s silence plus one 500 ms check. */
export const FAILURE_DETECTION_MS = 2_500;
/** How long fake-gcs-server stays down. */
export const GCS_OUTAGE_MS = 5_000;

/** One fault of a run's schedule, all drawn from the seed before the run starts. */
export interface PlannedFault {
  /** When, from the start of its job. */
  readonly atMs: number;
  readonly kind: FaultKind;
  /** How long the fault lasts (pause, server down, outage, duplication window); 0 for a kill. */
  readonly holdMs: number;
  /** Chooses the target (a worker, a server): taken modulo the candidates at injection time. */
  readonly pick: number;
}

export interface FaultRecord extends PlannedFault {
  readonly job: number;
  /** Start and end, from the start of the run. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly detail: string;
}

/**
 * `count` faults at seeded times in [fromMs, toMs]: every kind once (in a seeded order) before any
 * kind comes twice, so even a short run meets each of them.
 */
export function planFaults(random: SeededRandom, count: number, fromMs: number, toMs: number): PlannedFault[] {
  const kinds: FaultKind[] = [];
  while (kinds.length < count) {
    const round = [...FAULT_KINDS];
    for (let i = round.length - 1; i > 0; i--) {
      const j = random.int(i + 1);
      [round[i], round[j]] = [round[j]!, round[i]!];
    }
    kinds.push(...round.slice(0, count - kinds.length));
  }
  const times = kinds.map(() => random.between(fromMs, toMs)).sort((a, b) => a - b);
  return kinds.map((kind, i) => ({ atMs: times[i]!, kind, holdMs: holdFor(kind, random), pick: random.int(1_000_000) }));
}

function holdFor(kind: FaultKind, random: SeededRandom): number {
  switch (kind) {
    case "kill-worker":
      return 0;
    case "pause-worker":
      // Longer than failure detection, so the others count the node lost before it comes back.
      return random.between(FAILURE_DETECTION_MS + 500, FAILURE_DETECTION_MS + 2_000);
    case "restart-nats":
      return random.between(200, 2_000);
    case "gcs-outage":
      return GCS_OUTAGE_MS;
    case "duplicate-results":
      return random.between(1_000, 3_000);
  }
}

/** A worker node process as the chaos run manages it. */
export interface ChaosWorker {
  readonly nodeId: string;
  readonly pid: number;
  signal(name: "SIGKILL" | "SIGSTOP" | "SIGCONT"): void;
  exited(): Promise<void>;
}

/** What faults act on; the run supplies it. */
export interface FaultTargets {
  readonly cluster: NatsCluster;
  readonly gcs: PersistentFakeGcs;
  readonly duplicator: ResultDuplicator;
  /** Takes a worker no other fault holds (waiting for one if need be) and marks it held. */
  takeWorker(pick: number): Promise<ChaosWorker>;
  releaseWorker(worker: ChaosWorker): void;
  /** Starts a new worker node in place of a killed one and waits until the coordinator sees it. */
  replaceWorker(killed: ChaosWorker): Promise<ChaosWorker>;
  /** Resolves once the coordinator's membership has `node` live again (it may have been lost). */
  seenLive(node: string): Promise<void>;
  /** Membership and transport events the run's nodes reported since `sinceMs` (run time), e.g. "w2 lost". */
  eventsSince(sinceMs: number): string[];
  now(): number;
}

const hold = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Carries out one fault and says what happened. */
export async function inject(fault: PlannedFault, targets: FaultTargets): Promise<string> {
  const since = targets.now();
  switch (fault.kind) {
    case "kill-worker": {
      const victim = await targets.takeWorker(fault.pick);
      victim.signal("SIGKILL");
      await victim.exited();
      const replacement = await targets.replaceWorker(victim);
      targets.releaseWorker(replacement);
      return `SIGKILL ${victim.nodeId} (pid ${victim.pid}); ${replacement.nodeId} started in its place`;
    }
    case "pause-worker": {
      const zombie = await targets.takeWorker(fault.pick);
      zombie.signal("SIGSTOP");
      try {
        await hold(fault.holdMs);
      } finally {
        zombie.signal("SIGCONT");
      }
      await targets.seenLive(zombie.nodeId);
      targets.releaseWorker(zombie);
      const seen = targets.eventsSince(since).filter((e) => e.startsWith(`${zombie.nodeId} `));
      return `SIGSTOP ${zombie.nodeId} for ${fault.holdMs} ms, then SIGCONT; coordinator saw: ${seen.join(", ") || "nothing"}`;
    }
    case "restart-nats": {
      const server = fault.pick % targets.cluster.urls.length;
      await targets.cluster.stopServer(server);
      await hold(fault.holdMs);
      await targets.cluster.startServer(server);
      const reconnected = targets.eventsSince(since).filter((e) => e.endsWith(" reconnect"));
      return `nats server ${server} down ${fault.holdMs} ms, then back in the mesh; ${reconnected.join(", ") || "no node was on it"}`;
    }
    case "gcs-outage": {
      await targets.gcs.stop();
      await hold(fault.holdMs);
      await targets.gcs.start();
      return `fake-gcs-server stopped for ${fault.holdMs} ms, then started (filesystem backend: objects kept)`;
    }
    case "duplicate-results": {
      const before = targets.duplicator.sent;
      await targets.duplicator.duplicateFor(fault.holdMs, 0.3);
      return `re-sent 30 % of TaskResults for ${fault.holdMs} ms: ${targets.duplicator.sent - before} copies`;
    }
  }
}
