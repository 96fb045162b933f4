import { troupe } from "../../proto/gen/troupe.js";

/** An actor as a node reports it in an `ActorList`. */
export interface ActorListEntry {
  readonly path: string;
  readonly kind: string;
  readonly restarts: number;
  readonly mailboxSize: number;
  /** Messages it has processed since it was spawned. */
  readonly processed?: number;
}

/** A node's counters since it started, on every page of its answer (rates come from successive answers). */
export interface NodeTotals {
  readonly deadLetters: number;
  readonly restarts: number;
  readonly processed: number;
}

const NO_TOTALS: NodeTotals = { deadLetters: 0, restarts: 0, processed: 0 };

/** Most bytes a uint32 field takes: its tag and a five-byte varint. */
const UINT32_FIELD_MAX = 6;
/** A double field: its tag and eight bytes. */
const DOUBLE_FIELD = 9;

/**
 * One node's answer to an `ActorListRequest`, as encoded `ActorList` messages of at most `maxBytes`
 * each (the server's max_payload: one message for 50,000 actors would be refused, and with it the
 * answer). Each message carries its `page` (1-based), the number of `pages` and the `total` of actors
 * on the node, so a reader can tell a whole answer from a partial one. An actor whose entry alone
 * cannot fit (a path near the limit) is left out and still counted in `total`. There is always at
 * least one page, so a node with no actors still answers.
 */
export function actorListPages(node: string, actors: readonly ActorListEntry[], maxBytes: number, totals: NodeTotals = NO_TOTALS): Uint8Array[] {
  const room = maxBytes - stringFieldBytes(node) - 3 * UINT32_FIELD_MAX - 3 * DOUBLE_FIELD;
  const pages: ActorListEntry[][] = [];
  let page: ActorListEntry[] = [];
  let used = 0;
  for (const actor of actors) {
    const size = entryBytes(actor);
    if (size > room) continue;
    if (used + size > room) {
      pages.push(page);
      page = [];
      used = 0;
    }
    page.push(actor);
    used += size;
  }
  if (page.length > 0 || pages.length === 0) pages.push(page);
  return pages.map((entries, i) => {
    const bytes = troupe.system.ActorList.encode({ node, actors: entries, page: i + 1, pages: pages.length, total: actors.length, ...totals }).finish();
    // The sizes above are exact for protobufjs's encoder; should it ever write more, fail loudly.
    if (bytes.length > maxBytes) throw new RangeError(`an ActorList page came to ${bytes.length} bytes, over the ${maxBytes} planned`);
    return bytes;
  });
}

/** What one entry takes inside an `ActorList` (field 2: tag, length, body), as proto3 encodes it: defaults are left out. */
function entryBytes(actor: ActorListEntry): number {
  const body = stringFieldBytes(actor.path) + stringFieldBytes(actor.kind) + uint32FieldBytes(actor.restarts) + uint32FieldBytes(actor.mailboxSize) + (actor.processed ? DOUBLE_FIELD : 0);
  return 1 + varintBytes(body) + body;
}

function stringFieldBytes(value: string): number {
  if (value === "") return 0;
  const length = Buffer.byteLength(value, "utf8");
  return 1 + varintBytes(length) + length;
}

function uint32FieldBytes(value: number): number {
  return value === 0 ? 0 : 1 + varintBytes(value);
}

function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    bytes++;
  }
  return bytes;
}
