import { hash32 } from "../routing/consistent-hash.js";

/**
 * Chooses the owner of (kind, key) among the nodes that host the kind. The default, `rendezvous`,
 * needs no coordination: every node computes the same owner from the same view of membership.
 * Returns undefined when no node hosts the kind.
 */
export type EntityPlacement = (kind: string, key: string, hosts: readonly string[]) => string | undefined;

/** Rendezvous (highest random weight) hashing: when a host comes or goes, only its keys move. */
export const rendezvous: EntityPlacement = (kind, key, hosts) => {
  const keyHash = hash32(`${kind}/${key}`, 0x811c9dc5);
  let best: string | undefined;
  let bestScore = -1;
  for (const node of hosts) {
    const score = hash32(node, keyHash);
    if (score > bestScore || (score === bestScore && best !== undefined && node < best)) [best, bestScore] = [node, score];
  }
  return best;
};
