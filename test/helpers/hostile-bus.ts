import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { ActorSystem, connectNats, type ActorRef, type EmbeddedNats, type MessagesOf } from "../../runtime/index.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { counter } from "../fixtures/counter.js";

/**
 * The scene of a hostile-client test: a victim node hosting a counter, a legitimate caller node that
 * asks it, and a raw nats.js connection that plays the attacker (it may publish anything anywhere on
 * the system's subjects, as the documented "client" role can). Every attack test asserts the same
 * three things: the node keeps answering a legitimate ask within `LEGIT_ASK_MS` during the attack, its
 * memory stays under a stated bound, and nothing a legitimate caller was promised is lost.
 */
export interface HostileScene {
  readonly system: string;
  readonly victim: ActorSystem;
  readonly caller: ActorSystem;
  /** The victim's counter, as the caller sees it. */
  readonly target: ActorRef<MessagesOf<typeof counter>>;
  readonly attacker: NatsConnection;
  close(): Promise<void>;
}

/** A legitimate ask must be answered this fast while an attack goes on. */
export const LEGIT_ASK_MS = 500;

export async function hostileScene(nats: EmbeddedNats, system = `hostile-${Math.random().toString(36).slice(2, 8)}`): Promise<HostileScene> {
  const victim = await ActorSystem.start({ name: system, nodeId: "victim", transport: await connectNats({ servers: nats.url }), types: [Ping, GetStats, Stats] });
  const caller = await ActorSystem.start({ name: system, nodeId: "caller", transport: await connectNats({ servers: nats.url }), types: [Ping, GetStats, Stats] });
  const local = victim.spawn(counter, { name: "counter" });
  const target = caller.refFor<MessagesOf<typeof counter>>(local.address);
  const attacker = await connect({ servers: nats.url, name: "attacker" });
  return {
    system,
    victim,
    caller,
    target,
    attacker,
    async close() {
      await attacker.close();
      await caller.shutdown();
      await victim.shutdown();
    },
  };
}

/** Asks the victim's counter once and fails unless the answer comes within `withinMs`. */
export async function legitimateAsk(scene: HostileScene, withinMs = LEGIT_ASK_MS): Promise<Stats> {
  const started = performance.now();
  const stats = await scene.target.ask(GetStats.create(), Stats, { timeoutMs: withinMs });
  expect(performance.now() - started, "legitimate ask round trip (ms)").to.be.below(withinMs);
  return stats;
}

/**
 * Runs `attack` while asking the victim every `everyMs`; every ask must be answered in time. Returns
 * the number of legitimate asks answered during the attack (at least one, so the check really ran).
 */
export async function keepsAnsweringDuring(scene: HostileScene, attack: () => Promise<void>, everyMs = 50, withinMs = LEGIT_ASK_MS): Promise<number> {
  let answered = 0;
  let attacking = true;
  const asking = (async () => {
    while (attacking) {
      await legitimateAsk(scene, withinMs);
      answered++;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  try {
    await attack();
    await scene.attacker.flush();
    // One more round trip after the last attacking message reached the server.
    await legitimateAsk(scene, withinMs);
    answered++;
  } finally {
    attacking = false;
  }
  await asking;
  expect(answered, "legitimate asks answered during the attack").to.be.greaterThan(0);
  return answered;
}

/** Heap in use after a collection when the process has `--expose-gc`, else as it stands. */
export function heapUsedBytes(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}
