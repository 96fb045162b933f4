import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Frame } from "../../runtime/codec/wire-types.js";
import type { SeededRandom } from "./seeded-random.js";

const TASK_RESULT = "troupe.work.TaskResult";

/**
 * Duplicates results the way a network or a zombie would: a plain NATS client (no Troupe node)
 * listens on the reducer's node inbox beside the node, and while switched on re-publishes a share of
 * the `troupe.work.TaskResult` envelopes it sees there, byte for byte (same sender, same `ack_to`),
 * some at once and some later, when the original is already durable.
 */
export class ResultDuplicator {
  /** Copies published so far. */
  sent = 0;
  private active = false;
  private share = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly connection: NatsConnection,
    private readonly subject: string,
    private readonly random: SeededRandom,
  ) {
    connection.subscribe(subject, { callback: (error, msg) => (error ? undefined : this.onFrame(msg.data)) });
  }

  /** `servers`: where the raw client connects (pick another server than the reducer's node uses). */
  static async start(servers: string[], inbox: string, random: SeededRandom): Promise<ResultDuplicator> {
    const connection = await connect({ servers, name: "chaos duplicator", maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const duplicator = new ResultDuplicator(connection, inbox, random);
    await connection.flush();
    return duplicator;
  }

  /**
   * Duplicates for `ms`, each result with probability `share`, and longer (up to `ms` + 10 s) until at
   * least one copy was sent: a window that fell on a stall (its server restarting, no results flowing)
   * would otherwise inject nothing. Resolves when the window closes.
   */
  async duplicateFor(ms: number, share: number): Promise<void> {
    const before = this.sent;
    const until = Date.now() + ms;
    this.share = share;
    this.active = true;
    await new Promise((resolve) => setTimeout(resolve, ms));
    while (this.sent === before && Date.now() < until + 10_000) await new Promise((resolve) => setTimeout(resolve, 100));
    this.active = false;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.connection.close();
  }

  private onFrame(data: Uint8Array): void {
    if (!this.active) return;
    let envelopes;
    try {
      envelopes = Frame.decode(data).envelopes;
    } catch {
      return;
    }
    for (const envelope of envelopes) {
      if (envelope.type !== TASK_RESULT || !this.random.chance(this.share)) continue;
      const copy = Frame.encode({ envelopes: [envelope] }).finish();
      const copies = this.random.between(1, 2);
      for (let i = 0; i < copies; i++) {
        // Half at once (the original may still be pending), half 0.5-3 s later (it is durable by then).
        const delayMs = this.random.chance(0.5) ? 0 : this.random.between(500, 3_000);
        this.sent++;
        if (delayMs === 0) this.publish(copy);
        else {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            this.publish(copy);
          }, delayMs);
          this.timers.add(timer);
        }
      }
    }
  }

  private publish(bytes: Uint8Array): void {
    if (!this.connection.isClosed()) this.connection.publish(this.subject, bytes);
  }
}
