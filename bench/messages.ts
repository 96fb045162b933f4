// The benchmark protocol, generated from proto/examples/bench.proto by `npm run build:proto`.
import { troupe } from "../proto/gen/examples/bench.js";

export const { Blob, Ack, Run } = troupe.bench;
export type Blob = troupe.bench.Blob;
export type Ack = troupe.bench.Ack;
export type Run = troupe.bench.Run;

/** Bytes carried by every Blob: the "100-byte payload" of the remote benchmarks. */
export const PAYLOAD_BYTES = 100;

/** `bytes` payload bytes counting up from 0 (mod 256). */
export function payloadOf(bytes: number): Uint8Array {
  return new Uint8Array(bytes).map((_, i) => i);
}

const payload = payloadOf(PAYLOAD_BYTES);

/** A Blob with sequence number `seq` and the shared 100-byte payload. */
export function blob(seq: number): Blob {
  return Blob.create({ seq, data: payload });
}
