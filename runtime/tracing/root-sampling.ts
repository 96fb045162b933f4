
/**
 * Head sampling's decision for a new trace, made without the SDK when `startTracing` set the SDK up
 * with a trace-id-ratio sampler (`OTEL_TRACES_SAMPLER=[parentbased_]traceidratio`): a message sent
 * outside any trace starts one, and at 1% the SDK spent more on the 99 it drops (ids, sampler, span,
 * validation) than the node did on the message. Troupe decides with one random word, as
 * `TraceIdRatioBasedSampler` decides on the id's four 32-bit words XORed (below `ratio * 0xffffffff`),
 * and only for a sampled trace calls the SDK, whose id generator then hands out an id that XORs to
 * that word, so the SDK's own sampler agrees. An unsampled trace's ids are drawn only when something
 * needs them (unsampled-context.ts). Other samplers, or an SDK set up by the user, go through the SDK
 * every time.
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

/** Random ids for the SDK (16 and 32 hex digits, not all zero), drawn in bulk as Troupe's own. */
export function drawIds(): { traceId: string; spanId: string } {
  for (;;) {
    if (poolOffset === POOL.length) refill();
    const at = poolOffset;
    poolOffset += 24;
    // All-zero ids are invalid (W3C): draw again (once in 2^64 times).
    if ((WORDS.getUint32(at) | WORDS.getUint32(at + 4) | WORDS.getUint32(at + 8) | WORDS.getUint32(at + 12)) === 0 || (WORDS.getUint32(at + 16) | WORDS.getUint32(at + 20)) === 0) continue;
    // Both ids through one native call: per-word conversions cost several times more.
    const hex = POOL.toString("hex", at, at + 24);
    return { traceId: hex.slice(0, 32), spanId: hex.slice(32) };
  }
}

/**
 * Decides a new trace: true when it is sampled, and then `sampling.nextTraceId` holds the id for the
 * SDK's root span. One random 32-bit word decides, as `TraceIdRatioBasedSampler` decides on the four
 * words of the id XORed: a sampled trace gets an id whose words XOR to that word, so the SDK's sampler
 * agrees; an unsampled one gets no id yet (`drawUnsampledWords`, when something needs it).
 */
export function sampleRoot(sampling: RootSampling): boolean {
  const word = nextWord();
  if (word >= sampling.upperBound) return false;
  for (;;) {
    if (poolOffset === POOL.length) refill();
    const at = poolOffset;
    poolOffset += 24;
    WORDS.setUint32(at + 12, (word ^ WORDS.getUint32(at) ^ WORDS.getUint32(at + 4) ^ WORDS.getUint32(at + 8)) >>> 0);
    if ((WORDS.getUint32(at) | WORDS.getUint32(at + 4) | WORDS.getUint32(at + 8) | WORDS.getUint32(at + 12)) === 0) continue;
    sampling.nextTraceId = POOL.toString("hex", at, at + 16);
    return true;
  }
}

/**
 * Six random words for the ids of a trace that `sampleRoot` did not sample, drawn when first needed
 * (runtime/tracing/unsampled-context.ts): the trace id's four and the span id's two, big-endian, at
 * the returned index of `RANDOM_WORDS` (until the next draw). Valid ids (not all zero), and a trace id
 * a trace-id-ratio sampler of `upperBound` would not sample either.
 */
export function drawUnsampledWords(upperBound: number): number {
  for (;;) {
    if (randomIndex > RANDOM_WORDS.length - 6) {
      fillRandom(RANDOM_WORDS);
      randomIndex = 0;
    }
    const at = randomIndex;
    randomIndex += 6;
    const w = RANDOM_WORDS;
    // All-zero ids are invalid (W3C): draw again (once in 2^64 times).
    if ((w[at]! | w[at + 1]! | w[at + 2]! | w[at + 3]!) === 0 || (w[at + 4]! | w[at + 5]!) === 0) continue;
    if ((w[at]! ^ w[at + 1]! ^ w[at + 2]! ^ w[at + 3]!) >>> 0 < upperBound) continue;
    return at;
  }
}

/** Random words (`fillRandom`), for decisions and unsampled ids, 1,024 at a time. */
export const RANDOM_WORDS = new Int32Array(1_024);
let randomIndex = RANDOM_WORDS.length;

/** The next random word, unsigned (a decision: once per new trace). */
function nextWord(): number {
  if (randomIndex === RANDOM_WORDS.length) {
    fillRandom(RANDOM_WORDS);
    randomIndex = 0;
  }
  return RANDOM_WORDS[randomIndex++]! >>> 0;
}

/**
 * xorshift128 (Marsaglia) over 32-bit words, seeded from `crypto` when the module loads: ids must not
 * collide, they need not be secret (the SDK's own come from `Math.random`), and `crypto` for every pool
 * was about a sixth of what drawing a root cost (a profile of bench/tracing-1pct.ts's sender).
 */
const STATE = new Int32Array(4);
do globalThis.crypto.getRandomValues(STATE);
while ((STATE[0]! | STATE[1]! | STATE[2]! | STATE[3]!) === 0);

function fillRandom(words: Int32Array): void {
  let x = STATE[0]!;
  let y = STATE[1]!;
  let z = STATE[2]!;
  let w = STATE[3]!;
  for (let i = 0; i < words.length; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
    words[i] = w;
  }
  STATE[0] = x;
  STATE[1] = y;
  STATE[2] = z;
  STATE[3] = w;
}

/** A new span id (16 hex digits, not all zero). */
export function drawSpanId(): string {
  return drawIds().spanId;
}

/** Random bytes drawn in bulk (`fillRandom`), 24 per pair of ids. */
const POOL = Buffer.alloc(24 * 512);
const POOL_WORDS = new Int32Array(POOL.buffer, POOL.byteOffset, POOL.length / 4);
/** The same bytes as big-endian words (a DataView reads them several times faster than Buffer's readUInt32BE). */
const WORDS = new DataView(POOL.buffer, POOL.byteOffset, POOL.length);
let poolOffset = POOL.length;

function refill(): void {
  fillRandom(POOL_WORDS);
  poolOffset = 0;
}

/** An id generator for the SDK: the id Troupe drew for a sampled root, else random ones as the SDK's own. */
export function rootSamplingIdGenerator(sampling: RootSampling): { generateTraceId(): string; generateSpanId(): string } {
  return {
    generateTraceId: () => {
      const next = sampling.nextTraceId;
      sampling.nextTraceId = undefined;
      return next ?? drawIds().traceId;
    },
    generateSpanId: drawSpanId,
  };
}
