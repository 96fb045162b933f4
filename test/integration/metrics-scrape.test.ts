import { expect } from "chai";
import { ActorSystem, AskFailedError, connectNats, type ActorRef, type EmbeddedNats } from "../../runtime/index.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { GetStats, Ping, Stats } from "../../examples/ping-pong/messages.js";
import { POISON } from "../fixtures/counter.js";
import { eventuallyAsync } from "../helpers/conditions.js";
import { natsServerFor } from "../helpers/nats.js";
import { freePort } from "../helpers/nats-with-config.js";
import { runTroupe, type TroupeProcess } from "../helpers/troupe-process.js";

const MODULE = `${PROJECT_ROOT}/test/fixtures/metered-topology.ts`;

/** One sample of a Prometheus text page: `name{labels} value`, the labels that matter, or undefined. */
function sample(page: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const found = page.split("\n").filter((line) => {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) return false;
    return Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`));
  });
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}:\n${found.join("\n")}`);
  return found[0] === undefined ? undefined : Number(found[0].slice(found[0].lastIndexOf(" ") + 1));
}

describe("metrics from a real `troupe node --metrics-port` (integration: nats-server, Prometheus scrape)", function () {
  this.timeout(90_000);
  let nats: EmbeddedNats;
  let node: TroupeProcess | undefined;
  let client: ActorSystem | undefined;

  before(async function () {
    nats = await natsServerFor(this);
  });
  after(async () => {
    await client?.shutdown();
    await node?.stop();
    await nats?.stop();
  });

  it("metrics: a scrape of the node shows the messages, asks, dead letters, restart and live nodes the test caused", async () => {
    const port = await freePort();
    node = runTroupe(["node", "--nats", nats.url, "--system", "scraped", "--node-id", "worker-1", "--module", MODULE, "--metrics-port", String(port)]);
    await node.ready(60_000);
    expect(JSON.parse(node.stdout().split("\n").find((line) => line.includes('"ready"'))!).metricsPort).to.equal(port);
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

    client = await ActorSystem.start({ name: "scraped", nodeId: "tester", transport: await connectNats({ servers: nats.url }), types: [Ping, GetStats, Stats] });
    const counter: ActorRef<Ping | GetStats> = client.refFor({ system: "scraped", node: "worker-1", path: "/user/counter" });
    for (let seq = 1; seq <= 10; seq++) counter.tell(Ping.create({ seq }));
    for (let i = 0; i < 3; i++) expect((await counter.ask(GetStats.create(), Stats)).pings).to.equal(10);
    counter.tell(Ping.create({ seq: POISON }));
    const missing = await client.refFor<Ping>({ system: "scraped", node: "worker-1", path: "/user/nobody" }).ask(Ping.create({ seq: 1 }), Stats).catch((error: unknown) => error);
    expect(missing).to.be.instanceOf(AskFailedError);

    let page = "";
    await eventuallyAsync("the restart and both nodes on the page", async () => {
      page = await scrape();
      return sample(page, "troupe_actor_restarts_total", { troupe_actor_kind: "counter" }) === 1 && sample(page, "troupe_nodes") === 2;
    }, 20_000);
    const counterKind = { troupe_actor_kind: "counter" };
    // 10 tells, 3 asks and the poison reached the counter; the ask for /user/nobody did not.
    expect(sample(page, "troupe_actor_messages_received_total", counterKind)).to.equal(14);
    expect(sample(page, "troupe_actor_messages_processed_total", counterKind)).to.equal(14);
    expect(sample(page, "troupe_actor_failures_total", counterKind)).to.equal(1);
    expect(sample(page, "troupe_supervision_decisions_total", { ...counterKind, troupe_supervision_directive: "restart" })).to.equal(1);
    expect(sample(page, "messaging_process_duration_count", counterKind)).to.equal(14);
    expect(sample(page, "messaging_client_consumed_messages_total")).to.equal(15);
    // The 3 Stats replies, and the Failure answering the ask for /user/nobody.
    expect(sample(page, "messaging_client_sent_messages_total")).to.equal(4);
    expect(sample(page, "troupe_dead_letters_total", { troupe_dead_letter_reason: "unknown-target" })).to.equal(1);
    expect(sample(page, "troupe_dead_letters_total", { troupe_dead_letter_reason: "handler-failed" })).to.equal(1);
    expect(sample(page, "troupe_actors", counterKind)).to.equal(1);
    expect(sample(page, "troupe_actor_mailbox_depth", counterKind)).to.equal(0);
    expect(page).to.include('troupe_node_id="worker-1"');
    // The endpoint does not hold the node up.
    expect(await node.stop()).to.equal(0);
  });
});
