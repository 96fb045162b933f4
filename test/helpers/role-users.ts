import type { NatsConnection } from "@nats-io/transport-node";

/**
 * The roles of docs/operations.md as nats-server users of one system. Keep the two in step: the
 * tests in test/integration/roles.test.ts are what the page's threat model points to.
 */
export const rolePermissions = {
  /** Everything in its system; answers to requests it receives wherever they ask (allow_responses). */
  node: (system: string): string => `{
      publish: { allow: ["troupe.${system}.>"] }
      subscribe: { allow: ["troupe.${system}.>"] }
      allow_responses: { max: 100, expires: "1m" }
    }`,
  /** Messages actors (node data inboxes) and services, looks actors up by name, and hears answers on an inbox of its own only. */
  client: (system: string, user: string): string => `{
      publish: { allow: ["troupe.${system}.node.*", "troupe.${system}.service.*", "troupe.${system}.name.*"] }
      subscribe: { allow: ["${inboxPrefixOf(user)}.>"] }
    }`,
  /** Asks for the roster and for each node's actor list, and hears its own answers: `troupe nodes`, `actors`, `top`, `dashboard`. */
  monitor: (system: string, user: string): string => `{
      publish: { allow: ["troupe.${system}.membership.roster", "troupe.${system}.membership.roster.*", "troupe.${system}.actors.*"] }
      subscribe: { allow: ["${inboxPrefixOf(user)}.>"] }
    }`,
};

/**
 * The request inbox prefix of a client or monitor user (nats.js `inboxPrefix`, `NATS_INBOX_PREFIX` for
 * the CLI): one per user, outside the system's subjects, so no user hears another's answers.
 */
export function inboxPrefixOf(user: string): string {
  return `_INBOX_${user}`;
}

export function roleUser(user: string, password: string, permissions: string): string {
  return `{ user: "${user}", password: "${password}", permissions: ${permissions} }`;
}

/** A server config with a node user and a monitor user for `system`: `<system>-node`, `<system>-monitor`. */
export function nodeAndMonitorConfig(system: string, password: string): string {
  return `authorization {
  users = [
    ${roleUser(`${system}-node`, password, rolePermissions.node(system))}
    ${roleUser(`${system}-monitor`, password, rolePermissions.monitor(system, `${system}-monitor`))}
  ]
}
`;
}

/** The server's refusals reported to `nc` (publishes and subscriptions it was not allowed), as they come. */
export function violationsOf(nc: NatsConnection): string[] {
  const violations: string[] = [];
  void (async () => {
    for await (const status of nc.status()) if (status.type === "error") violations.push(status.error.message);
  })();
  return violations;
}
