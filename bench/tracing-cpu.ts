import { spawn } from "node:child_process";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import type { Benchmark, BenchContext } from "./benchmark.js";

const CHILD = "bench/tracing-cpu-child.ts";

/**
 * The CPU that tracing at 1% costs Troupe itself, per message, measured where drift cannot enter: in
 * one process, a traced pair of nodes and an untraced one over the in-memory network, bursts of 500
 * remote tells taking turns (bench/tracing-cpu-child.ts). No NATS, so the ratio is larger than
 * remote tell's over NATS (bench/tracing-1pct.ts), whose base includes the client's I/O; but it moves
 * by a few hundredths between runs where that one moves by a tenth. Ratio 0 alone shows what the
 * unsampled path costs; 1% adds the sampled messages' spans.
 */
export const tracingCpu: Benchmark = {
  name: "tracing-cpu",
  async run(ctx) {
    const rounds = ctx.quick ? 1_000 : 3_000;
    const runs = ctx.quick ? 1 : 3;
    const figures = [];
    for (const [ratio, name] of [["0", "tracing-0pct-cpu-in-process"], ["0.01", "tracing-1pct-cpu-in-process"]] as const) {
      const results = [];
      for (let run = 0; run < runs; run++) {
        const result = await child(ctx, ratio, rounds);
        ctx.log(`  ${name} run ${run + 1}/${runs}: off ${(result.off * 1000).toFixed(0)} ns/msg, traced ${(result.on * 1000).toFixed(0)} ns/msg, ratio ${(result.on / result.off).toFixed(3)}`);
        results.push(result);
      }
      // The run of median ratio.
      const middle = results.sort((a, b) => a.on / a.off - b.on / b.off)[Math.floor(results.length / 2)]!;
      figures.push({ name, value: middle.on, unit: "µs/msg", baseline: "tracing off, same process (sender and receiver CPU)", baselineValue: middle.off, target: { op: "record" as const } });
    }
    return figures;
  },
};

function child(ctx: BenchContext, ratio: string, rounds: number): Promise<{ off: number; on: number }> {
  const child = spawn(process.execPath, [...(ctx.childExecArgv ?? []), "--import", "tsx", CHILD, ratio, String(rounds)], { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  const kill = (): boolean => child.kill("SIGKILL");
  process.once("exit", kill);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      process.off("exit", kill);
      if (code !== 0) return reject(new Error(`${CHILD} exited with ${signal ?? `code ${code}`}`));
      try {
        resolve(JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as { off: number; on: number });
      } catch {
        reject(new Error(`${CHILD} printed no result: ${JSON.stringify(stdout.slice(-300))}`));
      }
    });
  });
}
