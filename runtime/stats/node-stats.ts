import { BucketHistogram } from "./bucket-histogram.js";
import { KindStats } from "./kind-stats.js";

/** The kind label of actors whose definition names none. */
export const UNNAMED_KIND = "unnamed";

/** How an ask ended. */
export type AskOutcome = "replied" | "failed" | "timed_out" | "not_sent" | "stopped";

/** A write to a state store and how it went (`conflict`: its generation precondition failed, a 412). */
export type StoreWriteOutcome = "written" | "conflict" | "failed";

/** What a job reported last (runJob's progress), for the job gauges. */
export interface JobFigures {
  readonly done: number;
  readonly failed: number;
  readonly retried: number;
  readonly inFlight: number;
}

/**
 * A node's counters for metrics: plain numbers the runtime bumps (only while metrics are on: a system
 * without them has none), read by the metrics module (runtime/metrics) when a reader collects. The
 * core never calls OpenTelemetry; this is all it does for metrics.
 */
export class NodeStats {
  readonly kinds = new Map<string, KindStats>();
  /** Envelopes published to other nodes over the transport. */
  sent = 0;
  /** Envelopes read from frames that arrived over the transport. */
  consumed = 0;
  /** Envelopes whose binary trace context was malformed, and ignored (remote-endpoint.ts). */
  ignoredTraceContexts = 0;
  /** Supervision decisions, by `<directive> <kind>`. */
  readonly decisions = new Map<string, { readonly directive: string; readonly kind: string; count: number }>();
  readonly asks = { started: 0, outcomes: new Map<AskOutcome, number>(), duration: new BucketHistogram() };
  readonly storeWrites = new Map<StoreWriteOutcome, number>();
  /** Jobs running on this node, by id, as last reported; and the totals of those that ended. */
  readonly jobs = new Map<string, JobFigures>();
  readonly jobsEnded = { done: 0, failed: 0, retried: 0, count: 0 };
  /** Asks answered through routers' and services' result caches, by `<owner>` then outcome; and the time they saved. */
  readonly caches = new Map<string, { readonly outcomes: Map<string, number>; savedMs: number }>();

  /** The counters of a kind (created on first use: kinds are few). */
  kind(name: string | undefined): KindStats {
    const kind = name ?? UNNAMED_KIND;
    let stats = this.kinds.get(kind);
    if (stats === undefined) this.kinds.set(kind, (stats = new KindStats(kind)));
    return stats;
  }

  decided(directive: string, kind: string | undefined): void {
    const key = `${directive} ${kind ?? UNNAMED_KIND}`;
    const entry = this.decisions.get(key);
    if (entry) entry.count++;
    else this.decisions.set(key, { directive, kind: kind ?? UNNAMED_KIND, count: 1 });
  }

  /** An ask ended, `ms` after it was opened. */
  askEnded(outcome: AskOutcome, ms: number): void {
    this.asks.outcomes.set(outcome, (this.asks.outcomes.get(outcome) ?? 0) + 1);
    this.asks.duration.add(ms / 1000);
  }

  /** An ask through the result cache of `owner` (`router /user/r`, `service echo`) ended as `outcome`. */
  cacheAnswered(owner: string, outcome: string, savedMs: number): void {
    let cache = this.caches.get(owner);
    if (cache === undefined) this.caches.set(owner, (cache = { outcomes: new Map(), savedMs: 0 }));
    cache.outcomes.set(outcome, (cache.outcomes.get(outcome) ?? 0) + 1);
    cache.savedMs += savedMs;
  }

  storeWrite(outcome: StoreWriteOutcome): void {
    this.storeWrites.set(outcome, (this.storeWrites.get(outcome) ?? 0) + 1);
  }

  jobProgress(id: string, figures: JobFigures): void {
    this.jobs.set(id, { done: figures.done, failed: figures.failed, retried: figures.retried, inFlight: figures.inFlight });
  }

  jobEnded(id: string, figures: JobFigures): void {
    this.jobs.delete(id);
    this.jobsEnded.done += figures.done;
    this.jobsEnded.failed += figures.failed;
    this.jobsEnded.retried += figures.retried;
    this.jobsEnded.count++;
  }
}
