// The benchmark suite: `npm run bench [-- --quick] [--json] [--only <substring>]`.
// Every figure is measured beside its baseline in the same run and reported as a ratio to it,
// because absolute times on a shared machine drift. See docs/benchmarks.md.
import { cpus } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { type Benchmark, type BenchContext, type Figure } from "./benchmark.js";
import { idleActorMemory } from "./idle-actor-memory.js";
import { importTime } from "./import-time.js";
import { nodeStart } from "./node-start.js";
import { runStart } from "./run-start.js";
import { localAsk } from "./local-ask.js";
import { localTell } from "./local-tell.js";
import { natsServerVersion } from "./nats-server.js";
import { remoteAsk } from "./remote-ask.js";
import { serviceAsk } from "./service-ask.js";
import { routerTell } from "./router-tell.js";
import { startRemoteEnv, type RemoteEnv } from "./remote-env.js";
import { remoteLatency } from "./remote-latency.js";
import { remoteTell } from "./remote-tell.js";
import { skynet } from "./skynet.js";
import { restartLatency } from "./restart-latency.js";
import { nodeLossDetection } from "./node-loss-detection.js";
import { membershipRing, membershipSim } from "./membership-sim.js";
import { entityBenchmarks } from "./entities.js";
import { imagePipelineScaling } from "./image-pipeline-scaling.js";
import { resultCacheHit } from "./result-cache.js";
import { reducerThroughput } from "./reducer-throughput.js";
import { jobOverhead } from "./job-overhead.js";
import { peerMoleculerAsk } from "./peer-moleculer-ask.js";
import { peerNactTell } from "./peer-nact-tell.js";
import { plot } from "./plot.js";
import { tracingOff } from "./tracing-off.js";
import { tracingOn } from "./tracing-on.js";
import { tracing1pct } from "./tracing-1pct.js";
import { tracingCpu } from "./tracing-cpu.js";
import { metricsOn } from "./metrics-on.js";
import { throughputScaling } from "./throughput-scaling.js";
import { formatRatio, formatValue, table } from "./stats.js";

const BENCHMARKS: readonly Benchmark[] = [importTime, nodeStart, runStart, localTell, routerTell, localAsk, skynet, idleActorMemory, remoteTell, remoteAsk, serviceAsk, remoteLatency, throughputScaling, peerMoleculerAsk, peerNactTell, restartLatency, nodeLossDetection, membershipSim, membershipRing, entityBenchmarks, reducerThroughput, jobOverhead, tracingOff, tracingOn, tracing1pct, tracingCpu, metricsOn, imagePipelineScaling, resultCacheHit, plot];

const USAGE = `usage: npm run bench -- [--quick] [--json] [--only <substring>] [--reps <n>] [--cpu-prof-dir <dir>] [--nats-no-async-traces]
  --quick                  fewer and smaller rounds (well under 3 minutes)
  --json                   one JSON object per figure on stdout, one per line
  --only <substring>       run the benchmarks whose name contains it (${BENCHMARKS.map((b) => b.name).join(", ")})
  --reps <n>               measured rounds of each side (default 7, or 3 with --quick; local-tell, local-ask
                           and tracing-off run 3x as many, skynet and idle-actor-memory at most 3 in a full run)
  --cpu-prof-dir <dir>     run the peer process (and the node processes of tracing-* and throughput-scaling) with --cpu-prof,
                           writing their profiles to <dir>
  --nats-no-async-traces   baseline nats.js connection with noAsyncTraces: true (a faster request())`;

interface Row extends Figure {
  readonly ratio: number;
  readonly pass: boolean;
}

interface Options {
  readonly quick: boolean;
  readonly json: boolean;
  readonly only: string | undefined;
  readonly reps: number;
  readonly cpuProfDir: string | undefined;
  readonly natsNoAsyncTraces: boolean;
}

