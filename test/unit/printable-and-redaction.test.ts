import { expect } from "chai";
import { printable } from "../../runtime/printable.js";
import { redactedServers, splitUserinfo } from "../../runtime/transport/nats-transport.js";
import { formatNodeTable } from "../../runtime/cli/nodes-command.js";
import { describeEvent } from "../../runtime/cli/describe-event.js";

describe("output from the wire (unit)", () => {
  it("printable: escape sequences, newlines and bidi overrides become visible escapes; plain text is unchanged", () => {
    expect(printable("worker-1 /user/a")).to.equal("worker-1 /user/a");
    expect(printable("evil\u001b[2J\u001b[31mred")).to.equal("evil\\x1b[2J\\x1b[31mred");
    expect(printable("a\nFAKE LINE\r")).to.equal("a\\nFAKE LINE\\r");
    expect(printable("x\u202eesrever\u0085\u007f")).to.equal("x\\u202eesrever\\x85\\x7f");
    expect(printable("日本語 ok")).to.equal("日本語 ok");
  });

  it("troupe nodes: a node id and kinds with control characters cannot reach the terminal raw", () => {
    const table = formatNodeTable([{ node: "n1\u001b]0;pwned\u0007", kinds: ["k\nFAKE  ROW"], actorCount: 1, startedAtMs: 0, lastSeenMs: 0 } as never], 1_000);
    expect(table).not.to.match(/[\u001b\u0007]/);
    expect(table.split("\n")).to.have.length(2);
    expect(table).to.include("n1\\x1b]0;pwned\\x07").and.to.include("k\\nFAKE  ROW");
  });

  it("event log: a membership event naming a crafted node is one escaped line", () => {
    const line = describeEvent({ type: "membership", event: { type: "joined", node: { node: "n\u001b[1Ax\nforged" } } } as never);
    expect(line).to.equal("membership: node n\\x1b[1Ax\\nforged joined");
  });
});

describe("credentials in server URLs (unit)", () => {
  const cases: [string, string, string, string | undefined][] = [
    ["user and password", "nats://alice:s3cret@127.0.0.1:4222", "nats://127.0.0.1:4222", "alice:s3cret"],
    ["a password holding '/'", "nats://alice:pa/ss@host:4222", "nats://host:4222", "alice:pa/ss"],
    ["a password holding '@'", "nats://alice:p@ss@host:4222", "nats://host:4222", "alice:p@ss"],
    ["no scheme", "alice:s3cret@host:4222", "host:4222", "alice:s3cret"],
    ["a token", "tls://token@host", "tls://host", "token"],
    ["no credentials", "nats://host:4222", "nats://host:4222", undefined],
  ];
  for (const [label, url, server, userinfo] of cases) {
    it(`redaction: ${label} is taken out whole (${server})`, () => {
      expect(splitUserinfo(url)).to.deep.equal({ server, userinfo });
      expect(redactedServers(url)).to.deep.equal([server]);
    });
  }
});

describe("troupe actors output (unit)", () => {
  it("a path, kind or node id with control characters is escaped in the tree", async () => {
    const { formatActorTree } = await import("../../runtime/introspection/actor-tree.js");
    const text = formatActorTree([{ path: "/user/a\u001b[2J", kind: "k\nX", node: "n\u0007", restarts: 0, mailboxSize: 0, children: [] }]);
    expect(text).not.to.match(/[\u001b\u0007]/);
    expect(text.split("\n")).to.have.length(2);
    expect(text).to.include("/user/a\\x1b[2J").and.to.include("k\\nX").and.to.include("n\\x07");
  });
});
