import { actorTree, formatActorTree } from "../introspection/actor-tree.js";
import { listActors, type ActorListShortfall } from "../introspection/list-actors.js";
import { printable } from "../printable.js";
import { DEFAULT_SUBJECT_PREFIX, Subjects } from "../subjects.js";
import { systemInboxPrefix } from "./inbox-prefix.js";
import { connectObserver, waitOption } from "./observer-connection.js";
import { parseOptions } from "./parse-options.js";
import { VERBS } from "./usage.js";

/**
 * `troupe actors`: asks every node of a system for its actors and prints the supervision tree (path,
 * kind, node, restarts), remote children under their parents. `--json`: one object `{ system, actors,
 * missing }` with the tree, and for each node whose answer did not arrive whole `{ node, listed, total }`
 * (also said on stderr, in both forms).
 */
export async function actorsCommand(args: string[]): Promise<number> {
  const parsed = parseOptions(VERBS.actors, args);
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const waitMs = waitOption(values.wait);
  const transport = await connectObserver("actors", values.nats, values.system);
  if (transport === undefined) return 1;
  try {
    const missing: ActorListShortfall[] = [];
    const reports = await listActors(transport, new Subjects(DEFAULT_SUBJECT_PREFIX, values.system).actors, {
      waitMs,
      inboxPrefix: systemInboxPrefix(values.system),
      onInvalid: (detail) => console.error(`troupe actors: ignored an answer: ${detail}`),
      onIncomplete: (shortfall) => missing.push(shortfall),
    });
    for (const { node, listed, total } of missing) {
      console.error(`troupe actors: node ${printable(node)} has ${total} actors; ${total - listed} of them are not listed (its answer did not arrive whole within the wait; try a longer --wait)`);
    }
    const tree = actorTree(reports);
    if (values.json) console.log(JSON.stringify({ system: values.system, actors: tree, missing }));
    else if (reports.length === 0) console.log(`no actors of system ${values.system} answered on ${transport.description} within ${waitMs} ms`);
    else console.log(formatActorTree(tree));
    return 0;
  } finally {
    await transport.close();
  }
}