function parse(): Options {
  try {
    const { values } = parseArgs({
      options: {
        quick: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        only: { type: "string" },
        reps: { type: "string" },
        "cpu-prof-dir": { type: "string" },
        "nats-no-async-traces": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const reps = values.reps === undefined ? (values.quick ? 3 : 7) : Number(values.reps);
    if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer; got ${values.reps}`);
    return {
      quick: values.quick,
      json: values.json,
      only: values.only,
      reps,
      cpuProfDir: values["cpu-prof-dir"],
      natsNoAsyncTraces: values["nats-no-async-traces"],
    };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const options = parse();
const log = (line: string): void => console.error(line);
const selected = BENCHMARKS.filter((b) => options.only === undefined || b.name.includes(options.only));
if (selected.length === 0) {
  console.error(`no benchmark name contains ${JSON.stringify(options.only)}; names: ${BENCHMARKS.map((b) => b.name).join(", ")}`);
  process.exit(2);
}

// Everything the run starts is stopped on the way out: normally, on error, and on Ctrl-C.
let remote: Promise<RemoteEnv & { close(): Promise<void> }> | undefined;
const cleanup = async (): Promise<void> => {
  const env = await remote?.catch(() => undefined);
  await env?.close();
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping the peer process and nats-server`);
    void cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  });
}

const profileArgv = options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${resolve(options.cpuProfDir)}`] : [];
const ctx: BenchContext = {
  quick: options.quick,
  reps: options.reps,
  log,
  remote: () =>
    (remote ??= startRemoteEnv({
      peerExecArgv: profileArgv,
      rawNoAsyncTraces: options.natsNoAsyncTraces,
    })),
  childExecArgv: profileArgv,
};

log(`bench: ${cpus().length} cpus (${cpus()[0]?.model ?? "unknown"}), node ${process.version}${selected.some((b) => b.name.startsWith("remote") || b.name.startsWith("tracing") || b.name.startsWith("metrics") || b.name.startsWith("throughput") || b.name.startsWith("peer-moleculer") || b.name === "plot") ? `, ${natsServerVersion() ?? "no nats-server"}` : ""}`);
log(`bench: ${options.quick ? "quick run, " : ""}${options.reps} rounds per side after a warm-up${options.natsNoAsyncTraces ? ", nats.js baseline with noAsyncTraces" : ""}; running ${selected.map((b) => b.name).join(", ")}`);

const rows: Row[] = [];
const failures: string[] = [];
const started = Date.now();
try {
  for (const benchmark of selected) {
    log(`${benchmark.name} ...`);
    const benchStarted = Date.now();
    try {
      for (const figure of await benchmark.run(ctx)) {
        const ratio = figure.value / figure.baselineValue;
        const target = figure.target;
        const measured = "ratio" in target ? ratio : figure.value;
        const goal = target.op === "record" ? 0 : "ratio" in target ? target.ratio : target.value;
        const pass = target.op === "record" || (target.op === ">=" ? measured >= goal : measured <= goal);
        const row = { ...figure, ratio, pass };
        rows.push(row);
        if (options.json) console.log(JSON.stringify(jsonOf(row)));
        log(`  ${row.name}: ${formatValue(row.value)} ${row.unit} vs ${formatValue(row.baselineValue)} => ratio ${formatRatio(row.ratio)} (target ${targetText(row)}) ${row.pass ? "PASS" : "BELOW"}`);
      }
    } catch (error) {
      failures.push(`${benchmark.name}: ${(error as Error).stack ?? String(error)}`);
      log(`  ${benchmark.name} FAILED: ${(error as Error).message}`);
    }
    log(`  (${((Date.now() - benchStarted) / 1000).toFixed(1)} s)`);
  }
} finally {
  await cleanup();
}

if (!options.json && rows.length > 0) {
  const header = ["benchmark", "value", "unit", "baseline", "baseline value", "ratio", "target", "result"];
  const body = rows.map((r) => [r.name, formatValue(r.value), r.unit, r.baseline, formatValue(r.baselineValue), formatRatio(r.ratio), targetText(r), r.pass ? "PASS" : "BELOW"]);
  console.log(table(header, body, new Set([1, 4, 5])));
}
log(`bench: done in ${((Date.now() - started) / 1000).toFixed(0)} s; ${rows.filter((r) => r.pass).length} of ${rows.length} figures meet their target`);
for (const failure of failures) log(`bench: FAILED ${failure}`);
// A figure below its target is a finding, not a failure; a benchmark that could not run is.
process.exit(failures.length > 0 ? 1 : 0);

/** "<= 1.1" or ">= 0.95" for a ratio, "<= 1,500 ms" for an absolute target. */
function targetText(row: Row): string {
  const target = row.target;
  if (target.op === "record") return "recorded";
  if (!("ratio" in target)) return `${target.op} ${formatValue(target.value)} ${row.unit}`;
  // One decimal where that is exact (">= 0.4"), two otherwise (">= 0.95").
  const digits = Math.abs(target.ratio * 10 - Math.round(target.ratio * 10)) < 1e-9 ? 1 : 2;
  return `${target.op} ${target.ratio.toFixed(digits)}`;
}

function jsonOf(row: Row): Record<string, unknown> {
  return {
    name: row.name,
    value: round(row.value),
    unit: row.unit,
    baseline: row.baseline,
    baselineValue: round(row.baselineValue),
    ratio: row.ratio >= 0.1 ? round(row.ratio, 3) : Number(row.ratio.toPrecision(3)),
    target: targetText(row),
    pass: row.pass,
    reps: options.reps,
    quick: options.quick,
    natsNoAsyncTraces: options.natsNoAsyncTraces,
  };
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
