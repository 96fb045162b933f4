// Runs one benchmark that needs `global.gc`, for bench/run.ts when the driver was started without it:
//   node --expose-gc --import tsx bench/gc-child.ts <name> [--quick] [--reps <n>]
// Progress goes to stderr; the figures, as one JSON array, to stdout.
import { parseArgs } from "node:util";
import type { Benchmark, BenchContext } from "./benchmark.js";
import { exposedGc } from "./gc-process.js";
import { idleActorMemory } from "./idle-actor-memory.js";

const BENCHMARKS: readonly Benchmark[] = [idleActorMemory];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { quick: { type: "boolean", default: false }, reps: { type: "string", default: "7" } },
});
const benchmark = BENCHMARKS.find((b) => b.name === positionals[0]);
if (!benchmark || !exposedGc()) {
  console.error(`usage: node --expose-gc --import tsx bench/gc-child.ts <${BENCHMARKS.map((b) => b.name).join("|")}> [--quick] [--reps <n>]`);
  process.exit(2);
}
const ctx: BenchContext = {
  quick: values.quick,
  reps: Number(values.reps),
  log: (line) => console.error(line),
  remote: () => Promise.reject(new Error(`${benchmark.name} runs without the remote environment`)),
};
console.log(JSON.stringify(await benchmark.run(ctx)));
