import type { MessageType } from "../codec/message-type.js";
import { validateEntityKey, validateEntityKind } from "../entities/entity-path.js";
import { decodeEntityObject, type EntityObject } from "../entities/entity-record.js";
import { openStateStore } from "../state/open-state-store.js";
import { validateKey, type StateStore } from "../state/state-store.js";
import { printable } from "../printable.js";
import { loadTopology, topologyPath } from "./load-topology.js";
import { parseOptions, UsageError, wholeNumber } from "./parse-options.js";
import { VERBS } from "./usage.js";

/** Most objects read at once while listing (each listed entity is one read, for its generation and size). */
const READS_IN_PARALLEL = 16;
const MAX_LIMIT = 10_000;

interface Listed {
  readonly key: string;
  readonly generation: string;
  readonly bytes: number;
}

/**
 * `troupe entities <kind> [<key>] --state URL`: reads entity states straight from the state store.
 * Without a key it lists the kind's stored keys (a bounded page, with the total); with one it prints
 * the state decoded with the kind's definition from `--topology`, else its bytes in base64.
 */
export async function entitiesCommand(args: string[]): Promise<number> {
  const parsed = parseOptions(VERBS.entities, args);
  if (parsed === undefined) return 0;
  const { values, positionals } = parsed;
  const spec = VERBS.entities;
  const usage = (what: () => unknown): void => {
    try {
      what();
    } catch (error) {
      throw new UsageError((error as Error).message, spec);
    }
  };
  const [kind, key] = positionals as [string, string | undefined];
  usage(() => validateEntityKind(kind));
  if (key !== undefined) usage(() => validateEntityKey(key));
  if (values.state === undefined) throw new UsageError("--state URL is required: where the entities' states are (gs://bucket/prefix or file:///dir)", spec);
  const limit = wholeNumber(spec, "--limit", values.limit, MAX_LIMIT);
  const base = `${values.prefix}/${kind}/`;
  usage(() => validateKey(`${base}${key ?? "k"}`));
  let store: StateStore | undefined;
  usage(() => (store = openStateStore(values.state!)));
  try {
    if (key !== undefined) return await show(store!, base, kind, key, values.topology, values.json);
    return await list(store!, base, kind, { keyPrefix: values["key-prefix"] ?? "", after: values.after, limit, json: values.json });
  } finally {
    await store!.close();
  }
}

async function list(store: StateStore, base: string, kind: string, options: { keyPrefix: string; after: string | undefined; limit: number; json: boolean }): Promise<number> {
  const all = (await store.list(base + options.keyPrefix)).map((k) => k.slice(base.length)).filter((k) => !k.includes("/"));
  const after = options.after;
  const remaining = after === undefined ? all : all.filter((k) => k > after);
  const page = remaining.slice(0, options.limit);
  const listed: Listed[] = new Array<Listed>(page.length);
  for (let i = 0; i < page.length; i += READS_IN_PARALLEL) {
    await Promise.all(
      page.slice(i, i + READS_IN_PARALLEL).map(async (key, j) => {
        const stored = await store.read(base + key);
        // Gone since the listing (a rare race): still listed, as absent.
        listed[i + j] = { key, generation: stored?.generation ?? "-", bytes: stored?.bytes.length ?? 0 };
      }),
    );
  }
  const next = remaining.length > page.length ? page[page.length - 1] : undefined;
  const where = `${store.description} under ${base}`;
  if (options.json) {
    console.log(JSON.stringify({ kind, store: store.description, prefix: base, total: all.length, entities: listed, ...(next === undefined ? {} : { next }) }));
    return 0;
  }
  if (all.length === 0) {
    console.log(`no stored entities of kind ${kind} in ${where}`);
    return 0;
  }
  const rows = [["KEY", "GENERATION", "BYTES"], ...listed.map((e) => [printable(e.key), e.generation, String(e.bytes)])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log(rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n"));
  const skipped = all.length - remaining.length;
  const shown = listed.length === 0 ? "none" : `${skipped + 1}-${skipped + listed.length}`;
  console.log(`\n${shown} of ${all.length} entities of kind ${kind} in ${where}${next === undefined ? "" : `; next page: --after ${printable(next)}`}`);
  return 0;
}

async function show(store: StateStore, base: string, kind: string, key: string, topology: string | undefined, json: boolean): Promise<number> {
  const stored = await store.read(base + key);
  if (stored === undefined) {
    console.error(`troupe entities: no stored entity ${kind}/${key} in ${store.description} (looked for ${base}${key})`);
    return 1;
  }
  let object: EntityObject;
  try {
    object = decodeEntityObject(stored.bytes);
  } catch (error) {
    console.error(`troupe entities: ${base}${key} is not an entity object: ${(error as Error).message}`);
    return 1;
  }
  const stateType = topology === undefined ? undefined : await stateTypeOf(topology, kind);
  const type = stateType?.getTypeUrl("").slice(1);
  const state = stateType === undefined ? undefined : toPlain(stateType, object.state);
  const reminders = object.reminders.map((r) => ({ name: r.name ?? "", dueAt: new Date(r.dueAtMs ?? 0).toISOString(), ...(r.everyMs ? { everyMs: r.everyMs } : {}) }));
  const idempotencyKeys = object.applied.length;
  if (json) {
    const content = state === undefined ? { base64: Buffer.from(object.state).toString("base64") } : { type, state };
    console.log(JSON.stringify({ kind, key, store: store.description, generation: stored.generation, bytes: stored.bytes.length, ...content, reminders, idempotencyKeys }));
    return 0;
  }
  console.log(`${kind}/${key}: generation ${stored.generation}, ${stored.bytes.length} bytes, in ${store.description}`);
  if (state === undefined) {
    console.log(`state (base64; pass --topology with a module whose entities include kind ${kind} to decode it):`);
    console.log(Buffer.from(object.state).toString("base64"));
  } else {
    console.log(`state (${type}):`);
    console.log(JSON.stringify(state, null, 2));
  }
  // Names come from the store, which anyone with write access to it can fill.
  console.log(reminders.length === 0 ? "reminders: none" : `reminders:\n${reminders.map((r) => `  ${printable(r.name)}  due ${r.dueAt}${r.everyMs ? `, every ${r.everyMs} ms` : ""}`).join("\n")}`);
  if (idempotencyKeys > 0) console.log(`idempotency keys kept: ${idempotencyKeys}`);
  return 0;
}

/** The state type of `kind` in the topology's entity definitions; undefined (after saying so) when it has none. */
async function stateTypeOf(nameOrPath: string, kind: string): Promise<MessageType | undefined> {
  const topology = await loadTopology(topologyPath(nameOrPath));
  const definition = topology.entities?.find((d) => d.kind === kind);
  if (definition === undefined) {
    const known = topology.entities?.map((d) => d.kind).join(", ") || "none";
    console.error(`troupe entities: topology ${topology.name} defines no entity kind ${kind} (its entities: ${known}); printing the raw bytes`);
  }
  return definition?.stateType;
}

/** The decoded state as plain JSON: 64-bit integers and enums as strings, bytes as base64, defaults included. */
function toPlain(type: MessageType, bytes: Uint8Array): unknown {
  const message = type.decode(bytes);
  const generated = type as MessageType & { toObject?: (m: object, o: object) => unknown };
  return generated.toObject ? generated.toObject(message, { longs: String, enums: String, bytes: String, defaults: true }) : message;
}
