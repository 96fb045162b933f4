import type { Attributes, BatchObservableCallback, MeterProvider, Observable } from "@opentelemetry/api";
import type { DeadLetters } from "../dead-letters.js";
import { loadOptional } from "../optional-dependency.js";
import type { NodeStats } from "../stats/node-stats.js";
import { addHistogramSource, type HistogramPoint } from "./histogram-sources.js";
import type { MetricsOption } from "./metrics-option.js";
import { METER_NAME, SEMCONV } from "./metric-names.js";

/** What of a node (an ActorSystem) its instruments read. */
export interface MeteredNode {
  readonly nodeId: string;
  /** The node's plain counters: present when metrics are on. */
  readonly stats: NodeStats | undefined;
  readonly deadLetters: Pick<DeadLetters, "byReason">;
  /** Live nodes of the system, as the node's membership sees them. */
  nodes(): readonly unknown[];
  /** Each live actor's kind and mailbox size. */
  forEachActor(visit: (kind: string | undefined, mailboxSize: number) => void): void;
}

/**
 * Registers a node's instruments with a meter provider (the global one for `metrics: true`): every
 * counter and gauge is observable, read from the node's plain counters (system.stats) when a reader
 * collects, so the runtime makes no OpenTelemetry call while it works. The duration histograms go
 * through `troupeMetricProducer` instead. Returns the function that unregisters them, which the node
 * calls when it has shut down (flush the readers before that to export its last values).
 */
export async function registerNodeMetrics(system: MeteredNode, option: MetricsOption): Promise<() => void> {
  const api = await loadOptional("metrics", ["@opentelemetry/api"], () => import("@opentelemetry/api"));
  const stats = system.stats!;
  const provider: MeterProvider = typeof option === "object" ? option.meterProvider : api.metrics.getMeterProvider();
  const meter = provider.getMeter(METER_NAME);
  const node: Attributes = { "troupe.node.id": system.nodeId };
  const nats: Attributes = { ...node, "messaging.system": "nats" };
  const kindAttributes = new Map<string, Attributes>();
  const ofKind = (kind: string): Attributes => {
    let attributes = kindAttributes.get(kind);
    if (attributes === undefined) kindAttributes.set(kind, (attributes = { ...node, "troupe.actor.kind": kind }));
    return attributes;
  };
  const ofKindOrUnnamed = (kind: string | undefined): Attributes => ofKind(stats.kind(kind).kind);

  const counter = (name: string, unit: string, description: string) => meter.createObservableCounter(name, { unit, description });
  const upDown = (name: string, unit: string, description: string) => meter.createObservableUpDownCounter(name, { unit, description });
  const i = {
    sent: counter(SEMCONV.sent, "{message}", "Messages this node sent to other nodes over NATS"),
    consumed: counter(SEMCONV.consumed, "{message}", "Messages this node received from other nodes over NATS"),
    received: counter("troupe.actor.messages.received", "{message}", "Messages put in the mailboxes of actors of this kind"),
    processed: counter("troupe.actor.messages.processed", "{message}", "Messages handled by actors of this kind"),
    failures: counter("troupe.actor.failures", "{failure}", "Handlers of this kind that threw or rejected"),
    restarts: counter("troupe.actor.restarts", "{restart}", "Restarts of actors of this kind"),
    actors: upDown("troupe.actors", "{actor}", "Live actors of this kind"),
    depth: upDown("troupe.actor.mailbox.depth", "{message}", "Messages waiting in the mailboxes of actors of this kind, together"),
    maxDepth: meter.createObservableGauge("troupe.actor.mailbox.max_depth", { unit: "{message}", description: "The longest mailbox among actors of this kind" }),
    decisions: counter("troupe.supervision.decisions", "{decision}", "Supervisors' decisions about failed children of this kind"),
    deadLetters: counter("troupe.dead_letters", "{message}", "Messages that could not be delivered, by reason"),
    asks: counter("troupe.asks", "{ask}", "Asks made by this node that ended, by outcome"),
    asksPending: upDown("troupe.asks.pending", "{ask}", "Asks waiting for their reply"),
    nodes: upDown("troupe.nodes", "{node}", "Live nodes of the system, as this node's membership sees them"),
    tasks: counter("troupe.job.tasks", "{task}", "Tasks of jobs run from this node, by outcome (done, failed: set aside, retried: handed out again)"),
    tasksInFlight: upDown("troupe.job.tasks.in_flight", "{task}", "Tasks handed out and not yet durable"),
    jobs: upDown("troupe.jobs.active", "{job}", "Jobs running from this node"),
    cacheAsks: counter("troupe.cache.asks", "{ask}", "Asks answered through a router's or service's result cache, by outcome (hit, miss, wait, bypass: store unavailable, failure: a Failure reply, not stored)"),
    cacheSaved: counter("troupe.cache.saved_time", "s", "Computing time that asks answered from a router's or service's result cache did not spend"),
    ignoredTraceContexts: counter("troupe.trace_context.ignored", "{message}", "Messages from other nodes whose binary trace context was malformed (wrong length or layout, an all-zero id): processed as if they carried none"),
    storeWrites: counter("troupe.store.writes", "{write}", "State-store writes by reducers on this node, by outcome (conflict: a generation precondition failed, HTTP 412)"),
  };

  const callback: BatchObservableCallback = (result) => {
    result.observe(i.sent, stats.sent, { ...nats, "messaging.operation.name": "send" });
    result.observe(i.consumed, stats.consumed, { ...nats, "messaging.operation.name": "receive" });
    result.observe(i.ignoredTraceContexts, stats.ignoredTraceContexts, node);
    for (const kind of stats.kinds.values()) {
      const attributes = ofKind(kind.kind);
      result.observe(i.received, kind.received, attributes);
      result.observe(i.processed, kind.processed, attributes);
      result.observe(i.failures, kind.failed, attributes);
      result.observe(i.restarts, kind.restarts, attributes);
    }
    observeActors(system, ofKindOrUnnamed, (attributes, actors, depth, maxDepth) => {
      result.observe(i.actors, actors, attributes);
      result.observe(i.depth, depth, attributes);
      result.observe(i.maxDepth, maxDepth, attributes);
    });
    for (const d of stats.decisions.values()) result.observe(i.decisions, d.count, { ...ofKind(d.kind), "troupe.supervision.directive": d.directive });
    for (const [reason, count] of Object.entries(system.deadLetters.byReason())) result.observe(i.deadLetters, count ?? 0, { ...node, "troupe.dead_letter.reason": reason });
    let ended = 0;
    for (const [outcome, count] of stats.asks.outcomes) {
      ended += count;
      result.observe(i.asks, count, { ...node, "troupe.ask.outcome": outcome });
    }
    result.observe(i.asksPending, stats.asks.started - ended, node);
    result.observe(i.nodes, system.nodes().length, node);
    observeJobs(stats, node, (instrument, value, attributes) => result.observe(i[instrument], value, attributes));
    for (const [owner, cache] of stats.caches) {
      for (const [outcome, count] of cache.outcomes) result.observe(i.cacheAsks, count, { ...node, "troupe.cache.owner": owner, "troupe.cache.outcome": outcome });
      result.observe(i.cacheSaved, cache.savedMs / 1000, { ...node, "troupe.cache.owner": owner });
    }
    for (const [outcome, count] of stats.storeWrites) result.observe(i.storeWrites, count, { ...node, "troupe.store.write.outcome": outcome });
  };
  const observables: Observable[] = Object.values(i);
  meter.addBatchObservableCallback(callback, observables);
  const removeHistograms = addHistogramSource({ startedAtMs: Date.now(), points: () => histogramPoints(stats, ofKind, node) });
  return () => {
    meter.removeBatchObservableCallback(callback, observables);
    removeHistograms();
  };
}

