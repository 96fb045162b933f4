/**
 * Where an actor lives. An address is plain data, so it survives serialisation: put it in a protobuf
 * message (as `troupe.ActorAddress`) and `system.refFor(address)` gives a working ref on any node.
 */
export interface Address {
  readonly system: string;
  /** Id of the node (process) hosting the actor. */
  readonly node: string;
  /** Path on that node: "/user/<name>[/<child>...]", "/system/...", or "/temp/<n>" for a pending ask. */
  readonly path: string;
}

const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.~-]{0,127}$/;
/** System names and node ids become NATS subject tokens, so they are stricter than actor names. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function validateActorName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new TypeError(
      `Invalid actor name ${JSON.stringify(name)}: use 1-128 letters, digits, '_', '-', '.' or '~', ` +
        `not starting with '.', '-' or '~' ('$' is reserved for generated names).`,
    );
  }
  return name;
}

export function validateToken(kind: "system name" | "node id" | "subject prefix", value: string): string {
  const ok = kind === "subject prefix" ? value.split(".").every((t) => TOKEN_PATTERN.test(t)) : TOKEN_PATTERN.test(value);
  if (!ok) {
    throw new TypeError(
      `Invalid ${kind} ${JSON.stringify(value)}: it becomes part of NATS subjects, so use 1-64 letters, ` +
        `digits, '_' or '-'${kind === "subject prefix" ? " per dot-separated token" : ""}.`,
    );
  }
  return value;
}

export function childPath(parentPath: string, name: string): string {
  return `${parentPath}/${name}`;
}

export function formatAddress(address: Address): string {
  return `troupe://${address.system}@${address.node}${address.path}`;
}

export function parseAddress(text: string): Address {
  const match = /^troupe:\/\/([^@/]+)@([^/]+)(\/.*)$/.exec(text);
  if (!match) throw new TypeError(`Not an actor address: ${JSON.stringify(text)} (expected troupe://system@node/path)`);
  return { system: match[1]!, node: match[2]!, path: match[3]! };
}

export function sameAddress(a: Address, b: Address): boolean {
  return a.path === b.path && a.node === b.node && a.system === b.system;
}

/** An address decoded from the wire, where protobuf leaves absent fields undefined; undefined unless complete and valid. */
export function addressFromWire(data: { system?: string | null; node?: string | null; path?: string | null } | null | undefined): Address | undefined {
  if (!data?.system || !data.node || !data.path) return undefined;
  // An address from the wire becomes a NATS subject when replied to: refuse ones that would not be one token.
  if (!TOKEN_PATTERN.test(data.system) || !TOKEN_PATTERN.test(data.node) || !data.path.startsWith("/")) return undefined;
  return { system: data.system, node: data.node, path: data.path };
}

/** `/segment[/segment...]`, each segment an actor name, a generated `$` name or a node id; never empty, `.` or `..`. */
const PATH_PATTERN = /^(?:\/[A-Za-z0-9_$~-][A-Za-z0-9_.~$-]{0,127})+$/;

/** Whether `path` is one a node could have made: no empty, `.` or `..` segments, no odd characters. */
export function isWellFormedPath(path: string): boolean {
  return PATH_PATTERN.test(path);
}
