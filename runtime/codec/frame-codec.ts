import protobuf from "protobufjs/minimal.js";
import type { Address } from "../address.js";
import type { MessageType } from "./message-type.js";
import { readFrame } from "./frame-reader.js";
import { ActorAddressProto, type DecodedEnvelope } from "./wire-types.js";
import { NO_IDS, TRACE_CONTEXT_BYTES, traceContextValueOf } from "./trace-context.js";

/** One message on its way to another node, before encoding. */
export interface OutgoingEnvelope {
  readonly target: string;
  readonly typeName: string;
  readonly type: MessageType;
  readonly message: object;
  readonly sender: Address | undefined;
  /** String headers; a binary trace context under their `TRACE_CONTEXT` symbol is written as field 6. */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** `type` was generated against another copy of protobufjs (TypeRegistry.usesOtherProtobuf). */
  readonly otherProtobuf?: boolean;
}

// Field tags of troupe.wire.Frame / troupe.wire.Envelope (field number << 3 | wire type 2).
const FRAME_ENVELOPES = 10;
const ENVELOPE_TARGET = 10;
const ENVELOPE_TYPE = 18;
const ENVELOPE_PAYLOAD = 26;
const ENVELOPE_SENDER = 34;
const ENVELOPE_HEADERS = 42;
const ENVELOPE_TRACE_CONTEXT = 50;
const MAP_KEY = 10;
const TRACE_CONTEXT_ROOM = new Uint8Array(TRACE_CONTEXT_BYTES);
const MAP_VALUE = 18;

/**
 * Encodes envelopes into one `troupe.wire.Frame`. The payload is written straight into the frame's
 * writer (fork/ldelim) instead of being encoded separately and copied: `Frame.encode`'s fields, an
 * envelope's 5 and 6 first (`writeHeadersAndContext`), one allocation fewer per message. A class bound to another copy of protobufjs
 * encodes with its own writer, and its bytes are copied in: our writer is not its writer.
 */
export function encodeFrame(envelopes: readonly OutgoingEnvelope[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const e of envelopes) writeEnvelope(w, e);
  return w.finish();
}

/** Appends one envelope (field 1 of a Frame) to `w`; returns the payload's length in bytes. */
export function writeEnvelope(w: protobuf.Writer, e: OutgoingEnvelope): number {
  w.uint32(FRAME_ENVELOPES).fork();
  if (e.headers) writeHeadersAndContext(w, e.headers);
  w.uint32(ENVELOPE_TARGET).string(e.target);
  w.uint32(ENVELOPE_TYPE).string(e.typeName);
  let payloadBytes: number;
  if (e.otherProtobuf) {
    const payload = e.type.encode(e.message).finish();
    payloadBytes = payload.length;
    w.uint32(ENVELOPE_PAYLOAD).bytes(payload);
  } else {
    w.uint32(ENVELOPE_PAYLOAD).fork();
    const before = w.len;
    e.type.encode(e.message, w);
    payloadBytes = w.len - before;
    w.ldelim();
  }
  if (e.sender) {
    w.uint32(ENVELOPE_SENDER).fork();
    ActorAddressProto.encode(e.sender, w);
    w.ldelim();
  }
  w.ldelim();
  return payloadBytes;
}

/**
 * Headers (field 5) and the trace context (field 6), written first: fields may come in any order, and
 * last they took the compiler's inlining budget from the writes every envelope makes
 * (docs/benchmarks.md, "the inlining budget").
 */
function writeHeadersAndContext(w: protobuf.Writer, headers: Readonly<Record<string, string>>): void {
  for (const key in headers) {
    w.uint32(ENVELOPE_HEADERS).fork().uint32(MAP_KEY).string(key).uint32(MAP_VALUE).string(headers[key]!).ldelim();
  }
  const traceContext = traceContextValueOf(headers);
  if (traceContext instanceof Uint8Array) w.uint32(ENVELOPE_TRACE_CONTEXT).bytes(traceContext);
  else if (traceContext !== undefined) {
    // NO_IDS (one zero byte) as the varints of its length and its byte, each below 128 and so one byte
    // as a varint too: `bytes` would copy a Uint8Array.
    if (!traceContext.hasIds) w.uint32(ENVELOPE_TRACE_CONTEXT).uint32(NO_IDS.length).uint32(NO_IDS[0]!);
    else {
      // Room for the 29 bytes, then the bytes themselves, straight into the writer's buffer (it writes
      // as it goes: `pos` is past what was written): no Uint8Array per message for an unsampled trace.
      w.uint32(ENVELOPE_TRACE_CONTEXT).bytes(TRACE_CONTEXT_ROOM);
      traceContext.writeTraceContext(w.buf, w.pos - TRACE_CONTEXT_BYTES);
    }
  }
}

/** Decodes a frame, each payload as a view of `bytes`. Throws on bytes that are not a valid Frame. */
export function decodeFrame(bytes: Uint8Array): readonly DecodedEnvelope[] {
  return readFrame(bytes).map((e) => {
    const envelope = { target: e.target, type: e.type, payload: bytes.subarray(e.payloadStart, e.payloadEnd), sender: e.sender, headers: e.headers };
    return e.traceContextStart < 0 ? envelope : { ...envelope, traceContext: bytes.slice(e.traceContextStart, e.traceContextEnd) };
  });
}
