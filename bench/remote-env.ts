import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ActorSystem, connectNats, type EmbeddedNats } from "../runtime/index.js";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { startIpcChild, stopIpcChild } from "./ipc-child.js";
import { Ack, Blob } from "./messages.js";
import { startBenchNats } from "./nats-server.js";
import { SYSTEM_NAME, type FromPeer, type SendCommand, type SendResult, type ToPeer } from "./peer-protocol.js";

/** What the remote benchmarks share: one nats-server, one peer process, and this process's two clients. */
export interface RemoteEnv {
  readonly nats: EmbeddedNats;
  readonly peer: Peer;
  /** This process's Troupe node ("main" of system "bench"). */
  readonly system: ActorSystem;
  /** This process's plain nats.js connection, for the baselines. */
  readonly raw: NatsConnection;
}

export interface RemoteEnvOptions {
  /** Extra node flags for the peer process, e.g. `--cpu-prof`. */
  readonly peerExecArgv?: readonly string[];
  /**
   * Opens the baseline connection with nats.js's `noAsyncTraces: true`, which skips the Error (and its
   * stack) that `request()` otherwise creates per call. Default false: nats.js as it comes.
   */
  readonly rawNoAsyncTraces?: boolean;
}

/** Starts everything; on failure stops what it had started. `close()` stops it all, in reverse order; idempotent. */
export async function startRemoteEnv(options: RemoteEnvOptions = {}): Promise<RemoteEnv & { close(): Promise<void> }> {
  const closers: (() => Promise<void>)[] = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      for (const closer of [...closers].reverse()) {
        try {
          await closer();
        } catch {
          // Best effort: the rest must still be stopped.
        }
      }
    })());
  try {
    const nats = await startBenchNats();
    closers.push(() => nats.stop());
    const peer = await Peer.start(nats.url, options.peerExecArgv ?? []);
    closers.push(() => peer.stop());
    const system = await ActorSystem.start({ name: SYSTEM_NAME, nodeId: "main", transport: await connectNats({ servers: nats.url }), types: [Blob, Ack] });
    closers.push(() => system.shutdown());
    const raw = await connect({ servers: nats.url, name: "bench-main-raw", noAsyncTraces: options.rawNoAsyncTraces ?? false });
    closers.push(() => raw.close());
    return { nats, peer, system, raw, close };
  } catch (error) {
    await close();
    throw error;
  }
}

const PEER_FILE = fileURLToPath(new URL("./peer.ts", import.meta.url));

/** The driver's handle on the peer process (`bench/peer.ts`): a second Troupe node and nats.js client. */
export class Peer {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (result: SendResult) => void; reject: (error: Error) => void }>();
  private constructor(private readonly child: ChildProcess) {
    child.on("message", (message: FromPeer) => {
      if (message.type === "ready") return;
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === "done") waiting?.resolve(message.result);
      else waiting?.reject(new Error(`peer: ${message.error}`));
    });
    child.once("exit", (code, signal) => {
      for (const waiting of this.pending.values()) waiting.reject(new Error(`peer process exited (${signal ?? `code ${code}`})`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(natsUrl: string, execArgv: readonly string[]): Promise<Peer> {
    const child = await startIpcChild(PEER_FILE, [natsUrl], { label: "the peer process", cwd: PROJECT_ROOT, execArgv, readyWithinMs: 30_000 });
    return new Peer(child);
  }

  /** Asks the peer to send `n` Blobs (flow-controlled by `ack`); resolves when it has sent them all. */
  send(command: SendCommand): Promise<SendResult> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ type: "send", id, ...command });
    });
  }

  /** Tells the sending peer how many messages of the current send have arrived. */
  ack(count: number): void {
    this.post({ type: "ack", count });
  }

  /** Asks the peer to close its connections and exit; kills it if it has not within 5 s. */
  stop(): Promise<void> {
    return stopIpcChild(this.child, { type: "exit" } satisfies ToPeer);
  }

  private post(message: ToPeer): void {
    if (this.child.connected) this.child.send(message);
  }
}
