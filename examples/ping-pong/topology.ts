import { defineTopology } from "../../runtime/index.js";
import { GetStats, Ping, Pong, Stats } from "./messages.js";
import { player } from "./player.js";

/** Pings told to each worker; Pongs come back to the coordinator's player via the ref inside each Ping. */
const PINGS_PER_WORKER = 2_000;
/** Sequential asks per worker, to show round-trip latency. */
const ASKS_PER_WORKER = 200;

/**
 * The smallest complete topology: a "player" actor on every worker node, and one on the coordinator.
 * The coordinator tells each worker's player a run of Pings carrying a ref to its own player; the
 * Pongs flow back to that ref. Then it asks each worker a few hundred times in sequence.
 */
export default defineTopology({
  name: "ping-pong",
  description: "players on every worker node exchange Pings and Pongs with the coordinator",
  types: [Ping, Pong, GetStats, Stats],

  worker(system) {
    system.spawn(player, { name: "player" });
  },

  async main({ system, workers, log }) {
    const home = system.spawn(player, { name: "player" });
    const remotes = workers.map((node) => system.refFor<Ping | InstanceType<typeof GetStats>>({ system: system.name, node, path: "/user/player" }));

    for (const [i, remote] of remotes.entries()) {
      for (let seq = 1; seq <= PINGS_PER_WORKER; seq++) remote.tell(Ping.create({ seq, replyTo: home.address }));
      log(`told ${PINGS_PER_WORKER} Pings to ${workers[i]}`);
    }

    const latenciesUs: number[] = [];
    for (const remote of remotes) {
      for (let seq = 1; seq <= ASKS_PER_WORKER; seq++) {
        const started = process.hrtime.bigint();
        const pong = await remote.ask(Ping.create({ seq }), Pong);
        latenciesUs.push(Number(process.hrtime.bigint() - started) / 1_000);
        if (pong.seq !== seq) throw new Error(`asked Ping ${seq} but got Pong ${pong.seq}`);
      }
    }

    // Each worker handles our Pings in order and publishes its Pongs before its Stats reply; the home
    // player's mailbox is FIFO, so once both asks below return, every Pong has been counted.
    const workerStats = await Promise.all(remotes.map((r) => r.ask(GetStats.create(), Stats)));
    const homeStats = await home.ask(GetStats.create(), Stats);
    const expectedPongs = PINGS_PER_WORKER * workers.length;
    const verified =
      homeStats.pongs === expectedPongs &&
      homeStats.outOfOrder === 0 &&
      workerStats.every((s) => s.pings === PINGS_PER_WORKER + ASKS_PER_WORKER);

    latenciesUs.sort((a, b) => a - b);
    const p50 = percentile(latenciesUs, 0.5);
    const p99 = percentile(latenciesUs, 0.99);
    return {
      tasks: (PINGS_PER_WORKER + ASKS_PER_WORKER) * workers.length,
      state: null,
      verified,
      summary: [
        ...workerStats.map((s) => `  ${s.node.padEnd(24)} pings handled ${String(s.pings).padStart(6)}`),
        `  ${system.nodeId.padEnd(24)} pongs received ${String(homeStats.pongs).padStart(5)} (expected ${expectedPongs}), out of order ${homeStats.outOfOrder}`,
        `  ask round trip over NATS: p50 ${p50.toFixed(0)} µs, p99 ${p99.toFixed(0)} µs (${latenciesUs.length} asks)`,
      ],
      details: { pongs: homeStats.pongs, expectedPongs, outOfOrder: homeStats.outOfOrder, askP50Us: p50, askP99Us: p99 },
    };
  },
});

function percentile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

