import { actorTree, formatActorTree } from "../introspection/actor-tree.js";
import { listActors, type ActorListShortfall } from "../introspection/list-actors.js";
import { fetchRoster } from "../membership/roster.js";
import { printable } from "../printable.js";
import { DEFAULT_SUBJECT_PREFIX, Subjects } from "../subjects.js";
import { systemInboxPrefix } from "./inbox-prefix.js";
import { connectObserver, waitOption } from "./observer-connection.js";
import { parseOptions, UsageError } from "./parse-options.js";
import { VERBS } from "./usage.js";

const MAX_NODES_PAGE = 10_000;
const MAX_CONCURRENCY = 1_000;
/** How long reading the roster may take, all its pages together. */
const ROSTER_WAIT_MS = 3_000;

/**
 * `troupe actors`: reads the roster from one node, asks one page of nodes (`--nodes-page`, in node id
 * order; `--page` picks which) for their actors, `--concurrency` at a time, each on its own subject,
 * and prints the supervision tree (path, kind, node, restarts), remote children under their parents,
 * then the totals. `--json`: one object `{ system, actors, total, nodes, missing }` with the tree, the
 * actors shown, the nodes (`total` in the system, `shown`, `silent`, `page`, `pages`), and for each node
 * whose answer did not arrive whole `{ node, listed, total }` (also said on stderr, in both forms).
 */
export async function actorsCommand(args: string[]): Promise<number> {
  const parsed = parseOptions(VERBS.actors, args);
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const waitMs = waitOption(values.wait);
  const pageSize = wholeNumber("--nodes-page", values["nodes-page"], MAX_NODES_PAGE);
  const page = wholeNumber("--page", values.page, Number.MAX_SAFE_INTEGER);
  const concurrency = wholeNumber("--concurrency", values.concurrency, MAX_CONCURRENCY);
  const subjects = new Subjects(DEFAULT_SUBJECT_PREFIX, values.system);
  const inboxPrefix = systemInboxPrefix(values.system);
  const transport = await connectObserver("actors", values.nats, values.system);
  if (transport === undefined) return 1;
  try {
    const roster = await fetchRoster(transport, subjects.membershipRoster, {
      system: values.system,
      timeoutMs: Math.max(ROSTER_WAIT_MS, waitMs),
      maxNodes: page * pageSize,
      inboxPrefix,
      onInvalid: (detail) => console.error(`troupe actors: ignored ${printable(detail)}`),
    });
    if (roster === undefined) {
      if (values.json) console.log(JSON.stringify({ system: values.system, actors: [], total: 0, nodes: { total: 0, shown: 0, silent: [], page, pages: 0 }, missing: [] }));
      else console.log(`no node of system ${values.system} answered on ${transport.description}: no roster to list actors from`);
      return 0;
    }
    const shown = roster.nodes.slice((page - 1) * pageSize, page * pageSize).map((n) => n.node);
    const missing: ActorListShortfall[] = [];
    const listing = await listActors(transport, (node) => subjects.actorsOf(node), shown, {
      waitMs,
      concurrency,
      inboxPrefix,
      onInvalid: (detail) => console.error(`troupe actors: ignored an answer: ${printable(detail)}`),
      onIncomplete: (shortfall) => missing.push(shortfall),
    });
    for (const { node, listed, total } of missing) {
      console.error(`troupe actors: node ${printable(node)} has ${total} actors; ${total - listed} of them are not listed (its answer did not arrive whole within the wait; try a longer --wait)`);
    }
    if (listing.silent.length > 0) console.error(`troupe actors: ${listing.silent.length} nodes did not answer within ${waitMs} ms: ${listing.silent.slice(0, 20).map(printable).join(", ")}${listing.silent.length > 20 ? ", ..." : ""}`);
    const tree = actorTree(listing.actors);
    const pages = Math.max(1, Math.ceil(roster.total / pageSize));
    const nodes = { total: roster.total, shown: shown.length, silent: listing.silent, page, pages };
    if (values.json) {
      console.log(JSON.stringify({ system: values.system, actors: tree, total: listing.actors.length, nodes, missing }));
      return 0;
    }
    if (listing.actors.length > 0) console.log(`${formatActorTree(tree)}\n`);
    const range = shown.length === 0 ? "none" : `${printable(shown[0]!)} to ${printable(shown.at(-1)!)}`;
    const next = page < pages ? `; next page: --page ${page + 1}` : "";
    console.log(`${listing.actors.length} actors on ${listing.answered.length} of ${shown.length} nodes asked (${range}), ${roster.total} nodes in system ${values.system}; page ${page} of ${pages}${next}`);
    return 0;
  } finally {
    await transport.close();
  }
}

function wholeNumber(option: string, value: string | undefined, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${option} must be a whole number from 1 to ${max}; got ${value}`, VERBS.actors);
  return n;
}
