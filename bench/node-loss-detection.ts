import { ActorSystem, DEFAULT_FAILURE_TIMEOUT_MS, connectNats } from "../runtime/index.js";
import { startWorker } from "../runtime/cli/worker-processes.js";
import { within, type Benchmark } from "./benchmark.js";
import { median, nowMs } from "./stats.js";

/**
 * Time to detect a lost node: a real `troupe node` process is killed with SIGKILL and an observer node
 * (this process) waits for its membership to report it lost. Baseline: the configured failure timeout,
 * the least any heartbeat detector with that timeout can take; the ratio shows what the check period
 * and the machine add on top.
 */
export const nodeLossDetection: Benchmark = {
  name: "node-loss-detection",
  async run(ctx) {
    const { nats } = await ctx.remote();
    const observer = await ActorSystem.start({ name: "bench-loss", nodeId: "observer", transport: await connectNats({ servers: nats.url }) });
    const samples: number[] = [];
    try {
      const rounds = ctx.quick ? 2 : ctx.reps;
      for (let round = 1; round <= rounds; round++) {
        const nodeId = `victim-${round}`;
        const worker = await startWorker({ system: "bench-loss", nodeId, servers: [nats.url], log: () => undefined });
        await within(until(() => observer.nodes().some((n) => n.node === nodeId)), 10_000, () => `${nodeId} joining`);
        let lostAt = 0;
        const off = observer.onEvent((e) => {
          if (e.type === "membership" && e.event.type === "lost" && e.event.node.node === nodeId) lostAt = nowMs();
        });
        const killedAt = nowMs();
        worker.child.kill("SIGKILL");
        await within(until(() => lostAt > 0), 10_000, () => `${nodeId} being noticed as lost`);
        off();
        await worker.stop();
        samples.push(lostAt - killedAt);
        ctx.log(`  node-loss-detection: round ${round}/${rounds}: ${Math.round(lostAt - killedAt)} ms`);
      }
    } finally {
      await observer.shutdown();
    }
    return [
      {
        name: "node-loss-detection",
        value: median(samples),
        unit: "ms",
        baseline: "configured failure timeout",
        baselineValue: DEFAULT_FAILURE_TIMEOUT_MS,
        target: { op: "<=", value: 3_000 },
      },
    ];
  },
};

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}
