import { actorTree } from "../introspection/actor-tree.js";
import { DashboardServer } from "../live/dashboard-server.js";
import { liveView } from "../live/live-view.js";
import { SystemSampler, type Sample } from "../live/system-sampler.js";
import { printable } from "../printable.js";
import { DEFAULT_SUBJECT_PREFIX, Subjects } from "../subjects.js";
import { systemInboxPrefix } from "./inbox-prefix.js";
import { connectObserver, waitOption } from "./observer-connection.js";
import { parseOptions, UsageError } from "./parse-options.js";
import { untilSignal } from "./signals.js";
import { VERBS } from "./usage.js";

const REFRESH_MS = 1_000;
/** The page's chart: the system's rates over the last two minutes, kept here so a page opened late has them. */
const HISTORY_MS = 120_000;

/**
 * `troupe dashboard`: serves a live page of a system on 127.0.0.1 (nodes, the actor tree, rates, dead
 * letters) and prints its URL; samples the system every second as `troupe top` does, with only the
 * monitor role's permissions. Runs until SIGINT or SIGTERM (exit 0) or until the connection is lost (1).
 */
export async function dashboardCommand(args: string[]): Promise<number> {
  const parsed = parseOptions(VERBS.dashboard, args);
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const waitMs = waitOption(values.wait);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (0 to 65535); got ${values.port}`, VERBS.dashboard);
  const transport = await connectObserver("dashboard", values.nats, values.system);
  if (transport === undefined) return 1;
  const sampler = new SystemSampler(transport, new Subjects(DEFAULT_SUBJECT_PREFIX, values.system), {
    waitMs,
    inboxPrefix: systemInboxPrefix(values.system),
    onInvalid: (detail) => console.error(`troupe dashboard: ${printable(detail)}`),
  });
  const server = new DashboardServer(values.system);
  const signal = untilSignal();
  const lost = transport.closed().then((error) => error ?? new Error(`the connection to ${transport.description} closed`));
  try {
    const url = await server.listen(port);
    console.log(`troupe dashboard: system ${printable(values.system)} on ${values.nats ?? process.env.NATS_URL} at ${url} (Ctrl-C stops)`);
    let previous: Sample | undefined;
    const history: { atMs: number; messages: number; deadLetters: number }[] = [];
    for (;;) {
      const started = Date.now();
      const outcome = await Promise.race([sampler.sample(), signal.promise, lost]);
      if (typeof outcome === "string") return 0;
      if (outcome instanceof Error) throw outcome;
      const view = liveView(previous, outcome);
      previous = outcome;
      const tree = actorTree(view.actors.map((a) => ({ node: a.node, path: a.path, kind: a.kind, restarts: a.restarts, mailboxSize: a.mailbox, processed: a.processed, perSecond: a.perSecond })));
      if (view.overSeconds !== undefined) history.push({ atMs: view.atMs, messages: view.totals.processedPerSecond ?? 0, deadLetters: view.totals.deadLettersPerSecond ?? 0 });
      while (history.length > 0 && history[0]!.atMs < view.atMs - HISTORY_MS) history.shift();
      // The actors go once, in the tree.
      server.publish(JSON.stringify({ system: values.system, view: { ...view, actors: undefined }, tree, history }));
      const wait = new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, REFRESH_MS - (Date.now() - started))).unref());
      if (typeof (await Promise.race([wait, signal.promise])) === "string") return 0;
    }
  } finally {
    signal.dispose();
    await server.close();
    await transport.close();
  }
}
