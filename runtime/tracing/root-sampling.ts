import { FLAGS_AT, SPAN_ID_AT, TRACE_CONTEXT_BYTES, TRACE_ID_AT, writeTraceContextFrame } from "../codec/trace-context.js";

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

/** A new trace: its id, a span id for its first span, and whether a trace-id-ratio sampler with `upperBound` samples it. */
export function drawTrace(upperBound: number): { traceId: string; spanId: string; sampled: boolean } {
  for (;;) {
    if (poolOffset === POOL.length) refill();
    const at = poolOffset;
    poolOffset += 24;
    const w0 = WORDS.getUint32(at);
    const w1 = WORDS.getUint32(at + 4);
    const w2 = WORDS.getUint32(at + 8);
    const w3 = WORDS.getUint32(at + 12);
    // All-zero ids are invalid (W3C): draw again (once in 2^64 times).
    if ((w0 | w1 | w2 | w3) === 0 || (WORDS.getUint32(at + 16) | WORDS.getUint32(at + 20)) === 0) continue;
    // Both ids through one native call: per-word conversions cost several times more.
    const hex = POOL.toString("hex", at, at + 24);
    return { traceId: hex.slice(0, 32), spanId: hex.slice(32), sampled: (w0 ^ w1 ^ w2 ^ w3) >>> 0 < upperBound };
  }
}

/**
 * A new trace, decided: its binary trace context (runtime/codec/trace-context.ts, sampled flag off)
 * when it is not sampled; undefined when it is, with `sampling.nextTraceId` set to its id for the SDK's
 * root span. Draws hand out 29-byte views of a pool filled for 512 traces at once (by `fillRandom`):
 * an unsampled trace creates no string at all, and the bytes go into the envelope as they are.
 */
export function drawRoot(sampling: RootSampling): Uint8Array | undefined {
  for (;;) {
    if (rootIndex === ROOTS) refillRoots();
    const at = rootIndex++ * TRACE_CONTEXT_BYTES;
    const words = rootWords;
    const t = at + TRACE_ID_AT;
    const w0 = words.getUint32(t);
    const w1 = words.getUint32(t + 4);
    const w2 = words.getUint32(t + 8);
    const w3 = words.getUint32(t + 12);
    // All-zero ids are invalid (W3C): draw again (once in 2^64 times).
    if ((w0 | w1 | w2 | w3) === 0 || (words.getUint32(at + SPAN_ID_AT) | words.getUint32(at + SPAN_ID_AT + 4)) === 0) continue;
    if ((w0 ^ w1 ^ w2 ^ w3) >>> 0 >= sampling.upperBound) return rootPool.subarray(at, at + TRACE_CONTEXT_BYTES);
    sampling.nextTraceId = rootText.toString("hex", t, t + 16);
    return undefined;
  }
}

/** Traces per pool (15 KiB). */
const ROOTS = 512;
let rootIndex = ROOTS;
/**
 * The pool's trace contexts, one after another. A new pool each time: the views handed out may still
 * be queued in a mailbox or a frame, and must keep their bytes.
 */
let rootPool = new Uint8Array(0);
/** The same bytes, as big-endian words and as a Buffer (for hex). */
let rootWords = new DataView(rootPool.buffer);
let rootText = Buffer.alloc(0);

function refillRoots(): void {
  const pool = new Uint8Array(ROOTS * TRACE_CONTEXT_BYTES);
  fillRandom(new Int32Array(pool.buffer));
  for (let at = 0; at < pool.length; at += TRACE_CONTEXT_BYTES) {
    writeTraceContextFrame(pool, at);
    pool[at + FLAGS_AT] = 0;
  }
  rootPool = pool;
  rootWords = new DataView(pool.buffer);
  rootText = Buffer.from(pool.buffer);
  rootIndex = 0;
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
  return drawTrace(0).spanId;
}

/** Random bytes drawn in bulk (`fillRandom`), 24 per new trace. */
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
      return next ?? drawTrace(0).traceId;
    },
    generateSpanId: drawSpanId,
  };
}
