import { expect } from "chai";
import { findTool } from "../../runtime/nats/tool-paths.js";
import { FAILURE_DETECTION_MS, FAULT_KINDS } from "../chaos/chaos-faults.js";
import { runChaos } from "../chaos/chaos-run.js";
import { SeededRandom } from "../helpers/seeded-random.js";

// The bounded chaos run of `npm test`; `npm run chaos` is the long one (docs/reliability.md).
describe("chaos (integration: 3-server NATS cluster, fake-gcs-server, worker processes)", function () {
  this.timeout(120_000);

  before(function () {
    for (const tool of ["nats-server", "fake-gcs-server"] as const) {
      if (!findTool(tool) && process.env.CI !== "true") {
        console.warn(`skipping: ${tool} not found: run \`npm run setup\` or put it on PATH`);
        this.skip();
      }
    }
  });

  it("chaos: a job under killed, paused and replaced workers, a restarted NATS server, a GCS outage and duplicated results ends exact", async () => {
    const seed = SeededRandom.seedFrom("TROUPE_CHAOS_SEED");
    const report = await runChaos({ seed, jobs: 1, tasksPerJob: 9_000, tasksPerSecond: 600, faultsPerJob: FAULT_KINDS.length, workers: 3, taskTimeoutMs: 6_000, log: (line) => console.log(`      ${line}`) });
    const replay = `seed ${seed} (replay with TROUPE_CHAOS_SEED=${seed})`;
    const [job] = report.jobs;
    expect(report.jobs, replay).to.have.length(1);
    expect(job!.state, `state read back from GCS, ${replay}`).to.deep.equal(job!.expected);
    expect(job!.lost, `results lost, ${replay}`).to.equal(0);
    expect(job!.countedTwice, `results counted twice, ${replay}`).to.equal(0);
    expect(job!.result, replay).to.include({ done: 9_000, failed: 0 });
    // Every kind of fault happened, and each started while the job was still running.
    expect(report.faults.map((f) => f.kind).sort(), replay).to.deep.equal([...FAULT_KINDS].sort());
    for (const fault of report.faults) expect(fault.startedAtMs, `${fault.kind} began mid-job, ${replay}`).to.be.below(job!.endedAtMs);
    const pause = report.faults.find((f) => f.kind === "pause-worker")!;
    expect(pause.holdMs).to.be.greaterThan(FAILURE_DETECTION_MS);
    expect(report.duplicatesSent, `duplicates were sent, ${replay}`).to.be.greaterThan(0);
  });
});
