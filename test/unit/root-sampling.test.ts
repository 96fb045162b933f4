import { expect } from "chai";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { SamplingDecision, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { isSampledTraceContext, isTraceContext } from "../../runtime/codec/trace-context.js";
import { spanContextOf } from "../../runtime/tracing/binary-context.js";
import { drawRoot, drawSpanId, drawTrace, ratioSamplerFromEnv, rootSamplingIdGenerator, setRootSampling } from "../../runtime/tracing/root-sampling.js";

describe("root sampling: new traces decided without the SDK (unit)", () => {
  afterEach(() => setRootSampling(undefined));

  it("root sampling: the decision for a drawn trace id is the SDK's TraceIdRatioBasedSampler's, at every ratio", () => {
    for (const ratio of [0, 0.01, 0.3, 0.5, 0.99, 1]) {
      const sampling = setRootSampling(ratio)!;
      const sdk = new TraceIdRatioBasedSampler(ratio);
      let sampled = 0;
      for (let i = 0; i < 5_000; i++) {
        const drawn = drawTrace(sampling.upperBound);
        const decision = sdk.shouldSample(ROOT_CONTEXT, drawn.traceId).decision;
        expect(drawn.sampled, `${drawn.traceId} at ${ratio}`).to.equal(decision === SamplingDecision.RECORD_AND_SAMPLED);
        expect(drawn.traceId).to.match(/^[0-9a-f]{32}$/);
        if (drawn.sampled) sampled++;
      }
      // Binomial: within 5 standard deviations of the ratio.
      const sd = Math.sqrt(5_000 * ratio * (1 - ratio));
      expect(sampled, `sampled at ${ratio}`).to.be.within(5_000 * ratio - 5 * sd, 5_000 * ratio + 5 * sd);
    }
  });

  it("root sampling: drawRoot gives an unsampled trace its binary trace context and a sampled one its id for the SDK, as the SDK's sampler decides", () => {
    for (const ratio of [0, 0.01, 0.5, 1]) {
      const sampling = setRootSampling(ratio)!;
      const sdk = new TraceIdRatioBasedSampler(ratio);
      const seen = new Set<string>();
      const kept: Uint8Array[] = [];
      for (let i = 0; i < 3_000; i++) {
        const bytes = drawRoot(sampling);
        const traceId = bytes === undefined ? sampling.nextTraceId! : spanContextOf(bytes).traceId;
        sampling.nextTraceId = undefined;
        if (bytes !== undefined) {
          expect(isTraceContext(bytes), "a valid trace context").to.equal(true);
          expect(isSampledTraceContext(bytes)).to.equal(false);
          kept.push(bytes);
        }
        expect(traceId).to.match(/^[0-9a-f]{32}$/).and.not.match(/^0+$/);
        const decision = sdk.shouldSample(ROOT_CONTEXT, traceId).decision;
        expect(bytes === undefined, `${traceId} at ${ratio}`).to.equal(decision === SamplingDecision.RECORD_AND_SAMPLED);
        seen.add(traceId);
      }
      expect(seen.size).to.equal(3_000);
      // Views handed out keep their bytes when the pool is refilled (3,000 draws span several pools).
      expect(new Set(kept.map((b) => spanContextOf(b).traceId)).size).to.equal(kept.length);
    }
  });

  it("root sampling: the SDK's id generator hands out the id drawn for a sampled root once, then random ones", () => {
    const sampling = setRootSampling(0.5)!;
    const ids = rootSamplingIdGenerator(sampling);
    sampling.nextTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    expect(ids.generateTraceId()).to.equal("4bf92f3577b34da6a3ce929d0e0e4736");
    const next = ids.generateTraceId();
    expect(next).to.match(/^[0-9a-f]{32}$/).and.not.equal("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(drawSpanId()).to.match(/^[0-9a-f]{16}$/);
  });

  it("root sampling: only trace-id-ratio samplers are decided here; their ratio comes from OTEL_TRACES_SAMPLER_ARG (default 1)", () => {
    expect(ratioSamplerFromEnv({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.01" })).to.equal(0.01);
    expect(ratioSamplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio" })).to.equal(1);
    expect(ratioSamplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" })).to.equal(undefined);
    expect(ratioSamplerFromEnv({ OTEL_TRACES_SAMPLER: "parentbased_always_on" })).to.equal(undefined);
    expect(ratioSamplerFromEnv({})).to.equal(undefined);
  });
});
