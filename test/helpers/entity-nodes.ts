import { ActorSystem, MemoryNetwork, MemoryStore, type ActorSystemOptions, type StateStore } from "../../runtime/index.js";
import { ManualClock } from "../../runtime/testkit/index.js";
import { Total } from "../fixtures/entity-counter.js";
import { settle } from "./conditions.js";

/** What a test may set on a node beyond its id; the network, the clock and the system name come from the EntityNodes. */
export type EntityNodeOptions = Omit<ActorSystemOptions, "name" | "nodeId" | "transport" | "clock">;

/**
 * The setup of the entity system tests: one in-memory network, one manual clock, one store shared by every
 * node, and the nodes started on them. Make one in `beforeEach` and call `shutdown()` in `afterEach`.
 */
export class EntityNodes {
  readonly network = new MemoryNetwork();
  readonly clock: ManualClock;
  readonly shared = new MemoryStore();
  /** The running nodes by id: `shutdown()` stops them all; a test that stops one itself deletes it. */
  readonly nodes = new Map<string, ActorSystem>();

  constructor(
    private readonly name: string,
    clockStartMs?: number,
  ) {
    this.clock = new ManualClock(clockStartMs);
  }

  /** Starts a node without membership, so it owns what its placement says. */
  start(nodeId: string, options: EntityNodeOptions = {}): Promise<ActorSystem> {
    return this.startNode(nodeId, { membership: false, ...options });
  }

  /** Starts a node that joins the membership of the others on the network (heartbeats on the manual clock). */
  startMember(nodeId: string, options: Omit<EntityNodeOptions, "membership"> = {}): Promise<ActorSystem> {
    return this.startNode(nodeId, options);
  }

  private async startNode(nodeId: string, options: EntityNodeOptions): Promise<ActorSystem> {
    if (this.nodes.has(nodeId)) throw new Error(`node ${nodeId} is already running`);
    const node = await ActorSystem.start({ name: this.name, nodeId, transport: this.network.connect(nodeId), clock: this.clock, askTimeoutMs: 60_000, ...options });
    this.nodes.set(nodeId, node);
    return node;
  }

  node(nodeId: string): ActorSystem {
    const node = this.nodes.get(nodeId);
    if (node === undefined) throw new Error(`no node ${nodeId} is running`);
    return node;
  }

  /** The counter value stored under `key` in the shared store, or undefined before the first write. */
  async stored(key: string): Promise<number | undefined> {
    const object = await this.shared.read(key);
    return object && Total.decode(object.bytes).value;
  }

  /** The shared store with `write` in place of its own: a store that fails the way a network does. */
  sharedWith(write: StateStore["write"]): StateStore {
    const shared = this.shared;
    return { description: "flaky", read: (key) => shared.read(key), list: (prefix) => shared.list(prefix), close: () => shared.close(), write };
  }

  /** Moves the clock on a heartbeat (250 ms) at a time, letting messages flow between steps. */
  async elapse(ms: number): Promise<void> {
    for (let done = 0; done < ms; done += 250) {
      this.clock.advance(Math.min(250, ms - done));
      await settle();
    }
  }

  /** Moves the clock on until `condition` holds; fails after 10 s of heartbeats. */
  async elapseUntil(what: string, condition: () => boolean): Promise<void> {
    for (let ms = 0; !condition(); ms += 250) {
      if (ms > 10_000) throw new Error(`${what}: not after 10 s of heartbeats`);
      await this.elapse(250);
    }
  }

  shutdown(): Promise<void[]> {
    return Promise.all([...this.nodes.values()].map((n) => n.shutdown()));
  }
}
