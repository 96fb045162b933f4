import { validateToken } from "./address.js";

export const DEFAULT_SUBJECT_PREFIX = "troupe";

const MAX_CACHED_INBOXES = 1_024;

/** The two inboxes of one node, and their templates across nodes (span names): built once per node. */
export interface NodeInboxes {
  readonly data: string;
  readonly control: string;
  readonly dataTemplate: string;
  readonly controlTemplate: string;
}

/**
 * The NATS subjects of one system. Everything lives under `<prefix>.<system>.`, so one permission
 * (`<prefix>.<system>.>`) scopes a system; docs/wire.md documents the scheme for other clients.
 */
export class Subjects {
  readonly root: string;
  private readonly prefixDot: string;
  private readonly requestInboxes: string;
  /** Inbox subjects of this system's nodes, built once each: sending looks one up per message. */
  private readonly inboxes = new Map<string, NodeInboxes>();

  constructor(
    readonly prefix: string,
    readonly system: string,
  ) {
    validateToken("subject prefix", prefix);
    validateToken("system name", system);
    this.root = `${prefix}.${system}`;
    this.prefixDot = `${prefix}.`;
    this.requestInboxes = `${this.root}._INBOX.`;
  }

  /**
   * A node's inbox, the data plane: frames of actor messages (tells, asks, their replies) for every
   * actor hosted by that node, one subscription per node. What a client role may publish to.
   */
  nodeInbox(node: string, system = this.system): string {
    return this.inboxesOf(node, system).data;
  }

  /**
   * A node's control inbox, the control plane: spawn, supervise, watch and child reports between
   * nodes. Only the node role may publish here; a node refuses control messages on its data inbox.
   */
  controlInbox(node: string, system = this.system): string {
    return this.inboxesOf(node, system).control;
  }

  /** Both inboxes of `node`: one lookup per message sent, whichever plane it takes. */
  inboxesOf(node: string, system = this.system): NodeInboxes {
    if (system !== this.system) return inboxesUnder(`${this.prefix}.${system}`, node);
    let inboxes = this.inboxes.get(node);
    if (inboxes === undefined) {
      // Node ids come and go over a long run (restarts get new ids): bound the cache.
      if (this.inboxes.size >= MAX_CACHED_INBOXES) this.inboxes.clear();
      this.inboxes.set(node, (inboxes = inboxesUnder(this.root, node)));
    }
    return inboxes;
  }

  /**
   * A service, the data plane: every node serving `name` joins one NATS queue group here, so each
   * frame (a tell, or a request with a reply subject) reaches one of them. A client role may publish.
   */
  service(name: string): string {
    return `${this.root}.service.${name}`;
  }

  /**
   * Name lookups for `/user/<name>`: each node hosting the name joins a queue group here while the actor
   * runs, so the NATS servers are the directory and a `LookupRequest` reaches one host, not every node.
   * A name is one subject token: as it is when it has no `.`, else `~` and its UTF-8 in base64url
   * (a name cannot start with `~`, so the two never collide).
   */
  actorName(name: string): string {
    return `${this.root}.name.${name.includes(".") ? `~${Buffer.from(name, "utf8").toString("base64url")}` : name}`;
  }

  /** Where every node of the system announces itself, and listens for the others (membership). */
  get heartbeat(): string {
    return `${this.root}.membership.heartbeat`;
  }

  /**
   * The roster: a queue group of every node, so one member answers each `RosterRequest` with a page of
   * its view; follow-up pages go to that member on `<this>.<node>` (runtime/membership/roster.ts).
   */
  get membershipRoster(): string {
    return `${this.root}.membership.roster`;
  }

  /**
   * Ring membership (docs/scale.md): heartbeats of the nodes `node` monitors, probes of `node`, and
   * digests and notices meant for it alone. Only `node` subscribes.
   */
  membershipTo(node: string): string {
    return `${this.root}.membership.to.${node}`;
  }

  /** Ring membership: `joined`, `left` and `lost` notices, published once each; every node subscribes. */
  get membershipChanges(): string {
    return `${this.root}.membership.changes`;
  }

  /**
   * Introspection: `node` answers a request here with the actors it hosts (`troupe actors` reads the
   * roster, then asks the nodes it lists one by one, a page at a time: never every node at once).
   */
  actorsOf(node: string): string {
    return `${this.root}.actors.${node}`;
  }

  /**
   * Placement: `node` answers a `LoadRequest` here with its actor count (`least-loaded` asks two
   * candidates per spawn, runtime/remote/least-loaded.ts). Control plane: the node role only.
   */
  loadOf(node: string): string {
    return `${this.root}.load.${node}`;
  }

  /**
   * Whether a node may publish an answer to `subject`, the reply subject of a request it received.
   * NATS's `allow_responses` lets a node publish to any reply subject, so a requester could aim the
   * answer at another system's inboxes or at this system's own planes; under the prefix, only the
   * system's request inboxes (`<prefix>.<system>._INBOX.`) are answered. Elsewhere (`_INBOX.…`, a
   * client's own subjects) anything goes.
   */
  answersTo(subject: string): boolean {
    if (!subject.startsWith(this.prefixDot)) return true;
    return subject.startsWith(this.requestInboxes) && subject.length > this.requestInboxes.length;
  }

  /** Every subject of the system: what a permission or a monitoring subscription names. */
  get all(): string {
    return `${this.root}.>`;
  }
}

function inboxesUnder(root: string, node: string): NodeInboxes {
  return { data: `${root}.node.${node}`, control: `${root}.control.${node}`, dataTemplate: `${root}.node.{node}`, controlTemplate: `${root}.control.{node}` };
}
