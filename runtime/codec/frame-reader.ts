import protobuf from "protobufjs/minimal.js";
import type { AddressData } from "./wire-types.js";
import { InternedStrings } from "./interned-strings.js";

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
  const reader = protobuf.Reader.create(bytes);
  const envelopes: WireEnvelope[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (tag >>> 3 === 1 && (tag & 7) === WIRE_BYTES) envelopes.push(readEnvelope(reader, bytes, delimitedEnd(reader)));
    else skip(reader, tag);
  }
  return envelopes;
}

function readEnvelope(reader: protobuf.Reader, bytes: Uint8Array, end: number): WireEnvelope {
  const outerEnd = narrow(reader, end);
  let target = "";
  let type = "";
  let payloadStart = 0;
  let payloadEnd = 0;
  let sender: AddressData | undefined;
  let headers: Record<string, string> | undefined;
  while (reader.pos < end) {
    const tag = reader.tag();
    const field = tag >>> 3;
    if ((tag & 7) !== WIRE_BYTES || field < 1 || field > 5) {
      skip(reader, tag);
      continue;
    }
    const valueEnd = delimitedEnd(reader, end);
    if (field === 1) target = readPath(bytes, reader.pos, valueEnd);
    else if (field === 2) type = interned.read(bytes, reader.pos, valueEnd);
    else if (field === 3) {
      payloadStart = reader.pos;
      payloadEnd = valueEnd;
    } else if (field === 4) {
      sender = readAddress(reader, bytes, valueEnd);
    } else {
      const [key, value] = readHeader(reader, bytes, valueEnd);
      (headers ??= {})[key] = value;
    }
    reader.pos = valueEnd;
  }
  widen(reader, end, outerEnd);
  return { target, type, payloadStart, payloadEnd, sender, headers };
}

function readAddress(reader: protobuf.Reader, bytes: Uint8Array, end: number): AddressData {
  const outerEnd = narrow(reader, end);
  let system = "";
  let node = "";
  let path = "";
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

/** Actor paths repeat, except an ask's `/temp/<n>`, which would only evict strings that do. */
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
    const text = InternedStrings.decode(bytes, reader.pos, valueEnd);
    if (field === 1) key = text;
    else value = text;
    reader.pos = valueEnd;
  }
  widen(reader, end, outerEnd);
  return [key, value];
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
