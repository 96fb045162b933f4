import type { Address } from "../runtime/index.js";

/**
 * How a build node traces: not at all, or with the OpenTelemetry SDK sampling `ratio` of the traces
 * (1: `OTEL_TRACES_SAMPLER=always_on`; below 1: head sampling, `parentbased_traceidratio` with that argument, the standard
 * variables, read by the SDK as a user's would be) and handing spans to a `processor` (bench/build-node.ts).
 */
export type TracingMode = "off" | { readonly ratio: number; readonly processor: "batch" | "simple" };

/** Messages from the driver to a build node (bench/build-node.ts), over the Node IPC channel. */
export type ToBuildNode =
  /** Spawn a sink that counts `n` Blobs; answered with its address, then `received` when it has all of them. */
  | { readonly type: "receive"; readonly id: number; readonly n: number }
  /**
   * Tell n Blobs in turn to `targets` (one target: Blobs 1..n; k targets: each gets 1..n/k in order),
   * flow-controlled by `ack`; answered with a SendResult.
   */
  | { readonly type: "send"; readonly id: number; readonly targets: readonly Address[]; readonly n: number }
  /** The receivers have counted `count` messages of the current send, together. */
  | { readonly type: "ack"; readonly count: number }
  /**
   * One round of local-tell (`n` tells) or local-ask (`n` asks) on an in-memory node; answered with the
   * rate (for "tell-cpu": local-tell's messages per second of the process's CPU time).
   */
  | { readonly type: "local"; readonly id: number; readonly kind: "tell" | "ask" | "tell-cpu"; readonly n: number }
  /** Flush the span processor; answered with the number of spans exported so far. */
  | { readonly type: "spans"; readonly id: number }
  | { readonly type: "exit" };

export interface SendResult {
  readonly sent: number;
  readonly ms: number;
  /** CPU time of the sender's process (user + system, all threads) while sending, in µs. */
  readonly cpuUs: number;
}

/**
 * The end of a `receive`: messages per second (first to last), the process's CPU time from the sink's
 * spawn, in µs, and when the first and last messages arrived (ms since the epoch, comparable across
 * processes on one machine).
 */
export interface ReceiveResult {
  readonly rate: number;
  readonly cpuUs: number;
  readonly firstAtMs: number;
  readonly lastAtMs: number;
}

export type FromBuildNode =
  | { readonly type: "ready" }
  | { readonly type: "reply"; readonly id: number; readonly value: Address | SendResult | number }
  /** The sink of `receive` `id` has counted all its messages (messages per second, first to last), or failed. */
  | ({ readonly type: "received"; readonly id: number } & ReceiveResult)
  | { readonly type: "unreceived"; readonly id: number; readonly error: string }
  /** The sink of `receive` `id` has counted `count` messages. */
  | { readonly type: "progress"; readonly id: number; readonly count: number }
  | { readonly type: "failed"; readonly id: number; readonly error: string };
