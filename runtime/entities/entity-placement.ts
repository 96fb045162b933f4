import { fmix32, fnv1a32, hash32 } from "../hash32.js";

/**
 * Chooses the owner of (kind, key) among the nodes that host the kind. The default, `rendezvous`,
 * needs no coordination: every node computes the same owner from the same view of membership.
 * Returns undefined when no node hosts the kind.
 */
export type EntityPlacement = (kind: string, key: string, hosts: readonly string[]) => string | undefined;

/** Rendezvous (highest random weight) hashing: when a host comes or goes, only its keys move. */
export const rendezvous: EntityPlacement = (kind, key, hosts) => {
  const keyHash = keySeed(kind, key);
  let best: string | undefined;
  let bestScore = -1;
  for (let i = 0; i < hosts.length; i++) {
    const node = hosts[i]!;
    const score = hash32(node, keyHash);
    if (score > bestScore || (score === bestScore && best !== undefined && node < best)) {
      best = node;
      bestScore = score;
    }
  }
  return best;
};

/** `hash32(`${kind}/${key}`, 0x811c9dc5)` without building the string: placement runs for every message. */
function keySeed(kind: string, key: string): number {
  let h = fnv1a32(kind, 0x811c9dc5);
  h = Math.imul(h ^ 0x2f, 0x01000193); // "/"
  return fmix32(fnv1a32(key, h));
}
