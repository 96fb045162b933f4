import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Address } from "../runtime/index.js";
import { within, type BenchContext } from "./benchmark.js";
import { startIpcChild, stopIpcChild } from "./ipc-child.js";
import { median } from "./stats.js";
import type { FromBuildNode, ReceiveResult, SendResult, ToBuildNode, TracingMode } from "./build-node-protocol.js";

const NODE_FILE = fileURLToPath(new URL("./build-node.ts", import.meta.url));

export interface BuildNodeOptions {
  /** The checkout whose runtime the node runs: this one, or the no-tracing build's worktree. */
  readonly root: string;
  readonly natsUrl: string;
  readonly system: string;
  readonly nodeId: string;
  readonly tracing: TracingMode;
  /** OpenTelemetry metrics on (bench/metrics-on.ts): the node's instruments, collected every second. */
  readonly metrics?: boolean;
  /** Extra node flags, e.g. `--cpu-prof`. */
  readonly execArgv?: readonly string[];
}

/**
 * A node's environment: none of the driver's OTEL_* variables (an OTLP endpoint would add an exporter
 * to `startTracing`), and the sampler, through the standard variables, for a traced node.
 */
function envFor(tracing: TracingMode): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("OTEL_")));
  if (tracing === "off") return env;
  if (tracing.ratio >= 1) return { ...env, OTEL_TRACES_SAMPLER: "always_on" };
  // Head sampling: the root decides, every later span follows the traceparent's flag.
  return { ...env, OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: String(tracing.ratio) };
}

/** The driver's handle on one bench/build-node.ts process. */
export class BuildNode {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  /** Called with a sink's progress during a `receive` (its count, and the `receive` it belongs to). */
  onProgress: (count: number, sink: Address) => void = () => undefined;
  /** The sinks of the `receive`s under way, by id, for `onProgress`. */
  private readonly sinks = new Map<number, Address>();

  private constructor(
    private readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.on("message", (message: FromBuildNode) => {
      if (message.type === "ready") return;
      if (message.type === "progress") {
        const sink = this.sinks.get(message.id);
        return sink && this.onProgress(message.count, sink);
      }
      // The end of a `receive` is filed under its negated id (see `receive`).
      const key = message.type === "received" || message.type === "unreceived" ? -message.id : message.id;
      const waiting = this.pending.get(key);
      this.pending.delete(key);
      if (message.type === "failed" || message.type === "unreceived") waiting?.reject(new Error(`${label}: ${message.error}`));
      else waiting?.resolve(message.type === "received" ? { rate: message.rate, cpuUs: message.cpuUs, firstAtMs: message.firstAtMs, lastAtMs: message.lastAtMs } : message.value);
      if (message.type === "received" || message.type === "unreceived") this.sinks.delete(message.id);
    });
    child.once("exit", (code, signal) => {
      for (const waiting of this.pending.values()) waiting.reject(new Error(`${label} exited (${signal ?? `code ${code}`})`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(options: BuildNodeOptions): Promise<BuildNode> {
    const tracing = options.tracing === "off" ? ["--tracing", "off"] : ["--tracing", "on", "--processor", options.tracing.processor];
    const args = ["--root", options.root, "--nats", options.natsUrl, "--system", options.system, "--node", options.nodeId, ...tracing, ...(options.metrics ? ["--metrics", "on"] : [])];
    const label = `${options.system}/${options.nodeId}`;
    const child = await startIpcChild(NODE_FILE, args, { label, cwd: options.root, env: envFor(options.tracing), execArgv: options.execArgv, readyWithinMs: 60_000 });
    return new BuildNode(child, label);
  }

  /** Spawns a sink for `n` Blobs; `finished` resolves when it has counted them all. */
  async receive(n: number): Promise<{ address: Address; finished: Promise<ReceiveResult> }> {
    const id = ++this.nextId;
    // The sink's address comes as a reply to id, its end as `received` for id: filed under -id.
    const finished = new Promise<ReceiveResult>((resolve, reject) => this.pending.set(-id, { resolve, reject }));
    const address = await this.request<Address>({ type: "receive", id, n }, id);
    this.sinks.set(id, address);
    return { address, finished };
  }

  /** n Blobs to `target`, or to several targets in turn (n/k each). */
  send(target: Address | readonly Address[], n: number): Promise<SendResult> {
    const id = ++this.nextId;
    const targets = Array.isArray(target) ? target : [target as Address];
    return this.request({ type: "send", id, targets, n }, id);
  }

  ack(count: number): void {
    this.post({ type: "ack", count });
  }

  /** One local-tell or local-ask round of `n` messages in the node's process; messages (round trips) per second. */
  local(kind: "tell" | "ask" | "tell-cpu", n: number): Promise<number> {
    const id = ++this.nextId;
    return this.request({ type: "local", id, kind, n }, id);
  }

  /** Spans the node has exported (after flushing its span processor). */
  spans(): Promise<number> {
    const id = ++this.nextId;
    return this.request({ type: "spans", id }, id);
  }

  /** Asks the node to shut down and exit; kills it if it has not within 5 s. */
  stop(): Promise<void> {
    return stopIpcChild(this.child, { type: "exit" } satisfies ToBuildNode);
  }

  private request<T>(message: ToBuildNode, id: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post(message);
    });
  }

  private post(message: ToBuildNode): void {
    if (this.child.connected) this.child.send(message);
  }
}

/** One remote round of a pair. */
export interface RemoteRound {
  /** Messages per second at the receiver, first to last: the figure. */
  readonly rate: number;
  /** Messages per second the sender published (its own timing). */
  readonly senderRate: number;
  /** CPU time per message of each process (user + system, all threads), in µs. */
  readonly receiverCpuUs: number;
  readonly senderCpuUs: number;
}

/** A remote round for the progress lines: the receiver's rate (the figure) and the sender's. */
export const showRound = (round: RemoteRound): string =>
  `${Math.round(round.rate).toLocaleString("en-US")} (sender ${Math.round(round.senderRate).toLocaleString("en-US")})`;

/** The median of the rounds' rates. */
export const medianRate = (rounds: readonly RemoteRound[]): number => median(rounds.map((r) => r.rate));

export interface TellPairOptions extends Omit<BuildNodeOptions, "nodeId"> {
  /** What the progress lines call this side. */
  readonly label: string;
}

/**
 * Two nodes of one build and tracing mode in one system: a receiver and a sender, each in its own
 * process, as in bench/remote-tell.ts. The driver relays the receiver's progress to the sender.
 */
export class TellPair {
  private constructor(
    readonly label: string,
    readonly receiver: BuildNode,
    readonly sender: BuildNode,
  ) {
    receiver.onProgress = (count) => sender.ack(count);
  }

  static async start(options: TellPairOptions): Promise<TellPair> {
    const started = await Promise.allSettled([BuildNode.start({ ...options, nodeId: "receiver" }), BuildNode.start({ ...options, nodeId: "sender" })]);
    const [receiver, sender] = started.map((s) => (s.status === "fulfilled" ? s.value : undefined));
    if (receiver && sender) return new TellPair(options.label, receiver, sender);
    await Promise.all([receiver?.stop(), sender?.stop()]);
    throw started.flatMap((s) => (s.status === "rejected" ? [s.reason as Error] : []))[0]!;
  }

  /** n Blobs from the sender to a sink on the receiver. */
  async remote(n: number): Promise<RemoteRound> {
    const sink = await this.receiver.receive(n);
    // Fails the round at once if the sink fails (loss, disorder) rather than when the send ends.
    const [sent, received] = await Promise.all([this.sender.send(sink.address, n), within(sink.finished, 60_000, () => `${this.label}: receiving ${n} Blobs`)]);
    return { rate: received.rate, senderRate: sent.sent / (sent.ms / 1000), receiverCpuUs: received.cpuUs / n, senderCpuUs: sent.cpuUs / n };
  }

  /** Spans exported so far by each node. */
  async spans(): Promise<{ receiver: number; sender: number }> {
    const [receiver, sender] = await Promise.all([this.receiver.spans(), this.sender.spans()]);
    return { receiver, sender };
  }

  async stop(): Promise<void> {
    await Promise.all([this.receiver.stop(), this.sender.stop()]);
  }
}

/** Starts pairs side by side, one per key (its label); on failure stops those that started. */
export async function startPairs<K extends string>(sides: Readonly<Record<K, Omit<TellPairOptions, "label">>>): Promise<Record<K, TellPair>> {
  const keys = Object.keys(sides) as K[];
  const started = await Promise.allSettled(keys.map((key) => TellPair.start({ ...sides[key], label: key })));
  const failure = started.find((s) => s.status === "rejected");
  if (failure === undefined) return Object.fromEntries(started.map((s, i) => [keys[i], (s as PromiseFulfilledResult<TellPair>).value])) as Record<K, TellPair>;
  await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.stop() : Promise.resolve())));
  throw failure.reason;
}

