import type { Address } from "../runtime/index.js";
import type { Flow } from "./tell-flow.js";

/** The system both benchmark nodes join, and the node id of the peer process. */
export const SYSTEM_NAME = "bench";
export const PEER_NODE_ID = "peer";
/** Where the peer's echo actor lives (Troupe) and where its plain nats.js responder listens (baseline). */
export const ECHO_NAME = "echo";
export const RAW_ECHO_SUBJECT = "bench.raw.echo";

/** What the peer sends: Blobs 1..n to an actor (Troupe) or to a subject (plain nats.js). */
export type SendCommand = (
  | { readonly mode: "troupe"; readonly target: Address; readonly n: number }
  | { readonly mode: "raw"; readonly subject: string; readonly n: number }
) & {
  /** Payload bytes per Blob; default PAYLOAD_BYTES (100). */
  readonly payloadBytes?: number;
  /** Flow control for this send; default the 100-byte one (tell-flow.ts). */
  readonly flow?: Flow;
};

/** Messages from the driver to the peer process, over the Node IPC channel. */
export type ToPeer =
  | ({ readonly type: "send"; readonly id: number } & SendCommand)
  /** The receiver has counted `count` messages of the current send: the sender may go `count + window`. */
  | { readonly type: "ack"; readonly count: number }
  | { readonly type: "exit" };

/** How the peer's send went: its own rate, to tell a sender-bound run from a receiver-bound one. */
export interface SendResult {
  readonly sent: number;
  readonly ms: number;
}

export type FromPeer =
  | { readonly type: "ready" }
  | { readonly type: "done"; readonly id: number; readonly result: SendResult }
  | { readonly type: "failed"; readonly id: number; readonly error: string };
