import { actorTree, formatActorTree } from "../introspection/actor-tree.js";
import { listActors, type ActorListShortfall } from "../introspection/list-actors.js";
import { fetchRoster } from "../membership/roster.js";
import { printable } from "../printable.js";
import { DEFAULT_SUBJECT_PREFIX, Subjects } from "../subjects.js";
import { systemInboxPrefix } from "./inbox-prefix.js";
import { connectObserver, waitOption } from "./observer-connection.js";
import { parseOptions, wholeNumber } from "./parse-options.js";
import { VERBS } from "./usage.js";

const MAX_NODES_PAGE = 10_000;
const MAX_CONCURRENCY = 1_000;
/** Most roster nodes read to reach the page asked for (`--page` * `--nodes-page`): the roster is read from its start. */
export const MAX_ROSTER_NODES = 100_000;
/** How long reading the roster may take, all its pages together. */
const ROSTER_WAIT_MS = 3_000;

/**
 * `troupe actors`: reads the roster from one node, asks one page of nodes (`--nodes-page`, in node id
 * order; `--page` picks which) for their actors, `--concurrency` at a time, each on its own subject,
 * and prints the supervision tree (path, kind, node, restarts), remote children under their parents,
 * then the totals. `--json`: one object `{ system, actors, total, nodes, missing }` with the tree, the
 * actors shown, the nodes (`total` in the system, `shown`, `silent`, `page`, `pages`, and `complete`:
 * false when the roster stopped coming before the page's end or any of its nodes was refused, also said
 * on stderr with which it was), and for each node
 * whose answer did not arrive whole `{ node, listed, total }` (also said on stderr, in both forms).
 */
export async function actorsCommand(args: string[]): Promise<number> {
  const parsed = parseOptions(VERBS.actors, args);
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const waitMs = waitOption(values.wait);
  const pageSize = wholeNumber(VERBS.actors, "--nodes-page", values["nodes-page"], MAX_NODES_PAGE);
  // The roster is read from its start up to the page's end: at most MAX_ROSTER_NODES of it.
  const page = wholeNumber(VERBS.actors, "--page", values.page, Math.floor(MAX_ROSTER_NODES / pageSize));
  const concurrency = wholeNumber(VERBS.actors, "--concurrency", values.concurrency, MAX_CONCURRENCY);
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
      if (values.json) console.log(JSON.stringify({ system: values.system, actors: [], total: 0, nodes: { total: 0, shown: 0, silent: [], page, pages: 0, complete: false }, missing: [] }));
      else console.log(`no node of system ${values.system} answered on ${transport.description}: no roster to list actors from`);
      return 0;
    }
    const shown = roster.nodes.slice((page - 1) * pageSize, page * pageSize).map((n) => n.node);
    // Whole when no node was refused, and the roster ended or reached the page's end.
    const complete = roster.refused === 0 && (roster.complete || roster.nodes.length >= page * pageSize);
    if (!complete) {
      const why = roster.refused > 0 ? `${roster.refused} of its nodes or pages refused: see above` : `it stopped coming within the wait of ${Math.max(ROSTER_WAIT_MS, waitMs)} ms`;
      console.error(`troupe actors: node ${printable(roster.answerer)}'s roster is incomplete after ${roster.nodes.length} nodes of ${roster.total} (${why}): page ${page} may lack nodes`);
    }
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
    const nodes = { total: roster.total, shown: shown.length, silent: listing.silent, page, pages, complete };
    if (values.json) {
      console.log(JSON.stringify({ system: values.system, actors: tree, total: listing.actors.length, nodes, missing }));
      return 0;
    }
    if (listing.actors.length > 0) console.log(`${formatActorTree(tree)}\n`);
    const range = shown.length === 0 ? "none" : `${printable(shown[0]!)} to ${printable(shown.at(-1)!)}`;
    const next = nextPageNote(page, pages, pageSize);
    console.log(`${listing.actors.length} actors on ${listing.answered.length} of ${shown.length} nodes asked (${range}), ${roster.total} nodes in system ${values.system}; page ${page} of ${pages}${complete ? "" : " (incomplete: the roster was cut off)"}${next}`);
    return 0;
  } finally {
    await transport.close();
  }
}

/** The summary's pointer past `page`: the next page, or that pages past it are not read (the roster cap). */
export function nextPageNote(page: number, pages: number, pageSize: number): string {
  if (page >= pages) return "";
  if ((page + 1) * pageSize <= MAX_ROSTER_NODES) return `; next page: --page ${page + 1}`;
  return `; pages past ${page} are not read (at most the roster's first ${MAX_ROSTER_NODES} nodes are)`;
}