/** Actors, mailbox depth and the longest mailbox per kind, in one pass over the node's actors. */
function observeActors(system: MeteredNode, ofKind: (kind: string | undefined) => Attributes, observe: (attributes: Attributes, actors: number, depth: number, maxDepth: number) => void): void {
  const byKind = new Map<Attributes, { actors: number; depth: number; max: number }>();
  system.forEachActor((kind, size) => {
    const attributes = ofKind(kind);
    const figures = byKind.get(attributes);
    if (figures === undefined) byKind.set(attributes, { actors: 1, depth: size, max: size });
    else {
      figures.actors++;
      figures.depth += size;
      if (size > figures.max) figures.max = size;
    }
  });
  for (const [attributes, f] of byKind) observe(attributes, f.actors, f.depth, f.max);
}

function observeJobs(stats: NodeStats, node: Attributes, observe: (instrument: "tasks" | "tasksInFlight" | "jobs", value: number, attributes: Attributes) => void): void {
  const totals = { ...stats.jobsEnded };
  let inFlight = 0;
  for (const job of stats.jobs.values()) {
    totals.done += job.done;
    totals.failed += job.failed;
    totals.retried += job.retried;
    inFlight += job.inFlight;
  }
  for (const outcome of ["done", "failed", "retried"] as const) observe("tasks", totals[outcome], { ...node, "troupe.task.outcome": outcome });
  observe("tasksInFlight", inFlight, node);
  observe("jobs", stats.jobs.size, node);
}

function* histogramPoints(stats: NodeStats, ofKind: (kind: string) => Attributes, node: Attributes): Iterable<HistogramPoint> {
  for (const kind of stats.kinds.values()) {
    yield {
      name: SEMCONV.processDuration,
      description: "Time actors of this kind took per message (a synchronous turn timed whole, at its mean)",
      unit: "s",
      attributes: { ...ofKind(kind.kind), "messaging.system": "nats", "messaging.operation.name": "process" },
      histogram: kind.processing,
    };
  }
  yield { name: "troupe.ask.duration", description: "Time from an ask to its reply, failure or timeout", unit: "s", attributes: node, histogram: stats.asks.duration };
}
