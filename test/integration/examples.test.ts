import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { natsServerFor } from "../helpers/nats.js";
import { fakeGcsFor } from "../helpers/fake-gcs.js";

const run = promisify(execFile);

describe("examples run end to end (integration)", function () {
  this.timeout(120_000);

  it("ping-pong: `troupe run ping-pong --nodes 2 --json` verifies every Pong came back in order", async function () {
    await (await natsServerFor(this)).stop(); // the run starts its own private server
    const { stdout } = await run(process.execPath, [`${PROJECT_ROOT}/bin/troupe.mjs`, "run", "ping-pong", "--nodes", "2", "--json"], { cwd: PROJECT_ROOT });
    const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
    expect(summary).to.include({ ok: true, example: "ping-pong", nodes: 2, verified: true, outOfOrder: 0 });
    expect(summary.tasks).to.equal(4_400);
    expect(summary.pongs).to.equal(summary.expectedPongs);
    expect(summary).to.include.keys("durationMs", "state", "traceId");
  });

  it("custom-actor: `troupe run custom-actor --nodes 2 --json` sums what it told each worker's counter", async function () {
    await (await natsServerFor(this)).stop();
    const { stdout } = await run(process.execPath, [`${PROJECT_ROOT}/bin/troupe.mjs`, "run", "custom-actor", "--nodes", "2", "--json"], { cwd: PROJECT_ROOT });
    const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
    expect(summary).to.include({ ok: true, example: "custom-actor", nodes: 2, tasks: 200, verified: true, sum: 10_100 });
  });

  it("custom-actor: the README's walkthrough runs and prints exactly the output the README shows", async function () {
    await (await natsServerFor(this)).stop();
    const readme = readFileSync(`${PROJECT_ROOT}/README.md`, "utf8");
    const shown = /Output:\n\n```\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(shown, "README has an Output block").to.be.a("string");
    const { stdout } = await run(process.execPath, ["--import", "tsx", `${PROJECT_ROOT}/examples/custom-actor/main.ts`], { cwd: PROJECT_ROOT });
    expect(stdout).to.equal(shown);
  });

  it("word-count: `troupe run word-count --nodes 2 --json` reads the totals back from the store and checks every word", async function () {
    await (await natsServerFor(this)).stop();
    const dir = mkdtempSync(join(tmpdir(), "troupe-wc-"));
    try {
      const { stdout } = await run(process.execPath, [`${PROJECT_ROOT}/bin/troupe.mjs`, "run", "word-count", "--nodes", "2", "--state", pathToFileURL(dir).href, "--json"], { cwd: PROJECT_ROOT });
      const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
      expect(summary).to.include({ ok: true, example: "word-count", nodes: 2, tasks: 200, verified: true, mismatches: 0, words: 75_942, distinct: 114 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bank: `troupe run bank --nodes 2 --json` makes concurrent transfers between account entities and the money balances, as answered and as stored", async function () {
    await (await natsServerFor(this)).stop();
    const dir = mkdtempSync(join(tmpdir(), "troupe-bank-"));
    try {
      const { stdout } = await run(process.execPath, [`${PROJECT_ROOT}/bin/troupe.mjs`, "run", "bank", "--nodes", "2", "--state", pathToFileURL(dir).href, "--json"], { cwd: PROJECT_ROOT });
      const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
      expect(summary).to.include({ ok: true, example: "bank", nodes: 2, tasks: 1_000, verified: true, accounts: 40, totalCents: 400_000, expectedCents: 400_000, storedChecked: true, storedMatches: true, overdrawn: 0 });
      expect((summary.made as number) + (summary.declined as number)).to.equal(1_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bank: with --state gs://bucket/prefix the accounts live in fake-gcs-server and the stored balances match", async function () {
    const gcs = await fakeGcsFor(this);
    try {
      const { stdout } = await run(process.execPath, [`${PROJECT_ROOT}/bin/troupe.mjs`, "run", "bank", "--nodes", "2", "--state", `gs://${gcs.bucket}/bank`, "--json"], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, STORAGE_EMULATOR_HOST: gcs.endpoint },
      });
      const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
      expect(summary).to.include({ ok: true, example: "bank", verified: true, totalCents: 400_000, storedChecked: true, storedMatches: true });
    } finally {
      await gcs.stop();
    }
  });

  it("cli: an unknown example is refused with the list of examples", async () => {
    const error = await run(process.execPath, [`${PROJECT_ROOT}/bin/troupe.mjs`, "run", "no-such-example"], { cwd: PROJECT_ROOT }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(error?.code).to.equal(1);
    expect(error?.stderr).to.match(/no example named "no-such-example"; examples: .*ping-pong/);
  });
});
