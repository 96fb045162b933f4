/** Values looked at, at most: past this, the rest of a large object graph is not counted. */
const MAX_VISITS = 4_096;
/** What a number, a boolean or a reference is taken to cost, and an object beyond its fields. */
const WORD_BYTES = 8;
const OBJECT_BYTES = 16;

/**
 * About how many bytes `value` holds, for budgets (dead-letter log, mailbox bytes): the length of each
 * string, the length of each byte array (with `wholeBuffers`, of the buffer it is a view of, which it
 * keeps alive: a payload decoded from a frame may be a view of the whole frame), 8 bytes for any other
 * value and 16 more per object or array. Own fields only (protobufjs keeps defaults on the prototype).
 * Work is bounded: after 4,096 values the rest is not counted, so the figure is a lower bound there.
 */
export function approximateBytes(value: unknown, wholeBuffers = false): number {
  let bytes = 0;
  let visits = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0 && visits++ < MAX_VISITS) {
    const v = pending.pop();
    if (typeof v === "string") bytes += v.length + OBJECT_BYTES;
    else if (typeof v !== "object" || v === null) bytes += WORD_BYTES;
    else if (ArrayBuffer.isView(v)) bytes += (wholeBuffers ? v.buffer.byteLength : v.byteLength) + OBJECT_BYTES;
    else if (Array.isArray(v)) {
      bytes += OBJECT_BYTES + v.length * WORD_BYTES;
      for (const item of v as unknown[]) if (typeof item === "object" || typeof item === "string") pending.push(item);
    } else {
      bytes += OBJECT_BYTES;
      for (const key of Object.keys(v)) {
        const field = (v as Record<string, unknown>)[key];
        bytes += key.length + WORD_BYTES;
        if (typeof field === "object" || typeof field === "string") pending.push(field);
      }
    }
  }
  return bytes;
}
