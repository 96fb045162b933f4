import { spawn } from "node:child_process";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import type { Benchmark, BenchContext, Figure } from "./benchmark.js";

const CHILD_FILE = fileURLToPath(new URL("./gc-child.ts", import.meta.url));

/** The collector of a process started with `--expose-gc`, or undefined. */
export function exposedGc(): (() => void) | undefined {
  return typeof globalThis.gc === "function" ? () => globalThis.gc!() : undefined;
}

/**
 * A benchmark that needs `global.gc` (to measure live heap): it runs `measure` here when this process
 * has it (`node --expose-gc --import tsx bench/run.ts`), otherwise in a child
 * `node --expose-gc --import tsx bench/gc-child.ts <name>`, which prints the figures as JSON on stdout
 * and its progress on our stderr. `bench/gc-child.ts` must list the benchmark under the same name.
 */
export function inGcProcess(name: string, measure: (ctx: BenchContext, gc: () => void) => Promise<Figure[]>): Benchmark {
  return {
    name,
    run(ctx) {
      const gc = exposedGc();
      return gc ? measure(ctx, gc) : runChild(name, ctx);
    },
  };
}

function runChild(name: string, ctx: BenchContext): Promise<Figure[]> {
  const args = ["--expose-gc", "--import", "tsx", CHILD_FILE, name, "--reps", String(ctx.reps), ...(ctx.quick ? ["--quick"] : [])];
  ctx.log(`  (in a child process: node ${args.map((arg) => (arg === CHILD_FILE ? relative(PROJECT_ROOT, arg) : arg)).join(" ")})`);
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  // Never outlive the driver.
  const kill = (): boolean => child.kill("SIGKILL");
  process.once("exit", kill);
  return new Promise<Figure[]>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      process.off("exit", kill);
      if (code !== 0) return reject(new Error(`${name} child process exited with ${signal ?? `code ${code}`}`));
      try {
        resolve(JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as Figure[]);
      } catch {
        reject(new Error(`${name} child process printed no figures: ${JSON.stringify(stdout.slice(-500))}`));
      }
    });
  });
}
