import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { alternate, within, type Benchmark } from "./benchmark.js";
import { Ack, PAYLOAD_BYTES } from "./messages.js";
import { MOLECULER_ECHO_ACTION, moleculerBroker, type EchoParams, type EchoReply } from "./moleculer-broker.js";
import { askConcurrently, askers } from "./remote-ask.js";
import { median } from "./stats.js";

const IN_FLIGHT = 64;
const RESPONDER_FILE = fileURLToPath(new URL("./moleculer-responder.ts", import.meta.url));

/**
 * Request/response against a peer framework: a Moleculer broker in this process calls `echo.blob` on a
 * broker in another process, over the suite's nats-server with Moleculer's NATS transporter, 64 calls
 * in flight. Troupe side: `remote-ask-64`'s asks to the peer process's echo actor. Issue 7: Troupe at
 * least 3x Moleculer.
 */
export const peerMoleculerAsk: Benchmark = {
  name: "peer-moleculer-ask-64",
  async run(ctx) {
    const env = await ctx.remote();
    const n = ctx.quick ? 20_000 : 100_000;
    const responder = await startResponder(env.nats.url, ctx.childExecArgv ?? []);
    const broker = moleculerBroker(env.nats.url, "bench-moleculer-driver");
    try {
      await broker.start();
      await broker.waitForServices("echo", 30_000);
      const data = Buffer.from(new Uint8Array(PAYLOAD_BYTES).map((_, i) => i)).toString("base64");
      const call = async (seq: number): Promise<Ack> => {
        const reply = await broker.call<EchoReply, EchoParams>(MOLECULER_ECHO_ACTION, { seq, data });
        return Ack.create({ seq: reply.seq });
      };
      const troupe = askers(env).troupe;
      const run = (side: (seq: number) => Promise<Ack>, what: string) => (warmup: boolean) =>
        within(askConcurrently(side, warmup ? n / 4 : n, IN_FLIGHT), 180_000, () => `${what} with ${IN_FLIGHT} in flight`);
      const runs = await alternate(ctx, "peer-moleculer-ask-64", run(call, "moleculer calls"), run(troupe, "troupe asks"));
      return [
        {
          name: "peer-moleculer-ask-64",
          value: median(runs.troupe),
          unit: "asks/s",
          baseline: "Moleculer 0.14.36 call over NATS, 64 in flight",
          baselineValue: median(runs.baseline),
          target: { op: ">=", ratio: 3.0 },
        },
      ];
    } finally {
      await broker.stop().catch(() => undefined);
      await stopResponder(responder);
    }
  },
};

async function startResponder(natsUrl: string, execArgv: readonly string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...execArgv, "--import", "tsx", RESPONDER_FILE, natsUrl], { cwd: PROJECT_ROOT, stdio: ["ignore", 2, 2, "ipc"] });
  const kill = (): void => void child.kill("SIGKILL");
  process.once("exit", kill);
  child.once("exit", () => process.off("exit", kill));
  const ready = new Promise<void>((resolve, reject) => {
    child.on("message", (message: { type: string }) => message.type === "ready" && resolve());
    child.once("error", reject);
    child.once("exit", (code, signal) => reject(new Error(`moleculer responder exited before it was ready (${signal ?? `code ${code}`})`)));
  });
  try {
    await within(ready, 30_000, () => "starting the moleculer responder process");
  } catch (error) {
    await stopResponder(child);
    throw error;
  }
  return child;
}

/** Asks the responder to exit; kills it if it has not within 5 s. */
async function stopResponder(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.connected) child.send({ type: "exit" });
  const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(killer);
}
