import { validateToken } from "./address.js";

export const DEFAULT_SUBJECT_PREFIX = "troupe";

/**
 * The NATS subjects of one system. Everything lives under `<prefix>.<system>.`, so one permission
 * (`<prefix>.<system>.>`) scopes a system; docs/wire.md documents the scheme for other clients.
 */
export class Subjects {
  readonly root: string;

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
    return system === this.system ? `${this.root}.node.${node}` : `${this.prefix}.${system}.node.${node}`;
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
