import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { EmbeddedNats } from "../../runtime/index.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { eventually } from "../helpers/conditions.js";
import { natsServerFor, processGone } from "../helpers/nats.js";
import { runTroupe, stopTroupeProcesses } from "../helpers/troupe-process.js";

const SLOW_SUM = join(PROJECT_ROOT, "test", "fixtures", "slow-sum-topology.ts");

/** The pid of the `troupe node` process for `nodeId` whose parent is `parentPid`, if there is one now. */
function workerPid(parentPid: number, nodeId: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== parentPid) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv.includes("node") && argv[argv.indexOf("--node-id") + 1] === nodeId) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

function summaryOf(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as Record<string, unknown>;
}

/** `troupe run` supervises its worker processes as OTP supervises children: restart, within an intensity. */
describe("troupe run supervises its worker processes (integration: nats-server, node processes)", function () {
  this.timeout(90_000);
  let nats: EmbeddedNats;

  before(async function () {
    nats = await natsServerFor(this);
  });

  /** Servers a case started of its own. */
  const ownServers: EmbeddedNats[] = [];

  // A case that failed leaves its run (and, through it, its workers) or node running: stop them here.
  afterEach(async () => {
    await stopTroupeProcesses();
    await Promise.all(ownServers.splice(0).map((s) => s.stop()));
  });

  after(async () => {
    await nats?.stop();
  });

  it("workers: one SIGKILLed while it starts is started again, and the run finishes verified", async () => {
    const run = runTroupe(["run", SLOW_SUM, "--nodes", "2", "--nats", nats.url, "--json"]);
    let killed: number | undefined;
    await eventually("worker-1 to appear", () => {
      killed = workerPid(run.child.pid!, "worker-1");
      return killed !== undefined;
    }, 20_000);
    process.kill(killed!, "SIGKILL");
    expect(await run.exited, run.stderr()).to.equal(0);
    expect(summaryOf(run.stdout())).to.include({ ok: true, verified: true, tasks: 60 });
    expect(run.stderr()).to.match(/worker worker-1 exited with code .* before it was ready; starting worker-1 again/);
    expect(processGone(killed!)).to.equal(true);
  });

  it("workers: one SIGKILLed in the middle of the job is replaced, its tasks handed out again, and the result is exact", async () => {
    const run = runTroupe(["run", SLOW_SUM, "--nodes", "2", "--nats", nats.url, "--json"]);
    await eventually("the workers to be ready", () => run.stderr().includes("workers ready"), 30_000);
    const victim = workerPid(run.child.pid!, "worker-2");
    expect(victim, "worker-2's pid").to.be.a("number");
    // The job runs about two seconds on two workers: kill one soon after it starts.
    await eventually("the job to start", () => /\d+\/60|slow-sum/.test(run.stderr()), 10_000);
    process.kill(victim!, "SIGKILL");
    expect(await run.exited, run.stderr()).to.equal(0);
    const summary = summaryOf(run.stdout());
    expect(summary).to.include({ ok: true, verified: true, tasks: 60, count: 60 });
    expect(run.stderr()).to.match(/worker worker-2 \(pid \d+\) exited on SIGKILL; starting worker-2 again/);
  });

  it("workers: a worker that cannot start at all ends the run once its restarts are used up, naming the first cause", async () => {
    const run = runTroupe(["run", join(PROJECT_ROOT, "test", "fixtures", "failing-worker-topology.ts"), "--nodes", "1", "--nats", nats.url, "--json"]);
    expect(await run.exited, run.stderr()).to.equal(1);
    const error = String(summaryOf(run.stdout()).error);
    expect(error).to.match(/worker-1 failed to start 6 times in a row; the first failure: worker worker-1 exited with code 1 before it was ready/);
    expect(run.stderr()).to.include("this worker cannot start (on purpose)");
    expect(run.stderr()).not.to.include("main must not run");
  });

  it("workers: SIGINT while they start stops the ones still starting too, before the run exits", async () => {
    const run = runTroupe(["run", SLOW_SUM, "--nodes", "3", "--nats", nats.url, "--json"]);
    const ids = ["worker-1", "worker-2", "worker-3"];
    let starting: number[] = [];
    await eventually("the worker processes to appear", () => {
      starting = ids.map((id) => workerPid(run.child.pid!, id)).filter((pid) => pid !== undefined);
      return starting.length === ids.length;
    }, 20_000);
    expect(run.stderr(), "no worker ready yet").not.to.include("workers ready");
    run.child.kill("SIGINT");
    expect(await run.exited, run.stderr()).to.equal(130);
    expect(starting.filter((pid) => !processGone(pid)), "worker processes left running").to.deep.equal([]);
    expect(summaryOf(run.stdout())).to.include({ ok: false, error: "interrupted by SIGINT" });
    expect(run.stderr(), "nothing goes on as if the workers were ready").not.to.include("workers ready");
  });

  it("node: SIGTERM ends a node whose server has gone away within --shutdown-ms", async function () {
    const own = await natsServerFor(this);
    ownServers.push(own);
    const node = runTroupe(["node", "--system", "lonely", "--node-id", "n1", "--nats", own.url, "--shutdown-ms", "1500"]);
    await node.ready();
    await own.stop();
    const signalledAt = Date.now();
    node.child.kill("SIGTERM");
    const how = await Promise.race([node.exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 8_000))]);
    expect(how, node.stderr()).to.be.oneOf([0, 1]);
    expect(Date.now() - signalledAt).to.be.below(5_000);
    if (how === "still running") node.child.kill("SIGKILL");
  });
});
