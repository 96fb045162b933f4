/**
 * Head sampling's decision for a new trace, made without the SDK when `startTracing` set the SDK up
 * with a trace-id-ratio sampler (`OTEL_TRACES_SAMPLER=[parentbased_]traceidratio`): a message sent
 * outside any trace starts one, and at 1% the SDK spent more on the 99 it drops (ids, sampler, span,
 * validation) than the node did on the message. Troupe draws the trace id, judges it as
 * `TraceIdRatioBasedSampler` does (the four 32-bit words XORed, below `ratio * 0xffffffff`), and only
 * for a sampled one calls the SDK, whose id generator then hands out that same id, so the SDK's own
 * sampler agrees. Other samplers, or an SDK set up by the user, go through the SDK every time.
 *
 * Shared through a global slot, as the OpenTelemetry API shares its providers: the SDK is set up in
 * one place (`troupe/tracing`), the systems that trace are started in another.
 */
export interface RootSampling {
  /** Traces whose id accumulates to this or more are not sampled. */
  readonly upperBound: number;
  /** The id the SDK's next root span gets, set just before Troupe starts a sampled root. */
  nextTraceId: string | undefined;
}

const SLOT = Symbol.for("troupe.tracing.root-sampling");
type Slotted = { [SLOT]?: RootSampling };

export function rootSampling(): RootSampling | undefined {
  return (globalThis as Slotted)[SLOT];
}

/** Installs (or, with undefined, removes) the decision for a sampler of `ratio` (0 to 1). */
export function setRootSampling(ratio: number | undefined): RootSampling | undefined {
  const value = ratio === undefined ? undefined : { upperBound: ratio >= 1 ? 0x1_0000_0000 : Math.floor(Math.max(0, ratio) * 0xffff_ffff), nextTraceId: undefined };
  (globalThis as Slotted)[SLOT] = value;
  return value;
}

/** The ratio of `OTEL_TRACES_SAMPLER`/`_ARG` when it is a trace-id-ratio sampler (the SDK's default ratio is 1). */
export function ratioSamplerFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const sampler = env.OTEL_TRACES_SAMPLER;
  if (sampler !== "traceidratio" && sampler !== "parentbased_traceidratio") return undefined;
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? "1");
  return Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : undefined;
}

/** A new trace: its id, and whether a trace-id-ratio sampler with `upperBound` samples it. */
export function drawTrace(upperBound: number): { traceId: string; sampled: boolean } {
  const w0 = randomWord();
  const w1 = randomWord();
  const w2 = randomWord();
  let w3 = randomWord();
  // An all-zero id is invalid (W3C); the SDK's generator makes the last byte 1 then, so does this.
  if ((w0 | w1 | w2 | w3) === 0) w3 = 1;
  return { traceId: hex(w0, w1, w2, w3), sampled: (w0 ^ w1 ^ w2 ^ w3) >>> 0 < upperBound };
}

/** A new span id (16 hex digits, not all zero). */
export function drawSpanId(): string {
  const high = randomWord();
  const low = randomWord();
  return hex(high, (high | low) === 0 ? 1 : low);
}

/** An id generator for the SDK: the id Troupe drew for a sampled root, else random ones as the SDK's own. */
export function rootSamplingIdGenerator(sampling: RootSampling): { generateTraceId(): string; generateSpanId(): string } {
  return {
    generateTraceId: () => {
      const next = sampling.nextTraceId;
      sampling.nextTraceId = undefined;
      return next ?? drawTrace(0).traceId;
    },
    generateSpanId: drawSpanId,
  };
}

function randomWord(): number {
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

/** Words to hex through one native call (`Number#toString(16)` costs several times more). */
const WORDS = Buffer.allocUnsafe(16);
function hex(...words: number[]): string {
  for (let i = 0; i < words.length; i++) WORDS.writeUInt32BE(words[i]!, i * 4);
  return WORDS.toString("hex", 0, words.length * 4);
}
