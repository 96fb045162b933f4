/** What an actor kind name may be: it travels in spawn requests and heartbeats, and is printed by the CLI. */
export const KIND_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

export function isKindName(value: string): boolean {
  return KIND_NAME_PATTERN.test(value);
}
