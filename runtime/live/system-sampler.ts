import { systemClock, type Clock } from "../clock.js";
import type { NodeTotals } from "../introspection/actor-list-pages.js";
import { listActors, type ActorListShortfall, type ActorReport } from "../introspection/list-actors.js";
import { decodeHeartbeat } from "../membership/heartbeat.js";
import { DEFAULT_FAILURE_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_MAX_NODES } from "../membership/membership.js";
import { NodeTable, type NodeInfo } from "../membership/node-table.js";
import type { Subjects } from "../subjects.js";
import type { Transport } from "../transport/transport.js";

/** What a system looked like at one moment: its live nodes, their actors and their counters. */
export interface Sample {
  /** When the actor lists were asked for, by the observer's clock. */
  readonly atMs: number;
  readonly nodes: readonly NodeInfo[];
  readonly actors: readonly ActorReport[];
  /** Each answering node's counters since it started. */
  readonly totals: ReadonlyMap<string, NodeTotals>;
  /** Nodes whose actor list did not arrive whole. */
  readonly missing: readonly ActorListShortfall[];
}

export interface SamplerOptions {
  /** How long each sample waits for the nodes' actor lists. Default 400 ms. */
  readonly waitMs?: number;
  /** The inbox the actor lists come back to (the monitor role's own). */
  readonly inboxPrefix?: string;
  readonly clock?: Clock;
  readonly onInvalid?: (detail: string) => void;
}

/**
 * Watches a system from outside with what the monitor role may do: it listens to heartbeats all the
 * time (so a node is listed from its first heartbeat and dropped after the usual failure timeout) and,
 * on each `sample()`, asks every node for its actors on `<prefix>.<system>.actors`.
 */
export class SystemSampler {
  private readonly clock: Clock;
  private readonly table = new NodeTable({ failureTimeoutMs: DEFAULT_FAILURE_TIMEOUT_MS, silenceMs: Math.ceil(DEFAULT_HEARTBEAT_INTERVAL_MS * 1.25), maxNodes: DEFAULT_MAX_NODES });
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly subjects: Subjects,
    private readonly options: SamplerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** Starts listening to heartbeats; resolves once the server knows about the subscription. */
  async start(): Promise<void> {
    this.unsubscribe = this.transport.subscribe(this.subjects.heartbeat, (message) => {
      const decoded = decodeHeartbeat(message.data);
      if (decoded.ok) this.table.observe(decoded.heartbeat, this.clock.now());
      else this.options.onInvalid?.(`ignored a heartbeat: ${decoded.detail}`);
    });
    await this.transport.flush();
  }

  async sample(): Promise<Sample> {
    const atMs = this.clock.now();
    const totals = new Map<string, NodeTotals>();
    const missing: ActorListShortfall[] = [];
    const actors = await listActors(this.transport, this.subjects.actors, {
      waitMs: this.options.waitMs ?? 400,
      clock: this.clock,
      inboxPrefix: this.options.inboxPrefix,
      onInvalid: (detail) => this.options.onInvalid?.(`ignored an answer: ${detail}`),
      onIncomplete: (shortfall) => missing.push(shortfall),
      onTotals: (node, counters) => totals.set(node, counters),
    });
    this.table.expire(this.clock.now());
    return { atMs, nodes: this.table.list({ announcedLeaving: false }), actors, totals, missing };
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
