import type { ActorSystem } from "../../runtime/index.js";
import { Append, Appended, Ledger, Read, ledgerEntity } from "../fixtures/entity-ledger.js";

/** How long a loop waits after a failed ask before its next one. */
const FAILURE_PAUSE_MS = 20;

/** One Append as the test sent it, and how its ask ended. */
export interface SentOp {
  readonly op: number;
  readonly key: string;
  /** When the ask was sent (Date.now()). */
  readonly sentAtMs: number;
  outcome: "pending" | "ok" | "failed";
  /** For a failed ask: the error's name and reason, e.g. `AskFailedError fenced`, `AskTimeoutError`. */
  failure?: string;
  /** For an acknowledged ask: the node whose copy applied it. */
  answeredBy?: string;
  /** Asks made for this op: more than one when it was retried (with its idempotency key). */
  attempts: number;
}

/**
 * Steady ask traffic to ledger entities: `concurrency` loops per client node, each sending one Append
 * at a time (a unique op id) to the keys in turn, and recording how every ask ended. Every op is in
 * `ops` from the moment it is sent, so a check can tell acknowledged, failed and unsettled ones apart.
 */
export class LedgerTraffic {
  readonly ops = new Map<number, SentOp>();
  /** Asks that failed and were retried, by what they failed with. */
  readonly retried: Record<string, number> = {};
  private nextOp = 1;
  private running = false;
  /** Asks by outcome, kept as they settle: tests poll these every few ms, so no walk over every op. */
  private readonly outcomes: Record<SentOp["outcome"], number> = { pending: 0, ok: 0, failed: 0 };
  /** Per key, when the latest acknowledged op to it was sent. */
  private readonly lastAckedSentAt = new Map<string, number>();
  private loops: Promise<void>[] = [];

  /**
   * `retries` > 0: an op whose ask fails is asked again, up to that many times, with the idempotency
   * key `op-<op>` on every attempt (the entity applies it once and repeats the first reply).
   */
  constructor(
    private readonly clients: readonly ActorSystem[],
    private readonly keys: readonly string[],
    private readonly askTimeoutMs: number,
    private readonly retries = 0,
  ) {}

