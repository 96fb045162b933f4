import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { chromium } from "playwright-core";
import { PROJECT_ROOT, requireTool } from "../../runtime/nats/tool-paths.js";
import { natsServerFor } from "../helpers/nats.js";

const run = promisify(execFile);
const BIN = `${PROJECT_ROOT}/bin/troupe.mjs`;

describe("looking at traces: troupe run --trace, troupe trace, the HTML page in headless Chromium (integration)", function () {
  this.timeout(120_000);
  let dir: string;
  let file: string;
  let traceId: string;

  before(async function () {
    await (await natsServerFor(this)).stop(); // the run starts its own private server
    dir = mkdtempSync(join(tmpdir(), "troupe-view-"));
    file = join(dir, "run.trace");
    const { stdout } = await run(process.execPath, [BIN, "run", "word-count", "--nodes", "2", "--state", `file://${dir}/state`, "--trace", file, "--json"], { cwd: PROJECT_ROOT });
    const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as { ok: boolean; traceId: string };
    expect(summary.ok).to.equal(true);
    traceId = summary.traceId;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("--trace: the run's trace id is in the --json summary, and all three processes wrote spans of it to the file", () => {
    expect(traceId).to.match(/^[0-9a-f]{32}$/);
    const spans = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { traceId: string; resource: Record<string, string> });
    const nodes = new Set(spans.filter((s) => s.traceId === traceId).map((s) => s.resource["troupe.node.id"]));
    expect(nodes).to.deep.equal(new Set(["coordinator", "worker-1", "worker-2"]));
  });

  it("troupe trace FILE prints the flow as a tree: actor to actor, node, duration", async () => {
    const { stdout } = await run(process.execPath, [BIN, "trace", file, "--trace-id", traceId], { cwd: PROJECT_ROOT });
    const lines = stdout.split("\n");
    expect(lines[0]).to.match(new RegExp(`^trace ${traceId}: \\d+ spans, 3 nodes \\(coordinator, worker-1, worker-2\\)`));
    expect(lines[1]).to.match(/^run word-count {2}\[coordinator\] {2}[\d.]+ (ms|s)$/);
    expect(lines[2]).to.match(/^ {2}job word-count-\w+ {2}\[coordinator\]/);
    expect(stdout).to.match(/\n {6}process troupe\.work\.Task {2}\[worker-1\] \/remote\/coordinator\/user\/job-[\w-]+\/worker-1 {2}[\d.]+ ms/);
    expect(stdout).to.match(/\n {6}process troupe\.work\.Task {2}\[worker-2\]/);
    expect(stdout).to.match(/ checkpoint word-count\/word-count-\w+ {2}\[coordinator\]/);
  });

  it("troupe trace FILE --html OUT writes a self-contained page that renders every span as a bar on its node's lanes", async () => {
    const page = join(dir, "trace.html");
    await run(process.execPath, [BIN, "trace", file, "--trace-id", traceId, "--html", page], { cwd: PROJECT_ROOT });
    const html = readFileSync(page, "utf8");
    expect(html).to.not.match(/<script[^>]+src=|<link[^>]+href=/, "no outside resources");
    const spanCount = Number(/(\d+) spans on 3 nodes/.exec(html)?.[1]);
    expect(spanCount).to.be.greaterThan(100);

    const browser = await chromium.launch({ executablePath: requireTool("chromium"), args: ["--no-sandbox"] });
    try {
      const tab = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const errors: string[] = [];
      tab.on("pageerror", (error) => errors.push(error.message));
      await tab.goto(`file://${page}`);
      await tab.waitForSelector("body[data-rendered]");
      expect(errors).to.deep.equal([]);
      expect(Number(await tab.getAttribute("body", "data-rendered"))).to.equal(spanCount);
      expect(await tab.locator(".bar").count()).to.equal(spanCount);
      expect(await tab.locator(".node-head").allTextContents()).to.deep.equal(["node coordinator", "node worker-1", "node worker-2"]);
      // Labels show the end of long paths; the title holds the whole path.
      const labels = await tab.locator(".lane .label").evaluateAll((els) => els.map((e) => e.getAttribute("title") ?? ""));
      expect(labels).to.include("/user/totals");
      expect(labels.some((l) => /^\/remote\/coordinator\/user\/job-.*\/worker-1$/.test(l))).to.equal(true);
      // Bars sit inside the timeline: positions are percentages of the trace's duration.
      const lefts = await tab.locator(".bar").evaluateAll((bars) => bars.map((b) => parseFloat((b as unknown as { style: { left: string } }).style.left)));
      expect(Math.min(...lefts)).to.be.at.least(0);
      expect(Math.max(...lefts)).to.be.at.most(100);
      const shot = await tab.screenshot({ path: join(dir, "trace.png"), fullPage: false });
      expect(shot.length).to.be.greaterThan(10_000);
    } finally {
      await browser.close();
    }
  });
});
