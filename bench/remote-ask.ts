import type { ActorRef } from "../runtime/index.js";
import { alternate, within, type Benchmark } from "./benchmark.js";
import { Ack, Blob, blob } from "./messages.js";
import { ECHO_NAME, PEER_NODE_ID, RAW_ECHO_SUBJECT, SYSTEM_NAME } from "./peer-protocol.js";
import type { RemoteEnv } from "./remote-env.js";
import { median, nowMs } from "./stats.js";

const IN_FLIGHT = 64;

/** One request/reply of each side: a Blob with 100 payload bytes out, an Ack of the same seq back. */
export interface Askers {
  readonly raw: (seq: number) => Promise<Ack>;
  readonly troupe: (seq: number) => Promise<Ack>;
}

export function askers(env: RemoteEnv): Askers {
  const echo: ActorRef<Blob> = env.system.refFor({ system: SYSTEM_NAME, node: PEER_NODE_ID, path: `/user/${ECHO_NAME}` });
  return {
    raw: async (seq) => Ack.decode((await env.raw.request(RAW_ECHO_SUBJECT, Blob.encode(blob(seq)).finish(), { timeout: 10_000 })).data),
    troupe: (seq) => echo.ask(blob(seq), Ack, { timeoutMs: 10_000 }),
  };
}

/** Runs `n` asks with `inFlight` outstanding at any time; resolves with completed asks per second. */
export async function askConcurrently(ask: (seq: number) => Promise<Ack>, n: number, inFlight: number): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const seq = ++next;
      const ack = await ask(seq);
      if (ack.seq !== seq) throw new Error(`asked seq ${seq}, got Ack ${ack.seq}`);
    }
  };
  const started = nowMs();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return n / ((nowMs() - started) / 1000);
}

/** Asks from this process to the echo actor in the peer process, 64 in flight. Baseline: nats.js request/reply, 64 in flight. */
export const remoteAsk: Benchmark = {
  name: "remote-ask-64",
  async run(ctx) {
    const ask = askers(await ctx.remote());
    const n = ctx.quick ? 20_000 : 100_000;
    const run = (side: (seq: number) => Promise<Ack>, what: string) => (warmup: boolean) =>
      within(askConcurrently(side, warmup ? n / 4 : n, IN_FLIGHT), 120_000, () => `${what} with ${IN_FLIGHT} in flight`);
    const runs = await alternate(ctx, "remote-ask-64", run(ask.raw, "nats.js requests"), run(ask.troupe, "troupe asks"));
    return [
      {
        name: "remote-ask-64",
        value: median(runs.troupe),
        unit: "asks/s",
        baseline: "nats.js request/reply, 64 in flight",
        baselineValue: median(runs.baseline),
        target: { op: ">=", ratio: 2.0 },
      },
    ];
  },
};
