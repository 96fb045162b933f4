import type { ActorListShortfall } from "../introspection/list-actors.js";
import type { Sample } from "./system-sampler.js";

/** An actor with its rate: messages processed per second between the last two samples. */
export interface ActorRow {
  readonly node: string;
  readonly path: string;
  readonly kind: string | undefined;
  readonly mailbox: number;
  readonly restarts: number;
  readonly processed: number;
  /** Undefined on the first sample, for an actor new since the last one, or when its counter went back. */
  readonly perSecond: number | undefined;
}

export interface NodeRow {
  readonly node: string;
  readonly kinds: readonly string[];
  /** Actors it listed, or the count its last heartbeat gave when no list came. */
  readonly actors: number;
  readonly upMs: number;
  readonly lastSeenAgoMs: number;
  /** Whether its actor list arrived in this sample. */
  readonly answered: boolean;
  readonly processedPerSecond: number | undefined;
  readonly deadLetters: number;
  readonly deadLettersPerSecond: number | undefined;
  readonly restarts: number;
}

/** What `troupe top` and `troupe dashboard` show: one sample, with rates against the one before. */
export interface LiveView {
  readonly atMs: number;
  /** Seconds between the two samples the rates come from; undefined on the first. */
  readonly overSeconds: number | undefined;
  readonly nodes: readonly NodeRow[];
  /** Every actor, busiest (by rate, then mailbox) first. */
  readonly actors: readonly ActorRow[];
  readonly totals: {
    readonly nodes: number;
    /** Members in the roster the nodes came from: more than `nodes` when the viewer watches only the first ones. */
    readonly nodesInSystem: number;
    readonly actors: number;
    readonly processedPerSecond: number | undefined;
    readonly deadLetters: number;
    readonly deadLettersPerSecond: number | undefined;
    readonly restarts: number;
    readonly restartsPerSecond: number | undefined;
  };
  readonly missing: readonly ActorListShortfall[];
}

/**
 * Rates from two successive samples: each counter's growth over the time between them. A counter that
 * went down belongs to a process or actor that started again: no rate for that one until the next sample.
 */
export function liveView(previous: Sample | undefined, current: Sample): LiveView {
  const seconds = previous === undefined ? undefined : Math.max(0.001, (current.atMs - previous.atMs) / 1000);
  const rate = (now: number, before: number | undefined): number | undefined => (seconds === undefined || before === undefined || now < before ? undefined : (now - before) / seconds);

  const before = new Map<string, number>();
  for (const a of previous?.actors ?? []) before.set(keyOf(a.node, a.path), a.processed ?? 0);
  const actors: ActorRow[] = current.actors.map((a) => {
    const processed = a.processed ?? 0;
    return { node: a.node, path: a.path, kind: a.kind, mailbox: a.mailboxSize, restarts: a.restarts, processed, perSecond: rate(processed, before.get(keyOf(a.node, a.path))) };
  });
  actors.sort((a, b) => (b.perSecond ?? -1) - (a.perSecond ?? -1) || b.mailbox - a.mailbox || (keyOf(a.node, a.path) < keyOf(b.node, b.path) ? -1 : 1));

  const listed = new Map<string, number>();
  for (const a of current.actors) listed.set(a.node, (listed.get(a.node) ?? 0) + 1);
  const names = new Set([...current.nodes.map((n) => n.node), ...current.totals.keys()]);
  const nodes: NodeRow[] = [...names].sort().map((node) => {
    const info = current.nodes.find((n) => n.node === node);
    const now = current.totals.get(node);
    const then = previous?.totals.get(node);
    return {
      node,
      kinds: info?.kinds ?? [],
      actors: now !== undefined ? (listed.get(node) ?? 0) : (info?.actorCount ?? 0),
      upMs: info === undefined ? 0 : Math.max(0, current.atMs - info.startedAtMs),
      lastSeenAgoMs: info === undefined ? 0 : Math.max(0, current.atMs - info.lastSeenMs),
      answered: now !== undefined,
      processedPerSecond: now === undefined ? undefined : rate(now.processed, then?.processed),
      deadLetters: now?.deadLetters ?? 0,
      deadLettersPerSecond: now === undefined ? undefined : rate(now.deadLetters, then?.deadLetters),
      restarts: now?.restarts ?? 0,
    };
  });

  const sum = (pick: (row: NodeRow) => number | undefined): number | undefined => {
    const values = nodes.filter((n) => n.answered).map(pick);
    return values.length === 0 || values.some((v) => v === undefined) ? undefined : values.reduce<number>((s, v) => s + v!, 0);
  };
  const restartsBefore = previous === undefined ? undefined : sumTotals(previous, (t) => t.restarts);
  const restarts = sumTotals(current, (t) => t.restarts);
  return {
    atMs: current.atMs,
    overSeconds: seconds,
    nodes,
    actors,
    totals: {
      nodes: nodes.length,
      nodesInSystem: Math.max(nodes.length, current.totalNodes ?? 0),
      actors: actors.length,
      processedPerSecond: sum((n) => n.processedPerSecond),
      deadLetters: nodes.reduce((s, n) => s + n.deadLetters, 0),
      deadLettersPerSecond: sum((n) => n.deadLettersPerSecond),
      restarts,
      restartsPerSecond: rate(restarts, restartsBefore),
    },
    missing: current.missing,
  };
}

function keyOf(node: string, path: string): string {
  return `${node}\u0000${path}`;
}

function sumTotals(sample: Sample, pick: (totals: { restarts: number }) => number): number {
  let total = 0;
  for (const t of sample.totals.values()) total += pick(t);
  return total;
}
