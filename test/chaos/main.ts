// `npm run chaos`: the long chaos run. Scale it with environment variables:
//   TROUPE_CHAOS_JOBS (default 3), TROUPE_CHAOS_TASKS per job (40,000), TROUPE_CHAOS_RATE tasks/s (1,000),
//   TROUPE_CHAOS_FAULTS per job (10), TROUPE_CHAOS_WORKERS (3), TROUPE_CHAOS_SEED to replay a run.
// Exits 1 unless every job's state read back from GCS is exact.
import { SeededRandom } from "../helpers/seeded-random.js";
import { runChaos } from "./chaos-run.js";

const number = (name: string, fallback: number): number => {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a whole number >= 1; got ${JSON.stringify(text)}`);
  return value;
};

const report = await runChaos({
  seed: SeededRandom.seedFrom("TROUPE_CHAOS_SEED"),
  jobs: number("TROUPE_CHAOS_JOBS", 3),
  tasksPerJob: number("TROUPE_CHAOS_TASKS", 40_000),
  tasksPerSecond: number("TROUPE_CHAOS_RATE", 1_000),
  faultsPerJob: number("TROUPE_CHAOS_FAULTS", 10),
  workers: number("TROUPE_CHAOS_WORKERS", 3),
  taskTimeoutMs: 10_000,
  log: (line) => console.log(line),
});
const exact = report.jobs.every((job) => job.lost === 0 && job.countedTwice === 0 && job.result.failed === 0 && job.state.total === job.expected.total && job.state.count === job.expected.count);
if (!exact) console.error(`chaos: FAILED: a job's state is not exact; replay with TROUPE_CHAOS_SEED=${report.seed}`);
process.exitCode = exact ? 0 : 1;
