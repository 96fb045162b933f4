import { Ack, blob, type Blob } from "./messages.js";
import { rotate, within, type Benchmark } from "./benchmark.js";
import { ECHO_NAME } from "./peer-protocol.js";
import { askConcurrently, askers } from "./remote-ask.js";
import { median } from "./stats.js";

const IN_FLIGHT = 64;

/**
 * Asks to the echo service the peer process serves (a NATS request on its queue-group subject, answered
 * on the reply subject), 64 in flight. Baselines, in the same rounds: direct remote asks to the peer's
 * echo actor, and plain nats.js request/reply (what a service ask is built on), 64 in flight each.
 */
export const serviceAsk: Benchmark = {
  name: "service-ask-64",
  async run(ctx) {
    const env = await ctx.remote();
    const { troupe: direct, raw } = askers(env);
    const service = env.system.serviceRef<Blob>(ECHO_NAME);
    const viaService = (seq: number): Promise<Ack> => service.ask(blob(seq), Ack, { timeoutMs: 10_000 });
    const n = ctx.quick ? 20_000 : 100_000;
    const run = (side: (seq: number) => Promise<Ack>, what: string) => (warmup: boolean) =>
      within(askConcurrently(side, warmup ? n / 4 : n, IN_FLIGHT), 120_000, () => `${what} with ${IN_FLIGHT} in flight`);
    const runs = await rotate(ctx, "service-ask-64", { direct: run(direct, "direct remote asks"), raw: run(raw, "nats.js requests"), service: run(viaService, "service asks") });
    const figure = (baseline: string, baselineValue: number) => ({ name: "service-ask-64", value: median(runs.service), unit: "asks/s", baseline, baselineValue, target: { op: "record" } as const });
    return [figure("direct remote ask, 64 in flight", median(runs.direct)), figure("nats.js request/reply, 64 in flight", median(runs.raw))];
  },
};
