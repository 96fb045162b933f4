import { troupe } from "../../proto/gen/troupe.js";

const EntityRecordProto = troupe.entity.EntityRecord;

/** The first two bytes of a record: 0x00 (no protobuf encoding starts with it: field 0 is invalid), then the format. */
const RECORD_MAGIC = 0x00;
const RECORD_FORMAT = 0x01;

/** An entity's stored object, decoded: the state's bytes and what is kept beside it. */
export interface EntityObject {
  /** The state, encoded as the entity's own protobuf type. */
  readonly state: Uint8Array;
  readonly applied: readonly troupe.entity.IAppliedKey[];
  readonly reminders: readonly troupe.entity.IReminder[];
  /** The reminder index claim these reminders are covered by ("" when none). */
  readonly indexToken: string;
}

/**
 * Decodes what is stored at `<prefix>/<kind>/<key>`: a record (0x00, 0x01, `troupe.entity.EntityRecord`)
 * or, for entities that never kept idempotency keys or reminders (and objects written before records
 * existed), the bare state. Throws on a record of an unknown format.
 */
export function decodeEntityObject(bytes: Uint8Array): EntityObject {
  if (bytes.length === 0 || bytes[0] !== RECORD_MAGIC) return { state: bytes, applied: [], reminders: [], indexToken: "" };
  if (bytes[1] !== RECORD_FORMAT) throw new Error(`entity object of unknown format ${bytes[1]} (this version reads format ${RECORD_FORMAT})`);
  const record = EntityRecordProto.decode(bytes.subarray(2));
  return { state: record.state, applied: record.applied, reminders: record.reminders, indexToken: record.indexToken };
}

/** Encodes an entity's stored object: the bare state when nothing else needs keeping, else a record. */
export function encodeEntityObject(object: EntityObject): Uint8Array {
  if (object.applied.length === 0 && object.reminders.length === 0 && object.indexToken === "") return object.state;
  const body = EntityRecordProto.encode({ state: object.state, applied: [...object.applied], reminders: [...object.reminders], indexToken: object.indexToken }).finish();
  const bytes = new Uint8Array(body.length + 2);
  bytes[0] = RECORD_MAGIC;
  bytes[1] = RECORD_FORMAT;
  bytes.set(body, 2);
  return bytes;
}
