import { expect } from "chai";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { SamplingDecision, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { isSampledTraceContext, isTraceContext } from "../../runtime/codec/trace-context.js";
import { spanContextOf } from "../../runtime/tracing/binary-context.js";
import { UnsampledContext } from "../../runtime/tracing/unsampled-context.js";
import { drawSpanId, ratioSamplerFromEnv, rootSamplingIdGenerator, sampleRoot, setRootSampling } from "../../runtime/tracing/root-sampling.js";

describe("root sampling: new traces decided without the SDK (unit)", () => {
  afterEach(() => setRootSampling(undefined));

  it("root sampling: a sampled root's id is one the SDK's TraceIdRatioBasedSampler samples, an unsampled root's drawn ids one it does not, at every ratio", () => {
    for (const ratio of [0, 0.01, 0.3, 0.5, 0.99, 1]) {
      const sampling = setRootSampling(ratio)!;
      const sdk = new TraceIdRatioBasedSampler(ratio);
      const seen = new Set<string>();
      const kept: Uint8Array[] = [];
      let sampled = 0;
      for (let i = 0; i < 5_000; i++) {
        let traceId: string;
        const isSampled = sampleRoot(sampling);
        if (isSampled) {
          traceId = sampling.nextTraceId!;
          sampling.nextTraceId = undefined;
          sampled++;
        } else {
          expect(sampling.nextTraceId).to.equal(undefined);
          const bytes = UnsampledContext.begun(ROOT_CONTEXT, sampling.upperBound).traceContext;
          expect(isTraceContext(bytes), "a valid trace context").to.equal(true);
          expect(isSampledTraceContext(bytes)).to.equal(false);
          kept.push(bytes);
          traceId = spanContextOf(bytes).traceId;
        }
        expect(traceId).to.match(/^[0-9a-f]{32}$/).and.not.match(/^0+$/);
        const decision = sdk.shouldSample(ROOT_CONTEXT, traceId).decision;
        expect(decision === SamplingDecision.RECORD_AND_SAMPLED, `${traceId} at ${ratio}`).to.equal(isSampled);
        seen.add(traceId);
      }
      expect(seen.size, "no id twice").to.equal(5_000);
      // Views handed out keep their bytes when the pool is refilled (5,000 draws span several pools).
      expect(new Set(kept.map((b) => spanContextOf(b).traceId)).size).to.equal(kept.length);
      // Binomial: within 5 standard deviations of the ratio.
      const sd = Math.sqrt(5_000 * ratio * (1 - ratio));
      expect(sampled, `sampled at ${ratio}`).to.be.within(5_000 * ratio - 5 * sd, 5_000 * ratio + 5 * sd);
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
