/**
 * The face detector's result cache: `troupe run image-pipeline --cache URL` (or TROUPE_CACHE=URL, which
 * the worker nodes inherit) gives each worker node a cache of face analyses keyed by the photo's bytes,
 * so a photo seen again, under any name, is answered from it. `nats-kv:` puts it on the run's NATS
 * server (worker nodes find it in NATS_URL), `memory:` in each node's memory, `redis://host:port` on Redis.
 */
import type { ActorSystem } from "../../runtime/index.js";
import { openResultCache, type ResultCache } from "../../runtime/cache/index.js";
import { natsCredentialsFromEnv } from "../../runtime/cli/nats-credentials.js";
import { systemInboxPrefix } from "../../runtime/cli/inbox-prefix.js";

export const CACHE_ENV = "TROUPE_CACHE";

/** Bump when the analysis changes (models, thresholds): results cached before are then never used. */
export const FACE_ANALYSIS_VERSION = 1;

/** Each worker node's cache, by node id (a process may host more than one node). */
const caches = new Map<string, ResultCache>();

/** The cache URL this run asked for, or undefined for none (`off` too). */
export function cacheUrl(): string | undefined {
  const url = process.env[CACHE_ENV]?.trim();
  return url && url !== "off" ? url : undefined;
}

/** A cache URL fit to print: any password replaced. */
export function printableCacheUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1***@");
}

/** Opens the worker node's cache when the run asked for one; it is closed when the node stops. */
export function openNodeCache(system: ActorSystem): void {
  const url = cacheUrl();
  if (url === undefined || caches.has(system.nodeId)) return;
  // The node's inbox prefix: under the node role's permissions, replies to `_INBOX.` are refused.
  const nats = process.env.NATS_URL ? { servers: process.env.NATS_URL.split(","), inboxPrefix: systemInboxPrefix(system.name), ...natsCredentialsFromEnv() } : undefined;
  const cache = openResultCache(url, { nats, log: (line) => console.error(`[${system.nodeId}] cache: ${line}`) });
  caches.set(system.nodeId, cache);
  void system.closed().then(async () => {
    caches.delete(system.nodeId);
    await cache.close();
  });
}

/** The cache of the node `nodeId`, if it has one. */
export function nodeCache(nodeId: string): ResultCache | undefined {
  return caches.get(nodeId);
}
