import { expect } from "chai";
import * as api from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { MESSAGE_ID_HEADER, Tracing } from "../../runtime/tracing/tracing.js";
import { TRACE_CONTEXT } from "../../runtime/codec/trace-context.js";

describe("tracing: send spans (unit)", () => {
  const exporter = new InMemorySpanExporter();
  const tracing = new Tracing(api, { tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }), parentBased: true }, "n1", "shop");
  const to = (path: string) => ({ system: "shop", node: "n2", path });
  const destination = { name: "troupe.shop.node.n2", template: "troupe.shop.node.{node}" };
  beforeEach(() => exporter.reset());

  it("send: a send made while another is open (a delivery that sends) ends its own span; the outer one ends when it has gone out", () => {
    const outer = tracing.send(to("/user/a"), destination, "test.Outer", undefined);
    const inner = tracing.send(to("/user/b"), destination, "test.Inner", undefined);
    tracing.sent(inner.span, 10);
    expect(exporter.getFinishedSpans().map((s) => s.attributes["troupe.message.type"])).to.deep.equal(["test.Inner"]);
    tracing.sent(outer.span, 20);
    const [innerSpan, outerSpan] = exporter.getFinishedSpans();
    expect(innerSpan!.attributes["messaging.message.body.size"]).to.equal(10);
    expect(outerSpan!.attributes["troupe.message.type"]).to.equal("test.Outer");
    expect(outerSpan!.attributes["messaging.message.body.size"]).to.equal(20);
  });

  it("send: a send that failed before it went out ends with an error status, and leaves other open sends alone", () => {
    const outer = tracing.send(to("/user/a"), destination, "test.Outer", undefined);
    const failed = tracing.send(to("/user/b"), destination, "test.Failed", undefined);
    tracing.sendFailed(failed.span, new Error("too large"));
    tracing.sent(outer.span, 5);
    const byType = new Map(exporter.getFinishedSpans().map((s) => [s.attributes["troupe.message.type"], s]));
    expect(byType.get("test.Failed")!.status).to.deep.include({ code: api.SpanStatusCode.ERROR, message: "too large" });
    expect(byType.get("test.Outer")!.status.code).to.equal(api.SpanStatusCode.UNSET);
    expect(byType.get("test.Outer")!.attributes["messaging.message.body.size"]).to.equal(5);
  });

  it("send: forwarded headers that carry an older node's message id lose it (it named the message they came with); the rest go on", () => {
    const forwarded = { [MESSAGE_ID_HEADER]: "old-7", "x-tenant": "acme" };
    const open = tracing.send(to("/user/a"), destination, "test.Forwarded", forwarded);
    tracing.sent(open.span, 1);
    expect(open.headers).to.not.have.property(MESSAGE_ID_HEADER);
    expect(open.headers).to.include({ "x-tenant": "acme" });
    expect((open.headers as Record<symbol, unknown>)[TRACE_CONTEXT], "the send's own trace context").to.be.instanceOf(Uint8Array);
    expect(forwarded, "the caller's object is not changed").to.include({ [MESSAGE_ID_HEADER]: "old-7" });
    const [span] = exporter.getFinishedSpans();
    expect(span!.attributes["messaging.message.id"], "this message's id: its send span's").to.equal(span!.spanContext().spanId);
  });
});
