import { request } from "node:http";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { chromium } from "playwright-core";
import { ActorSystem, connectNats, defineActor, type ActorRef } from "../../runtime/index.js";
import { PROJECT_ROOT, requireTool } from "../../runtime/nats/tool-paths.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { counter, POISON } from "../fixtures/counter.js";
import { eventually, eventuallyAsync } from "../helpers/conditions.js";
import { startNatsWithConfig, type ConfiguredNats } from "../helpers/nats-with-config.js";
import { inboxPrefixOf, nodeAndMonitorConfig } from "../helpers/role-users.js";
import { runTroupe, type TroupeProcess } from "../helpers/troupe-process.js";

const PASSWORD = "dashboard-test-password";
const MONITOR_ENV = { NATS_USER: "live-monitor", NATS_PASSWORD: PASSWORD, NATS_INBOX_PREFIX: inboxPrefixOf("live-monitor") };

/** A supervisor with two counters under it, so the page has a tree to draw. */
const team = defineActor({
  kind: "team",
  messages: { Ping },
  init: () => ({}),
  started: (state, ctx) => {
    ctx.spawn(counter, { name: "left" });
    ctx.spawn(counter, { name: "right" });
    return state;
  },
  handlers: { Ping: (state) => state },
});

/** GET `path` with the given Host header; resolves with the status code. */
function statusOf(url: string, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("error", reject).end();
  });
}

