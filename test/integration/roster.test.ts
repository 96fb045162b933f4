import { expect } from "chai";
import { ActorSystem, connectNats, type EmbeddedNats } from "../../runtime/index.js";
import { RosterRequest } from "../../runtime/codec/wire-types.js";
import { fetchRoster } from "../../runtime/membership/roster.js";
import type { InboundMessage, Transport } from "../../runtime/transport/transport.js";
import { eventually } from "../helpers/conditions.js";
import { natsServerFor } from "../helpers/nats.js";

const SYSTEM = "it-roster";

describe("roster over a real nats-server (integration)", function () {
  this.timeout(60_000);
  let server: EmbeddedNats;
  let nodes: ActorSystem[] = [];
  let other: ActorSystem | undefined;
  let reader: Transport;

  before(async function () {
    server = await natsServerFor(this);
    nodes = await Promise.all(["a", "b", "c", "d"].map(async (nodeId) => ActorSystem.start({ name: SYSTEM, nodeId, transport: await connectNats({ servers: server.url }) })));
    // Another system on the same server: its roster must never show up in this one's.
    other = await ActorSystem.start({ name: "it-roster-other", nodeId: "z", transport: await connectNats({ servers: server.url }) });
    reader = await connectNats({ servers: server.url, inboxPrefix: `troupe.${SYSTEM}._INBOX` });
    await eventually("every node sees the other three", () => nodes.every((n) => n.nodes().length === 4), 10_000);
  });

  after(async () => {
    await reader?.close();
    await Promise.all([...nodes, ...(other ? [other] : [])].map((n) => n.shutdown()));
    await server?.stop();
  });

  it("roster: one node answers with the whole roster, paged from that same node", async () => {
    const subject = nodes[0]!.subjects.membershipRoster;
    // A listener on a connection of its own, outside the queue group: it gets a copy of every request
    // the reader sends (to the group, or to one member's subject) and answers none, so the members
    // answer as they would without it. Only the reader's requests count (members page each other too).
    const spy = await connectNats({ servers: server.url });
    const asked: string[] = [];
    const fromReader = (m: InboundMessage): void => {
      if (m.reply?.startsWith(`troupe.${SYSTEM}._INBOX.`)) asked.push(m.subject);
    };
    spy.subscribe(subject, fromReader);
    spy.subscribe(`${subject}.*`, fromReader);
    await spy.flush();
    try {
      const roster = await fetchRoster(reader, subject, { system: SYSTEM, timeoutMs: 5_000, maxNodes: 100, pageSize: 1 });
      expect(roster).to.not.equal(undefined);
      expect(roster!.nodes.map((n) => n.node)).to.deep.equal(["a", "b", "c", "d"]);
      expect(roster!.total).to.equal(4);
      expect(roster!.complete).to.equal(true);
      expect(["a", "b", "c", "d"]).to.include(roster!.answerer);
      // Four pages of one node each: the first asked of the queue group, the other three of the member that answered it.
      await eventually("the spy to see the four requests", () => asked.length >= 4);
      expect(asked).to.deep.equal([subject, ...Array<string>(3).fill(`${subject}.${roster!.answerer}`)]);
    } finally {
      await spy.close();
    }
  });

  it("roster: read through an inbox of the reader's own (the CLI's permissions)", async () => {
    const subject = nodes[0]!.subjects.membershipRoster;
    const roster = await fetchRoster(reader, subject, { system: SYSTEM, timeoutMs: 5_000, maxNodes: 100, inboxPrefix: `troupe.${SYSTEM}._INBOX` });
    expect(roster!.nodes.map((n) => n.node)).to.deep.equal(["a", "b", "c", "d"]);
  });

  it("roster: each request is answered by one node, not every node", async () => {
    const subject = nodes[0]!.subjects.membershipRoster;
    const inbox = `troupe.${SYSTEM}._INBOX.count-${Date.now()}`;
    const answers: Uint8Array[] = [];
    const stop = reader.subscribe(inbox, (m) => answers.push(m.data));
    await reader.flush();
    reader.publish(subject, RosterRequest.encode({ system: SYSTEM }).finish(), inbox);
    await eventually("an answer", () => answers.length >= 1);
    // Then a request to each node's own subject. A node takes both requests in the order the reader
    // sent them and answers each at once, and its answers reach the reader in the order it sent them:
    // once every node has answered the second, any answer of theirs to the first has arrived.
    await Promise.all(nodes.map((n) => reader.request(`${subject}.${n.nodeId}`, RosterRequest.encode({ system: SYSTEM }).finish(), 2_000)));
    stop();
    expect(answers).to.have.length(1);
  });

  it("roster: another system's request gets no answer, and is a dead letter on the node that refused it", async () => {
    const subject = nodes[0]!.subjects.membershipRoster;
    const before = nodes.reduce((sum, n) => sum + n.deadLetters.countOf("refused-control"), 0);
    const roster = await fetchRoster(reader, subject, { system: "it-roster-other", timeoutMs: 1_000, maxNodes: 100 });
    expect(roster).to.equal(undefined);
    await eventually("the refusal counted", () => nodes.reduce((sum, n) => sum + n.deadLetters.countOf("refused-control"), 0) > before);
  });
});
