import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { ActorSystem, TransportError, connectNats, startEmbeddedNats } from "../../runtime/index.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { eventually } from "../helpers/conditions.js";
import { natsServerFor, processGone } from "../helpers/nats.js";

describe("embedded nats-server and connection errors (integration)", function () {
  this.timeout(30_000);

  it("embedded: starts on a free loopback port, serves a node, and stops with no process left", async function () {
    const server = await natsServerFor(this);
    expect(server.url).to.match(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const system = await ActorSystem.start({ name: "embedded", transport: await connectNats({ servers: server.url }) });
    await system.shutdown();
    expect(await system.closed()).to.equal(undefined);
    await server.stop();
    expect(processGone(server.pid)).to.equal(true);
  });

  it("embedded: two servers started at once get different ports", async function () {
    const first = await natsServerFor(this);
    const second = await startEmbeddedNats();
    expect(first.port).to.not.equal(second.port);
    await Promise.all([first.stop(), second.stop()]);
  });

  /** Starts `troupe node` with no --nats and resolves once it is ready, with its private server's pid. */
  async function soloNode(): Promise<{ child: ChildProcess; serverPid: number; exited: Promise<number | null> }> {
    const child = spawn(process.execPath, [`${PROJECT_ROOT}/bin/troupe.mjs`, "node", "--system", "solo"], { stdio: ["ignore", "pipe", "pipe"] });
    let serverPid: number | undefined;
    let ready = false;
    createInterface({ input: child.stderr }).on("line", (line) => {
      const match = /private nats-server at \S+ \(pid (\d+)\)/.exec(line);
      if (match) serverPid = Number(match[1]);
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.includes('"event":"ready"')) ready = true;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await eventually("the node to be ready", () => ready && serverPid !== undefined, 20_000);
    expect(processGone(serverPid!)).to.equal(false);
    return { child, serverPid: serverPid!, exited };
  }

  it("embedded: `troupe node` without --nats runs a private server and stops it on SIGTERM, leaving no orphan", async function () {
    await (await natsServerFor(this)).stop(); // skips (or fails under CI) when there is no nats-server
    const node = await soloNode();
    node.child.kill("SIGTERM");
    expect(await node.exited).to.equal(0);
    await eventually("the private nats-server to exit", () => processGone(node.serverPid), 5_000);
  });

  it("embedded: a node killed with SIGKILL takes its private server with it", async function () {
    await (await natsServerFor(this)).stop();
    const node = await soloNode();
    node.child.kill("SIGKILL");
    await node.exited;
    await eventually("the orphaned nats-server to be killed", () => processGone(node.serverPid), 5_000);
  });

  it("connection: an unreachable server gives an error that names it and the fix, without credentials", async () => {
    const error = await connectNats({ servers: "nats://alice:s3cret@127.0.0.1:1", maxReconnectAttempts: 0, timeout: 2_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(TransportError);
    const message = (error as Error).message;
    expect(message).to.match(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
    expect(message).to.match(/nats-server is running/);
    expect(message).to.not.include("s3cret");
  });
});