  /**
   * Activates every key with a Read (`concurrency` at a time): each owner loads its entities from the
   * store, and nothing is written (the traffic's Appends write them). Resolves with how many answered.
   */
  async activateAll(concurrency: number): Promise<number> {
    let next = 0;
    let answered = 0;
    const worker = async (w: number): Promise<void> => {
      for (let i = next++; i < this.keys.length; i = next++) {
        await this.clients[w % this.clients.length]!.entityRef(ledgerEntity, this.keys[i]!).ask(Read.create(), Ledger, { timeoutMs: this.askTimeoutMs }).then(
          () => answered++,
          () => undefined,
        );
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
    return answered;
  }

  /** Starts `concurrencyPerClient` loops on each client; they run until `stop()`. */
  start(concurrencyPerClient: number): void {
    this.running = true;
    const loops = this.clients.length * concurrencyPerClient;
    // Loop i takes keys i, i + loops, i + 2 * loops, ...: every key gets traffic, evenly.
    for (let i = 0; i < loops; i++) {
      const client = this.clients[i % this.clients.length]!;
      this.loops.push(
        (async () => {
          for (let k = i; this.running; k += loops) await this.send(client, this.keys[k % this.keys.length]!);
        })(),
      );
    }
  }

  /** Stops sending; resolves once every ask sent has settled, or rejects after `withinMs`. */
  async stop(withinMs: number): Promise<void> {
    this.running = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`asks still unsettled ${withinMs} ms after the traffic stopped: ${this.count("pending")} of ${this.ops.size}`)), withinMs);
    });
    try {
      await Promise.race([Promise.all(this.loops), deadline]);
    } finally {
      clearTimeout(timer);
      this.loops = [];
    }
  }

  count(outcome: SentOp["outcome"]): number {
    return this.outcomes[outcome];
  }

  /** Failed asks by what they failed with. */
  failures(): Record<string, number> {
    const byKind: Record<string, number> = {};
    for (const op of this.ops.values()) if (op.failure !== undefined) byKind[op.failure] = (byKind[op.failure] ?? 0) + 1;
    return byKind;
  }

  /** How many keys have an acknowledged op that was sent at or after `sinceMs`. */
  keysAckedSince(sinceMs: number): number {
    let n = 0;
    for (const sentAt of this.lastAckedSentAt.values()) if (sentAt >= sinceMs) n++;
    return n;
  }

  /** Nodes that acknowledged asks sent at or after `sinceMs`, with how many. */
  answeredSince(sinceMs: number): Record<string, number> {
    const byNode: Record<string, number> = {};
    for (const op of this.ops.values()) if (op.outcome === "ok" && op.sentAtMs >= sinceMs) byNode[op.answeredBy!] = (byNode[op.answeredBy!] ?? 0) + 1;
    return byNode;
  }

  private settle(sent: SentOp, outcome: "ok" | "failed"): void {
    this.outcomes[sent.outcome]--;
    this.outcomes[outcome]++;
    sent.outcome = outcome;
  }

  private async send(client: ActorSystem, key: string): Promise<void> {
    const sent: SentOp = { op: this.nextOp++, key, sentAtMs: Date.now(), outcome: "pending", attempts: 0 };
    this.ops.set(sent.op, sent);
    this.outcomes.pending++;
    const options = { timeoutMs: this.askTimeoutMs, ...(this.retries > 0 ? { idempotencyKey: `op-${sent.op}` } : {}) };
    for (;;) {
      sent.attempts++;
      try {
        const answer = await client.entityRef(ledgerEntity, key).ask(Append.create({ op: sent.op }), Appended, options);
        this.settle(sent, "ok");
        sent.failure = undefined;
        sent.answeredBy = answer.node;
        if (sent.sentAtMs > (this.lastAckedSentAt.get(key) ?? -1)) this.lastAckedSentAt.set(key, sent.sentAtMs);
        return;
      } catch (error) {
        const { name, reason } = error as { name?: string; reason?: string };
        sent.failure = [name ?? "Error", reason].filter(Boolean).join(" ");
        // A pause after a failure: asks that fail at once (no owner known, a client stopping) must not spin the event loop.
        await new Promise((resolve) => setTimeout(resolve, FAILURE_PAUSE_MS));
        if (sent.attempts > this.retries) {
          this.settle(sent, "failed");
          return;
        }
        this.retried[sent.failure] = (this.retried[sent.failure] ?? 0) + 1;
      }
    }
  }
}

/**
 * What is wrong with the stored ledgers, given what was sent: an acknowledged op missing, an op
 * applied twice, an op in a ledger it was not sent to, an op that is unknown or whose ask never
 * settled, a key with no ledger. Empty when the stored state is exactly the acknowledged ops plus
 * some of the failed ones (a failed ask may have taken effect: its write landed and the answer was
 * lost, or its copy was fenced after a write in doubt landed).
 */
export function ledgerViolations(keys: readonly string[], ledgers: ReadonlyMap<string, readonly number[]>, ops: ReadonlyMap<number, SentOp>): string[] {
  const violations: string[] = [];
  for (const key of keys) {
    const ledger = ledgers.get(key);
    if (ledger === undefined) {
      violations.push(`${key}: no stored ledger`);
      continue;
    }
    const seen = new Set<number>();
    for (const op of ledger) {
      const sent = ops.get(op);
      if (seen.has(op)) violations.push(`${key}: op ${op} applied twice`);
      else if (sent === undefined) violations.push(`${key}: op ${op} was never sent`);
      else if (sent.key !== key) violations.push(`${key}: op ${op} was sent to ${sent.key}`);
      else if (sent.outcome === "pending") violations.push(`${key}: op ${op} is stored but its ask never settled`);
      seen.add(op);
    }
  }
  for (const sent of ops.values()) {
    if (sent.outcome === "ok" && !ledgers.get(sent.key)?.includes(sent.op)) violations.push(`${sent.key}: acknowledged op ${sent.op} is missing`);
  }
  return violations;
}