/** Stops every pair. */
export async function stopPairs(pairs: Readonly<Record<string, TellPair>>): Promise<void> {
  await Promise.all(Object.values(pairs).map((pair) => pair.stop()));
}

/** The median CPU time per message of a pair's two processes together, in µs; logs each process's. */
export function cpuPerMessage(ctx: BenchContext, label: string, rounds: readonly RemoteRound[]): number {
  const receiver = median(rounds.map((r) => r.receiverCpuUs));
  const sender = median(rounds.map((r) => r.senderCpuUs));
  ctx.log(`  ${label}: CPU per message (median): receiver ${receiver.toFixed(2)} µs, sender ${sender.toFixed(2)} µs`);
  return median(rounds.map((r) => r.receiverCpuUs + r.senderCpuUs));
}

/**
 * CPU per message of each round of `rounds` against its paired round of `baseline` (the same round of
 * `alternate`, moments apart), median per process: steadier than the ratio of two medians, as the
 * machine's speed drifts between rounds as much as tracing costs.
 */
export function logCpuRatios(ctx: BenchContext, label: string, rounds: readonly RemoteRound[], baseline: readonly RemoteRound[]): void {
  const ratio = (cpu: (r: RemoteRound) => number) => median(rounds.map((r, i) => cpu(r) / cpu(baseline[i]!))).toFixed(2);
  ctx.log(`  ${label}: CPU per message against the paired baseline round (median): receiver ${ratio((r) => r.receiverCpuUs)}, sender ${ratio((r) => r.senderCpuUs)}, both ${ratio((r) => r.receiverCpuUs + r.senderCpuUs)}`);
}

/** Which process is which, for reading the profiles of `--cpu-prof-dir` (named by pid). */
export function logPids(ctx: BenchContext, pairs: Readonly<Record<string, TellPair>>): void {
  for (const [label, pair] of Object.entries(pairs)) ctx.log(`  ${label}: receiver pid ${pair.receiver.pid}, sender pid ${pair.sender.pid}`);
}
