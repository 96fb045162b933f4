import protobuf from "protobufjs/minimal.js";
import type { AddressData } from "./wire-types.js";
import { InternedStrings } from "./interned-strings.js";
import { UNLIMITED_FRAMES, type FrameLimits } from "./frame-limits.js";

/**
 * One envelope of a received frame. The payload is left where it is, as a range of the frame's
 * bytes: it is decoded straight from there once its type is known, without a buffer of its own.
 */
export interface WireEnvelope {
  readonly target: string;
  readonly type: string;
  readonly payloadStart: number;
  readonly payloadEnd: number;
  readonly sender: AddressData | undefined;
  readonly headers: Record<string, string> | undefined;
  /**
   * Where field 6 (the binary trace context) lies in the frame's bytes, as it came, not checked (the
   * receiver checks it with `isTraceContextIn` or `isNoIdsIn`, and ignores and counts anything else);
   * -1 when absent. Left where it is, as the payload: an unsampled message's context is read from there.
   */
  readonly traceContextStart: number;
  readonly traceContextEnd: number;
  /** Set when the envelope carries more headers than the limits allow: it is refused, `headers` is undefined. */
  readonly headersOverLimit: HeadersOverLimit | undefined;
}

/** What an envelope refused for its headers carried: all of its entries, counted without being decoded. */
export interface HeadersOverLimit {
  /** The limit hit first. */
  readonly limit: "maxHeaders" | "maxHeaderBytes";
  readonly count: number;
  readonly bytes: number;
}

/** A frame as read: its envelopes, and what was left unread. */
export interface FrameContents {
  readonly envelopes: WireEnvelope[];
  /** Bytes at the end of the frame left unread because it holds more than `maxFrameEnvelopes` envelopes; 0 when read to its end. */
  readonly unreadBytes: number;
}

const WIRE_BYTES = 2;

/** Type names, target paths and sender addresses repeat from one envelope to the next. */
const interned = new InternedStrings();

/**
 * Reads a `troupe.wire.Frame`: the same bytes `Frame.decode` accepts, unknown fields skipped. Strings
 * that repeat (type names, paths, node ids) come back as the same string objects, so the lookups they
 * feed (type registry, actor paths) hash each only once. Throws on bytes that are not a valid frame.
 */
export function readFrame(bytes: Uint8Array): WireEnvelope[] {
  return readFrameWithin(bytes, UNLIMITED_FRAMES).envelopes;
}

/**
 * Reads a frame as `readFrame` does, within `limits`: it stops before envelope `maxFrameEnvelopes + 1`
 * (what follows is neither read nor checked), and an envelope's header entries past `maxHeaders` or
 * `maxHeaderBytes` are checked for structure but not decoded (the envelope comes back refused). So
 * the work done is bounded whatever the frame holds; the checks are integer comparisons.
 */
export function readFrameWithin(bytes: Uint8Array, limits: Required<FrameLimits>): FrameContents {
  const reader = protobuf.Reader.create(bytes);
  const envelopes: WireEnvelope[] = [];
  const { maxFrameEnvelopes, maxHeaders, maxHeaderBytes } = limits;
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.tag();
    if (tag >>> 3 === 1 && (tag & 7) === WIRE_BYTES) {
      if (envelopes.length === maxFrameEnvelopes) return { envelopes, unreadBytes: reader.len - start };
      envelopes.push(readEnvelope(reader, bytes, delimitedEnd(reader), maxHeaders, maxHeaderBytes));
    } else skip(reader, tag);
  }
  return { envelopes, unreadBytes: 0 };
}

function readEnvelope(reader: protobuf.Reader, bytes: Uint8Array, end: number, maxHeaders: number, maxHeaderBytes: number): WireEnvelope {
  const outerEnd = narrow(reader, end);
  let target = "";
  let type = "";
  let payloadStart = 0;
  let payloadEnd = 0;
  let sender: AddressData | undefined;
  let headers: Record<string, string> | undefined;
  let traceContextStart = -1;
  let traceContextEnd = -1;
  let headerCount = 0;
  let headerBytes = 0;
  let overLimit: HeadersOverLimit["limit"] | undefined;
  while (reader.pos < end) {
    const tag = reader.tag();
    const field = tag >>> 3;
    if ((tag & 7) !== WIRE_BYTES || field < 1 || field > 6) {
      skip(reader, tag);
      continue;
    }
    const valueEnd = delimitedEnd(reader, end);
    if (field === 1) target = readPath(bytes, reader.pos, valueEnd);
    else if (field === 6) {
      traceContextStart = reader.pos;
      traceContextEnd = valueEnd;
    }
    else if (field === 2) type = interned.read(bytes, reader.pos, valueEnd);
    else if (field === 3) {
      payloadStart = reader.pos;
      payloadEnd = valueEnd;
    } else if (field === 4) {
      // A repeated message field merges into the one before (protobuf's rule, and Frame.decode's).
      sender = readAddress(reader, bytes, valueEnd, sender);
    } else {
      headerCount++;
      headerBytes += valueEnd - reader.pos;
      if (overLimit === undefined && headerCount > maxHeaders) overLimit = "maxHeaders";
      if (overLimit === undefined && headerBytes > maxHeaderBytes) overLimit = "maxHeaderBytes";
      if (overLimit === undefined) {
        const [key, value] = readHeader(reader, bytes, valueEnd);
        (headers ??= {})[key] = value;
      } else checkHeader(reader, valueEnd);
    }
    reader.pos = valueEnd;
  }
  widen(reader, end, outerEnd);
  if (overLimit === undefined) return { target, type, payloadStart, payloadEnd, sender, headers, traceContextStart, traceContextEnd, headersOverLimit: undefined };
  return { target, type, payloadStart, payloadEnd, sender, headers: undefined, traceContextStart, traceContextEnd, headersOverLimit: { limit: overLimit, count: headerCount, bytes: headerBytes } };
}

