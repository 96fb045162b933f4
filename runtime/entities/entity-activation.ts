import type { ActorRef } from "../actor-ref.js";
import type { Cancel } from "../actor-context.js";
import type { Clock, TimerHandle } from "../clock.js";
import { GenerationConflictError, type Expected, type StateStore } from "../state/state-store.js";
import type { EntityContext } from "./entity-context.js";
import type { EntityDefinition } from "./entity-definition.js";
import type { EntityRef } from "./entity-ref.js";

/** One message for an entity, as it arrived on this node. */
export interface Mail {
  readonly message: object;
  readonly sender: ActorRef<any> | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
}

/** What an activation needs from its node. */
export interface ActivationHost {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly store: StateStore;
  /** `<prefix>/<kind>/<key>` */
  readonly storeKey: string;
  /** At most one write per this long (GCS takes about one write per second per object); 0 = as soon as the last lands. */
  readonly writeEveryMs: number;
  readonly self: EntityRef<any>;
  /** This copy's own address, the sender of what it tells. */
  readonly address: ActorRef<any>;
  /** In whose name a reply to `mail` goes: the address its asker asked. */
  replyAs(mail: Mail): ActorRef<any>;
  isAsk(mail: Mail): boolean;
  failAsk(mail: Mail, reason: "fenced" | "handler-failed" | "unhandled" | "activation-failed", detail: string): void;
  /** Sends mail on to the owner this node computes now. */
  forward(mail: readonly Mail[]): void;
  /** This copy lost its generation; `detail` says what became of its mail. */
  fenced(detail: string): void;
  /** This copy is gone from memory (passivated, moved or fenced). */
  retired(activation: EntityActivation): void;
}

/** Messages processed since the last write began, and what their handlers sent, held until it lands. */
interface Batch {
  readonly mail: Mail[];
  readonly outputs: (() => void)[];
}

/** How long after a write failed for another reason than its precondition its outcome is looked up (and again, while the store fails). */
const WRITE_RETRY_MS = 1_000;

/**
 * One live copy of an entity on this node: loads the state with its generation, processes messages one
 * at a time, writes each changed state with the generation it read as the precondition and only then
 * lets the handlers' replies and tells out. Messages processed while a write is in flight go out
 * together in the next write. A write that fails its precondition means another copy wrote: this one
 * stops at once, sends nothing it held, and forwards its mail.
 */
export class EntityActivation {
  private state: any;
  private expected: Expected = "absent";
  private loaded = false;
  private running = false;
  private readonly inbox: Mail[] = [];
  private pending: Batch = { mail: [], outputs: [] };
  private changed = false;
  private inFlight: Batch | undefined;
  private idleTimer: TimerHandle | undefined;
  /** A write waiting for its turn (`writeEveryMs`) or for a retry. */
  private writeTimer: Cancel | undefined;
  private lastWriteAtMs = Number.NEGATIVE_INFINITY;
  private moving = false;
  private stopped = false;
  private readonly quietWaiters: (() => void)[] = [];
  /** Writes that landed, for tests and stats. */
  writes = 0;

  constructor(
    readonly key: string,
    readonly definition: EntityDefinition,
    private readonly host: ActivationHost,
  ) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  enqueue(mail: Mail): void {
    if (this.stopped) return this.host.forward([mail]);
    this.inbox.push(mail);
    this.touch();
    void this.run();
  }

  /** Leaves memory as soon as the work in hand is durable (its key now belongs to another node). */
  moveAway(): void {
    this.moving = true;
    this.afterWork();
  }

  /** Resolves once nothing is left to write or send; then leaves memory. */
  passivate(): Promise<void> {
    this.moving = true;
    const quiet = new Promise<void>((resolve) => this.quietWaiters.push(resolve));
    this.afterWork();
    return quiet;
  }

