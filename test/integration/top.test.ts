import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ActorSystem, connectNats, type ActorRef } from "../../runtime/index.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { troupe } from "../../proto/gen/troupe.js";
import { GetStats, Ping, Pong, Stats } from "../../examples/ping-pong/messages.js";
import { counter } from "../fixtures/counter.js";
import { eventually, eventuallyAsync } from "../helpers/conditions.js";
import { startNatsWithConfig, type ConfiguredNats } from "../helpers/nats-with-config.js";
import { inboxPrefixOf, nodeAndMonitorConfig } from "../helpers/role-users.js";
import { startTmux, type TmuxSession } from "../helpers/tmux.js";
import { runTroupe, stopTroupeProcesses } from "../helpers/troupe-process.js";

const PASSWORD = "top-test-password";
/** What `troupe top` is given: the monitor role of docs/operations.md, nothing more. */
const MONITOR_ENV = { NATS_USER: "live-monitor", NATS_PASSWORD: PASSWORD, NATS_INBOX_PREFIX: inboxPrefixOf("live-monitor") };

describe("troupe top: a live view of a running system, with the monitor role's permissions (integration: nats-server, tmux)", function () {
  this.timeout(60_000);
  let dir: string;
  let server: ConfiguredNats;
  let system: ActorSystem;
  let busy: ActorRef<Ping | GetStats>;
  let ghost: ActorRef<Ping | GetStats>;
  let traffic: NodeJS.Timeout;
  const timers: NodeJS.Timeout[] = [];
  const sessions: TmuxSession[] = [];
  const raws: NatsConnection[] = [];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "troupe-top-"));
    server = await startNatsWithConfig(this, dir, nodeAndMonitorConfig("live", PASSWORD));
    const transport = await connectNats({ servers: server.url, user: "live-node", pass: PASSWORD, inboxPrefix: "troupe.live._INBOX" });
    system = await ActorSystem.start({ name: "live", nodeId: "node-a", transport, types: [Ping, Pong, GetStats, Stats] });
    busy = system.spawn(counter, { name: "busy" });
    ghost = system.spawn(counter, { name: "ghost" });
    await system.stop(ghost);
    // Steady traffic, so the busy actor has a rate whenever top samples.
    traffic = setInterval(() => {
      for (let i = 0; i < 50; i++) busy.tell(Ping.create({ seq: i }));
    }, 10);
  });

  afterEach(async () => {
    timers.splice(0).forEach(clearInterval);
    await Promise.all(sessions.splice(0).map((s) => s.kill()));
    await Promise.all(raws.splice(0).map((c) => c.close()));
    await stopTroupeProcesses();
  });

  after(async () => {
    clearInterval(traffic);
    try {
      await system?.shutdown();
    } finally {
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Tells to a stopped actor: each one a dead letter on node-a. */
  const makeDeadLetters = (): void => void timers.push(setInterval(() => ghost.tell(Ping.create({ seq: 1 })), 20));

  const topIn = async (context: Mocha.Context): Promise<TmuxSession> => {
    const env = Object.entries(MONITOR_ENV).map(([k, v]) => `${k}=${v}`).join(" ");
    const session = await startTmux(context, `printf 'before top\\n'; ${env} '${process.execPath}' '${join(PROJECT_ROOT, "bin", "troupe.mjs")}' top --nats ${server.url} --system live; echo "top exited $?"; stty -a; read end`);
    sessions.push(session);
    return session;
  };

  /** The number in the first match of `pattern` on the screen (commas and all), or -1. */
  const figure = (screen: string, pattern: RegExp): number => Number(pattern.exec(screen)?.[1]?.replace(/,/g, "") ?? -1);

  it("top: on a terminal it shows the node, an actor with a non-zero rate and, once there are some, dead letters per second; q quits and gives the terminal back", async function () {
    const top = await topIn(this);
    let screen = "";
    await eventuallyAsync("the node and the busy actor's rate on the screen", async () => {
      screen = await top.screen();
      return /^node-a\s+\d+/m.test(screen) && figure(screen, /\/user\/busy\s+counter\s+node-a\s+([\d.,]+)/) > 0;
    }, 20_000).catch((error: Error) => expect.fail(`${error.message}\n${screen}`));
    expect(await top.format("#{alternate_on}")).to.equal("1");
    expect(screen).to.match(/^troupe top: system live on nats:\/\/127\.0\.0\.1:\d+/m);
    expect(screen).to.contain("BUSIEST BY RATE");

    makeDeadLetters();
    await eventuallyAsync("dead letters per second on the screen", async () => {
      screen = await top.screen();
      return figure(screen, /dead letters\/s ([\d.,]+)/) > 0 && figure(screen, /^node-a\s+\d+\s+[\d.,]+\s+([\d.,]+)/m) > 0;
    }, 20_000).catch((error: Error) => expect.fail(`${error.message}\n${screen}`));

    await top.sendKeys("q");
    await eventuallyAsync("top to exit", async () => (await top.screen()).includes("top exited"), 10_000);
    screen = await top.screen();
    expect(screen).to.contain("top exited 0");
    // The shell's own screen is back (alternate screen left), with the cursor shown and the line
    // discipline cooked again (canonical input, echo): what was on it before is still there. (The
    // shell waits on `read`: tmux hides the cursor of a pane whose command has ended.)
    expect(await top.format("#{alternate_on} #{cursor_flag}")).to.equal("0 1");
    expect(screen).to.contain("before top");
    expect(screen).to.not.contain("BUSIEST BY RATE");
    expect(screen).to.match(/(^|\s)icanon(\s|$)/m);
    expect(screen).to.match(/(^|\s)echo(\s|$)/m);
  });

  it("top: Ctrl-C quits as q does, exit code 0 and the terminal restored", async function () {
    const top = await topIn(this);
    await eventuallyAsync("the first screen", async () => (await top.screen()).includes("BUSIEST BY RATE"), 20_000);
    await top.sendKeys("C-c");
    await eventuallyAsync("top to exit", async () => (await top.screen()).includes("top exited"), 10_000);
    expect(await top.screen()).to.contain("top exited 0");
    expect(await top.format("#{alternate_on} #{cursor_flag}")).to.equal("0 1");
  });

  it("top: when stdout is not a terminal, a plain snapshot every second with no escape sequences, until SIGTERM (exit 0)", async () => {
    const top = runTroupe(["top", "--nats", server.url, "--system", "live"], MONITOR_ENV);
    await eventually("two snapshots", () => top.stdout().split("troupe top: system live").length > 2, 20_000);
    expect(await top.stop()).to.equal(0);
    expect(top.stdout()).to.not.match(/\u001b/);
    expect(top.stdout()).to.match(/^\/user\/busy\s+counter\s+node-a\s+[1-9]/m);
  });

  it("top --json: one snapshot with rates over a second, under the monitor role, nothing refused", async () => {
    makeDeadLetters();
    const top = runTroupe(["top", "--json", "--nats", server.url, "--system", "live"], MONITOR_ENV);
    expect(await top.exited).to.equal(0);
    expect(top.stderr()).to.equal("");
    const view = JSON.parse(top.stdout()) as {
      system: string;
      nodes: { node: string; actors: number; processedPerSecond: number; deadLettersPerSecond: number; answered: boolean }[];
      actors: { path: string; node: string; perSecond: number; processed: number }[];
      totals: { processedPerSecond: number; deadLettersPerSecond: number };
    };
    expect(view.system).to.equal("live");
    expect(view.nodes.map((n) => [n.node, n.answered])).to.deep.equal([["node-a", true]]);
    const busyRow = view.actors.find((a) => a.path === "/user/busy")!;
    expect(busyRow.node).to.equal("node-a");
    expect(busyRow.perSecond).to.be.greaterThan(0);
    expect(busyRow.processed).to.be.greaterThan(busyRow.perSecond);
    expect(view.totals.processedPerSecond).to.be.at.least(busyRow.perSecond);
    expect(view.totals.deadLettersPerSecond).to.be.greaterThan(0);
    expect(view.actors.some((a) => a.path === "/user/ghost")).to.equal(false);
  });

  it("top --once: what came over the bus is printed escaped, so a forged answer cannot drive the terminal", async () => {
    // Anyone who may answer on a node's actors subject (here a connection with the node role) can say anything.
    const forger = await connect({ servers: server.url, user: "live-node", pass: PASSWORD });
    raws.push(forger);
    forger.subscribe("troupe.live.actors.node-a", {
      callback: (error, msg) => {
        if (error) return;
        const actors = [{ path: "/user/\u001b[2Jwiped", kind: "k\u001b[31m", restarts: 0, mailboxSize: 7, processed: 1 }];
        msg.respond(troupe.system.ActorList.encode({ node: "evil\u009b1m\u202e", actors, page: 1, pages: 1, total: 1 }).finish());
        msg.respond(troupe.system.ActorList.encode({ node: "node-a", actors, page: 1, pages: 1, total: 1 }).finish());
      },
    });
    await forger.flush();
    // node-a keeps its own list to itself meanwhile, so the forged one is the answer top gets.
    const transport = system.transport as { publish: (subject: string, data: Uint8Array, reply?: string) => void };
    const publish = transport.publish;
    transport.publish = (subject, data, reply) => (subject.includes(".troupe-actors-") ? undefined : publish.call(system.transport, subject, data, reply));
    try {
      const top = runTroupe(["top", "--once", "--nats", server.url, "--system", "live"], MONITOR_ENV);
      expect(await top.exited).to.equal(0);
      const out = top.stdout();
      expect(out + top.stderr()).to.not.match(/[\u001b\u009b\u202e]/);
      expect(out).to.contain("/user/\\x1b[2Jwiped");
      expect(out).to.match(/^node-a\s/m);
      // The answer naming a node that was not asked is refused, and said so, escaped.
      expect(top.stderr()).to.contain("evil\\x9b1m\\u202e").and.contain("which was not asked");
    } finally {
      transport.publish = publish;
    }
  });
});