function readAddress(reader: protobuf.Reader, bytes: Uint8Array, end: number, before: AddressData | undefined): AddressData {
  const outerEnd = narrow(reader, end);
  let system = before?.system ?? "";
  let node = before?.node ?? "";
  let path = before?.path ?? "";
  while (reader.pos < end) {
    const tag = reader.tag();
    const field = tag >>> 3;
    if ((tag & 7) !== WIRE_BYTES || field < 1 || field > 3) {
      skip(reader, tag);
      continue;
    }
    const valueEnd = delimitedEnd(reader, end);
    if (field === 1) system = interned.read(bytes, reader.pos, valueEnd);
    else if (field === 2) node = interned.read(bytes, reader.pos, valueEnd);
    else path = readPath(bytes, reader.pos, valueEnd);
    reader.pos = valueEnd;
  }
  widen(reader, end, outerEnd);
  return { system, node, path };
}

/** "/temp/": an ask's reply address, a new one per ask (runtime/pending-asks.ts). */
const TEMP_PATH = new TextEncoder().encode("/temp/");

/** Actor paths repeat, except an ask's `/temp/<32 hex digits>`, which would only evict strings that do. */
function readPath(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > TEMP_PATH.length && startsWith(bytes, start, TEMP_PATH)) return InternedStrings.decode(bytes, start, end);
  return interned.read(bytes, start, end);
}

function startsWith(bytes: Uint8Array, start: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (bytes[start + i] !== prefix[i]) return false;
  return true;
}

/** A `map<string, string>` entry; headers (trace context) differ per message, so they are not interned. */
function readHeader(reader: protobuf.Reader, bytes: Uint8Array, end: number): [string, string] {
  const outerEnd = narrow(reader, end);
  let key = "";
  let value = "";
  while (reader.pos < end) {
    const tag = reader.tag();
    const field = tag >>> 3;
    if ((tag & 7) !== WIRE_BYTES || (field !== 1 && field !== 2)) {
      skip(reader, tag);
      continue;
    }
    const valueEnd = delimitedEnd(reader, end);
    // Keys repeat (traceparent, tracestate): interned. Values mostly do not (a traceparent per message).
    if (field === 1) key = interned.read(bytes, reader.pos, valueEnd);
    else value = InternedStrings.decode(bytes, reader.pos, valueEnd);
    reader.pos = valueEnd;
  }
  widen(reader, end, outerEnd);
  return [key, value];
}

/** A header entry past the limits: its structure checked as `readHeader` does, nothing decoded. */
function checkHeader(reader: protobuf.Reader, end: number): void {
  const outerEnd = narrow(reader, end);
  while (reader.pos < end) {
    const tag = reader.tag();
    const field = tag >>> 3;
    if ((tag & 7) !== WIRE_BYTES || (field !== 1 && field !== 2)) skip(reader, tag);
    else reader.pos = delimitedEnd(reader, end);
  }
  widen(reader, end, outerEnd);
}

/**
 * The generated decoders' rules, kept so that this reader accepts exactly the frames `Frame.decode`
 * does: a nested message is read with the reader's end moved to its own end (nothing inside can run
 * past it) and must end exactly there; field number 0 is illegal; unknown fields are skipped.
 */
function narrow(reader: protobuf.Reader, end: number): number {
  const outerEnd = reader.len;
  reader.len = end;
  return outerEnd;
}

function widen(reader: protobuf.Reader, end: number, outerEnd: number): void {
  if (reader.pos !== end) throw new RangeError("index out of range");
  reader.len = outerEnd;
}

function skip(reader: protobuf.Reader, tag: number): void {
  (reader.skipType as (wireType: number, depth: number, fieldNumber: number) => void).call(reader, tag & 7, 0, tag >>> 3);
}

/** Reads a length prefix; returns where the value ends, checked against `limit`. */
function delimitedEnd(reader: protobuf.Reader, limit = reader.len): number {
  const length = reader.size();
  const end = reader.pos + length;
  if (end > limit) throw new RangeError(`length ${length} at offset ${reader.pos} runs past the end`);
  return end;
}