describe("troupe dashboard: a live web page of a running system, with the monitor role's permissions (integration: nats-server, Chromium)", function () {
  this.timeout(90_000);
  let dir: string;
  let server: ConfiguredNats;
  let system: ActorSystem;
  let other: ActorSystem;
  let busy: ActorRef<Ping | GetStats>;
  let traffic: NodeJS.Timeout;
  let dashboard: TroupeProcess;
  let url: string;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "troupe-dashboard-"));
    server = await startNatsWithConfig(this, dir, nodeAndMonitorConfig("live", PASSWORD));
    const transport = await connectNats({ servers: server.url, user: "live-node", pass: PASSWORD, inboxPrefix: "troupe.live._INBOX" });
    system = await ActorSystem.start({ name: "live", nodeId: "node-a", transport, types: [Ping, Pong, GetStats, Stats] });
    const otherTransport = await connectNats({ servers: server.url, user: "live-node", pass: PASSWORD, inboxPrefix: "troupe.live._INBOX" });
    other = await ActorSystem.start({ name: "live", nodeId: "node-b", transport: otherTransport, types: [Ping, Pong, GetStats, Stats], kinds: [counter] });
    busy = system.spawn(counter, { name: "busy" });
    const flaky = other.spawn(counter, { name: "flaky" });
    system.spawn(team, { name: "team" });
    const ghost = system.spawn(counter, { name: "ghost" });
    await system.stop(ghost);
    // Traffic, a failure (a restart) and tells to a stopped actor (dead letters).
    let tick = 0;
    traffic = setInterval(() => {
      for (let i = 0; i < 50; i++) busy.tell(Ping.create({ seq: i }));
      // One failure only: a second within 5 s would exceed the default restart intensity and stop it.
      flaky.tell(Ping.create({ seq: ++tick === 20 ? POISON : tick }));
      if (tick % 5 === 0) ghost.tell(Ping.create({ seq: 1 }));
    }, 10);
    dashboard = runTroupe(["dashboard", "--nats", server.url, "--system", "live"], MONITOR_ENV);
    await eventually("the dashboard's URL on stdout", () => /http:\/\/127\.0\.0\.1:\d+\//.test(dashboard.stdout()), 30_000);
    url = /http:\/\/127\.0\.0\.1:\d+\//.exec(dashboard.stdout())![0];
  });

  after(async () => {
    clearInterval(traffic);
    // Everything is stopped before anything is checked: a failed check must not leave servers and
    // connections running (they would hold mocha open).
    const exit = await dashboard?.stop();
    const shutdowns = await Promise.allSettled([system?.shutdown(), other?.shutdown()]);
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const shutdown of shutdowns) if (shutdown.status === "rejected") throw shutdown.reason;
    if (dashboard) expect(exit).to.equal(0);
  });

  it("dashboard: serves only to requests addressed to 127.0.0.1 or localhost (no DNS rebinding), and only GET", async () => {
    const port = new URL(url).port;
    expect(await statusOf(url, "/", `127.0.0.1:${port}`)).to.equal(200);
    expect(await statusOf(url, "/", `localhost:${port}`)).to.equal(200);
    expect(await statusOf(url, "/", `attacker.example:${port}`)).to.equal(403);
    expect(await statusOf(url, "/nothing-here", `127.0.0.1:${port}`)).to.equal(404);
  });

  it("dashboard: the page shows the node, the actor tree with rates, and updates live when an actor appears; nothing is loaded from elsewhere", async () => {
    const browser = await chromium.launch({ executablePath: requireTool("chromium"), args: ["--no-sandbox"] });
    try {
      const tab = await browser.newPage({ viewport: { width: 1200, height: 760 } });
      const errors: string[] = [];
      const requested: string[] = [];
      tab.on("pageerror", (error) => errors.push(error.message));
      tab.on("request", (r) => requested.push(r.url()));
      await tab.goto(url);
      await tab.waitForSelector('#nodes tr[data-node="node-b"]');
      expect(await tab.locator("#nodes tbody tr td:first-child").allTextContents()).to.deep.equal(["node-a", "node-b"]);
      // Kinds come with heartbeats (every 500 ms), which may follow the first actor lists.
      const kinds = tab.locator('#nodes tr[data-node="node-b"] td').nth(1);
      await eventuallyAsync("node-b's kinds", async () => (await kinds.textContent({ timeout: 5_000 })) === "counter", 10_000);
      // Rates need two samples: wait for an update that gives the busy actor one.
      const busyRate = tab.locator('#actors tr[data-path="/user/busy"] td.rate');
      await eventuallyAsync("a rate for the busy actor", async () => Number((await busyRate.textContent({ timeout: 5_000 }))?.replace(/,/g, "")) > 0, 20_000);
      // The tree: the team's children are listed right under it, indented.
      const paths = await tab.locator("#actors tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-path")));
      expect(paths).to.include.members(["/user/busy", "/user/flaky", "/user/team", "/user/team/left", "/user/team/right"]);
      expect(paths.indexOf("/user/team/left")).to.equal(paths.indexOf("/user/team") + 1);
      const indent = async (path: string): Promise<number> => parseFloat(await tab.locator(`#actors tr[data-path="${path}"] td`).first().evaluate((td) => (td as unknown as { style: { paddingLeft: string } }).style.paddingLeft));
      expect(await indent("/user/team/left")).to.be.greaterThan(await indent("/user/team"));
      expect(Number((await tab.locator("#summary .figure b").nth(2).textContent())!.replace(/,/g, ""))).to.be.greaterThan(0);

      system.spawn(counter, { name: "late-arrival" });
      await tab.waitForSelector('#actors tr.new[data-path="/user/late-arrival"]', { timeout: 10_000 });
      expect(errors).to.deep.equal([]);
      expect(requested.every((r) => r.startsWith(url)), requested.join(", ")).to.equal(true);
      // docs/live-view.md's picture, written there only when asked (after half a minute of history for
      // the chart), so a test run leaves the checkout as it was.
      const forDocs = process.env.TROUPE_UPDATE_DOCS_IMAGES === "1";
      if (forDocs) await eventuallyAsync("30 updates", async () => Number(await tab.getAttribute("body", "data-updates")) >= 30, 60_000);
      const images = forDocs ? join(PROJECT_ROOT, "docs", "images") : dir;
      mkdirSync(images, { recursive: true });
      const shot = await tab.screenshot({ path: join(images, "dashboard.png") });
      expect(shot.length).to.be.greaterThan(10_000);
    } finally {
      await browser.close();
    }
  });
});
