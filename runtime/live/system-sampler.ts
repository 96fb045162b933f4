import { systemClock, type Clock } from "../clock.js";
import type { NodeTotals } from "../introspection/actor-list-pages.js";
import { listActors, type ActorListShortfall, type ActorReport } from "../introspection/list-actors.js";
import { DEFAULT_MAX_NODES } from "../membership/membership.js";
import type { NodeInfo } from "../membership/node-table.js";
import { fetchRoster } from "../membership/roster.js";
import type { Subjects } from "../subjects.js";
import type { Transport } from "../transport/transport.js";

/** What a system looked like at one moment: its live nodes, their actors and their counters. */
export interface Sample {
  /** When the actor lists were asked for, by the observer's clock. */
  readonly atMs: number;
  /** The roster as one member had it; `lastSeenMs` is when it was read (an earlier sample's when none answered this time). */
  readonly nodes: readonly NodeInfo[];
  /** Members in that roster, including any past `maxNodes` (default: as many as `nodes`). */
  readonly totalNodes?: number;
  readonly actors: readonly ActorReport[];
  /** Each answering node's counters since it started. */
  readonly totals: ReadonlyMap<string, NodeTotals>;
  /** Nodes whose actor list did not arrive whole. */
  readonly missing: readonly ActorListShortfall[];
}

export interface SamplerOptions {
  /** How long each node has to send its actor list, per sample. Default 400 ms. */
  readonly waitMs?: number;
  /** How long reading the roster may take, per sample. Default 2,000 ms. */
  readonly rosterWaitMs?: number;
  /** Most nodes watched (the first in node id order). Default `DEFAULT_MAX_NODES` (1,000). */
  readonly maxNodes?: number;
  /** Nodes asked for their actors at a time. Default 16. */
  readonly concurrency?: number;
  /** The inbox the roster and the actor lists come back to (the monitor role's own). */
  readonly inboxPrefix?: string;
  readonly clock?: Clock;
  readonly onInvalid?: (detail: string) => void;
}

/**
 * Watches a system from outside with what the monitor role may do. On each `sample()` it reads the
 * roster from one member (so a node is listed as soon as that member knows it, and dropped once it
 * does not), then asks each node listed for its actors on the node's own subject, a few at a time.
 * Nothing is broadcast, and nothing relies on nodes announcing themselves to everybody.
 */
export class SystemSampler {
  private readonly clock: Clock;
  private roster: { readonly nodes: readonly NodeInfo[]; readonly total: number } = { nodes: [], total: 0 };

  constructor(
    private readonly transport: Transport,
    private readonly subjects: Subjects,
    private readonly options: SamplerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  async sample(): Promise<Sample> {
    const atMs = this.clock.now();
    const roster = await fetchRoster(this.transport, this.subjects.membershipRoster, {
      system: this.subjects.system,
      timeoutMs: this.options.rosterWaitMs ?? 2_000,
      maxNodes: this.options.maxNodes ?? DEFAULT_MAX_NODES,
      inboxPrefix: this.options.inboxPrefix,
      onInvalid: (detail) => this.options.onInvalid?.(`ignored ${detail}`),
    });
    if (roster !== undefined) this.roster = { nodes: roster.nodes.map((n) => ({ ...n, lastSeenMs: this.clock.now() })), total: roster.total };
    const totals = new Map<string, NodeTotals>();
    const missing: ActorListShortfall[] = [];
    const { actors } = await listActors(
      this.transport,
      (node) => this.subjects.actorsOf(node),
      this.roster.nodes.map((n) => n.node),
      {
        waitMs: this.options.waitMs ?? 400,
        concurrency: this.options.concurrency,
        clock: this.clock,
        inboxPrefix: this.options.inboxPrefix,
        onInvalid: (detail) => this.options.onInvalid?.(`ignored an answer: ${detail}`),
        onIncomplete: (shortfall) => missing.push(shortfall),
        onTotals: (node, counters) => totals.set(node, counters),
      },
    );
    return { atMs, nodes: this.roster.nodes, totalNodes: this.roster.total, actors, totals, missing };
  }
}
