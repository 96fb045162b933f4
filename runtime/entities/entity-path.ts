/** Where an entity is addressed on a node: every node accepts messages for it at this path. */
export const ENTITY_PATH_PREFIX = "/entity/";

const KIND = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,119}$/;
/** Safe as one path segment, one state-key segment and in a URL: never "." or ".." (no leading dot). */
const KEY = /^[A-Za-z0-9_~:@=+-][A-Za-z0-9._~:@=+-]{0,199}$/;

export function validateEntityKind(kind: string): string {
  if (typeof kind !== "string" || !KIND.test(kind)) throw new TypeError(`invalid entity kind ${JSON.stringify(kind)}: 1-120 of letters, digits, '_', '-', '.' (not first)`);
  return kind;
}

export function validateEntityKey(key: string): string {
  if (typeof key !== "string" || !KEY.test(key)) throw new TypeError(`invalid entity key ${JSON.stringify(key)}: 1-200 of letters, digits and . _ ~ : @ = + - (not a leading '.')`);
  return key;
}

/** Whether `key` is a valid entity key (as `validateEntityKey` accepts), without throwing. */
export function isEntityKey(key: string): boolean {
  return typeof key === "string" && KEY.test(key);
}

/** `/entity/<kind>/<key>`: the envelope target of a message to an entity. */
export function entityPath(kind: string, key: string): string {
  return `${ENTITY_PATH_PREFIX}${kind}/${key}`;
}

/** The kind and key of an entity path, or undefined when the path is not a well-formed one. */
export function parseEntityPath(path: string): { readonly kind: string; readonly key: string } | undefined {
  const rest = path.slice(ENTITY_PATH_PREFIX.length);
  const slash = rest.indexOf("/");
  if (!path.startsWith(ENTITY_PATH_PREFIX) || slash < 0) return undefined;
  const kind = rest.slice(0, slash);
  const key = rest.slice(slash + 1);
  return KIND.test(kind) && KEY.test(key) ? { kind, key } : undefined;
}

/** The name a node announces in its heartbeat's kinds when it hosts entities of `kind`. */
export function announcedKind(kind: string): string {
  return `entity.${kind}`;
}
