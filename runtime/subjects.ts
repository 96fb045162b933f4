import { validateToken } from "./address.js";

export const DEFAULT_SUBJECT_PREFIX = "troupe";

const MAX_CACHED_INBOXES = 1_024;

/**
 * The NATS subjects of one system. Everything lives under `<prefix>.<system>.`, so one permission
 * (`<prefix>.<system>.>`) scopes a system; docs/wire.md documents the scheme for other clients.
 */
export class Subjects {
  readonly root: string;
  /** Inbox subjects of this system's nodes, built once each: sending looks one up per message. */
  private readonly inboxes = new Map<string, string>();

  constructor(
    readonly prefix: string,
    readonly system: string,
  ) {
    validateToken("subject prefix", prefix);
    validateToken("system name", system);
    this.root = `${prefix}.${system}`;
  }

  /** A node's inbox: frames for every actor hosted by that node (one subscription per node). */
  nodeInbox(node: string, system = this.system): string {
    if (system !== this.system) return `${this.prefix}.${system}.node.${node}`;
    let subject = this.inboxes.get(node);
    if (subject === undefined) {
      // Node ids come and go over a long run (restarts get new ids): bound the cache.
      if (this.inboxes.size >= MAX_CACHED_INBOXES) this.inboxes.clear();
      this.inboxes.set(node, (subject = `${this.root}.node.${node}`));
    }
    return subject;
  }

  /** Name lookups, answered by whichever node hosts the named actor. */
  get lookup(): string {
    return `${this.root}.lookup`;
  }

  /** Where every node of the system announces itself, and listens for the others (membership). */
  get heartbeat(): string {
    return `${this.root}.membership.heartbeat`;
  }

  /** Introspection: every node answers a request here with the actors it hosts. */
  get actors(): string {
    return `${this.root}.actors`;
  }

  /** Every subject of the system: what a permission or a monitoring subscription names. */
  get all(): string {
    return `${this.root}.>`;
  }
}