  private get quiet(): boolean {
    return !this.running && this.inbox.length === 0 && this.inFlight === undefined && !this.changed && this.pending.outputs.length === 0;
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (!this.loaded && !(await this.load())) return;
      while (this.inbox.length > 0 && !this.stopped) {
        await this.process(this.inbox.shift()!);
        this.maybeWrite();
      }
    } finally {
      this.running = false;
    }
    this.afterWork();
  }

  private async load(): Promise<boolean> {
    try {
      const stored = await this.host.store.read(this.host.storeKey);
      this.state = stored === undefined ? this.definition.initial(this.key) : this.definition.stateType.decode(stored.bytes);
      this.expected = stored === undefined ? "absent" : { generation: stored.generation };
      this.loaded = true;
      return true;
    } catch (error) {
      // Nothing was processed: every asker learns why, and the next message tries again with a new copy.
      this.stop();
      const detail = `could not load ${this.host.storeKey}: ${(error as Error).message}`;
      for (const mail of this.inbox.splice(0)) this.host.failAsk(mail, "activation-failed", detail);
      return false;
    }
  }

  private async process(mail: Mail): Promise<void> {
    const batch = this.pending;
    batch.mail.push(mail);
    const handler = this.definition.handlers.get(mail.message.constructor);
    if (handler === undefined) {
      batch.outputs.push(() => this.host.failAsk(mail, "unhandled", `entity kind ${this.definition.kind} has no handler for ${mail.message.constructor.name}`));
      return;
    }
    try {
      const next = await handler(this.state, mail.message, this.contextFor(mail, batch));
      if (next !== undefined && next !== this.state && !this.stopped) {
        this.state = next;
        this.changed = true;
      }
    } catch (error) {
      batch.outputs.push(() => this.host.failAsk(mail, "handler-failed", `entity ${this.definition.kind}/${this.key}: ${(error as Error).message}`));
    }
  }

  private contextFor(mail: Mail, batch: Batch): EntityContext<any> {
    const { host } = this;
    return {
      kind: this.definition.kind,
      key: this.key,
      self: host.self,
      sender: mail.sender,
      headers: mail.headers,
      clock: host.clock,
      nodeId: host.nodeId,
      reply: (message) => {
        const to = mail.sender;
        if (to !== undefined) batch.outputs.push(() => to.tell(message, host.replyAs(mail)));
      },
      tell: (target, message) => {
        batch.outputs.push(() => (target as ActorRef<any>).tell(message, host.address));
      },
    };
  }

  /** Starts the next write if one is due; releases held output at once when nothing it saw is unwritten. */
  private maybeWrite(): void {
    if (this.stopped || this.inFlight !== undefined) return;
    if (!this.changed) {
      this.release(this.pending);
      this.pending = { mail: [], outputs: [] };
      return;
    }
    if (this.writeTimer !== undefined) return;
    const waitMs = this.lastWriteAtMs + this.host.writeEveryMs - this.host.clock.now();
    if (waitMs > 0) return this.writeLater(waitMs);
    this.lastWriteAtMs = this.host.clock.now();
    const batch = this.pending;
    this.pending = { mail: [], outputs: [] };
    this.changed = false;
    this.inFlight = batch;
    const bytes = this.definition.stateType.encode(this.state).finish();
    this.host.store.write(this.host.storeKey, bytes, this.expected).then(
      (generation) => {
        if (this.stopped) return;
        this.expected = { generation };
        this.inFlight = undefined;
        this.writes++;
        this.release(batch);
        this.maybeWrite();
        this.afterWork();
      },
      (error: unknown) => {
        if (this.stopped) return;
        if (error instanceof GenerationConflictError) {
          this.inFlight = undefined;
          return this.fence(batch, error);
        }
        // The store failed otherwise (unreachable, timed out): the write may or may not have landed.
        // Keep the batch in flight and find out before anything is sent or written again.
        this.host.clock.setTimeout(() => this.settleDoubt(batch, bytes), WRITE_RETRY_MS);
      },
    );
  }

  /** After a write whose outcome is unknown: landed (our bytes are there), not landed (retry), or another copy wrote (fence). */
  private settleDoubt(batch: Batch, bytes: Uint8Array): void {
    if (this.stopped) return;
    const expected = this.expected;
    this.host.store.read(this.host.storeKey).then(
      (stored) => {
        if (this.stopped) return;
        this.inFlight = undefined;
        const untouched = expected === "absent" ? stored === undefined : stored?.generation === expected.generation;
        if (untouched) {
          this.pending = { mail: [...batch.mail, ...this.pending.mail], outputs: [...batch.outputs, ...this.pending.outputs] };
          this.changed = true;
        } else if (stored !== undefined && sameBytes(stored.bytes, bytes)) {
          this.expected = { generation: stored.generation };
          this.writes++;
          this.release(batch);
        } else {
          return this.fence(batch, new GenerationConflictError(this.host.storeKey, expected, "another copy wrote while this copy's write was in doubt"));
        }
        this.maybeWrite();
        this.afterWork();
      },
      () => this.host.clock.setTimeout(() => this.settleDoubt(batch, bytes), WRITE_RETRY_MS),
    );
  }

  private writeLater(delayMs: number): void {
    const timer = this.host.clock.setTimeout(() => {
      this.writeTimer = undefined;
      this.maybeWrite();
    }, delayMs);
    this.writeTimer = () => this.host.clock.clearTimeout(timer);
  }

  private release(batch: Batch): void {
    for (const send of batch.outputs) {
      try {
        send();
      } catch {
        // A reply or tell that cannot be sent (unregistered type, too large) is the handler's loss, not the entity's.
      }
    }
    batch.outputs.length = 0;
  }

  /**
   * Another copy wrote: nothing this copy held goes out. Askers whose effect was in the rejected write
   * get a Failure `fenced`; every other message (tells in it, and all mail not yet written) moves on to
   * the owner, where it is processed against the state that did commit.
   */
  private fence(batch: Batch, error: GenerationConflictError): void {
    this.stop();
    const onward: Mail[] = [];
    let failed = 0;
    for (const mail of batch.mail) {
      if (this.host.isAsk(mail)) {
        failed++;
        this.host.failAsk(mail, "fenced", `the copy of ${this.definition.kind}/${this.key} on node ${this.host.nodeId} lost its generation to another copy; this ask's effect was not confirmed (see docs/entities.md, Fencing)`);
      } else onward.push(mail);
    }
    onward.push(...this.pending.mail, ...this.inbox.splice(0));
    this.pending = { mail: [], outputs: [] };
    this.host.fenced(`${error.message}: the copy of ${this.definition.kind}/${this.key} on node ${this.host.nodeId} stopped; ${failed} ask(s) failed "fenced", ${onward.length} message(s) forwarded to the owner`);
    this.host.forward(onward);
  }

  private touch(): void {
    if (this.idleTimer !== undefined) this.host.clock.clearTimeout(this.idleTimer);
    this.idleTimer = this.host.clock.setTimeout(() => {
      this.idleTimer = undefined;
      if (this.quiet) this.stop();
      else this.touch();
    }, this.definition.idleMs);
  }

  private afterWork(): void {
    if (!this.quiet) return;
    if (this.moving) this.stop();
    if (this.stopped) for (const resolve of this.quietWaiters.splice(0)) resolve();
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.idleTimer !== undefined) this.host.clock.clearTimeout(this.idleTimer);
    this.writeTimer?.();
    this.host.retired(this);
    for (const resolve of this.quietWaiters.splice(0)) resolve();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
