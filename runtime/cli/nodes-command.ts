import { DEFAULT_LIST_WAIT_MS, listNodes } from "../membership/list-nodes.js";
import type { NodeInfo } from "../membership/node-table.js";
import { DEFAULT_SUBJECT_PREFIX, Subjects } from "../subjects.js";
import { connectObserver, waitOption } from "./observer-connection.js";
import { parseOptions } from "./parse-options.js";
import { VERBS } from "./usage.js";
import { printable } from "../printable.js";

/**
 * `troupe nodes`: listens to a system's heartbeats for `--wait` ms and prints the live nodes, the
 * kinds they host and their actor counts. With `--json`, stdout is one JSON object `{ system, nodes }`.
 */
export async function nodesCommand(args: string[]): Promise<number> {
  const parsed = parseOptions(VERBS.nodes, args);
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const waitMs = waitOption(values.wait ?? String(DEFAULT_LIST_WAIT_MS));
  const subject = new Subjects(DEFAULT_SUBJECT_PREFIX, values.system).heartbeat;
  const transport = await connectObserver("nodes", values.nats, values.system);
  if (transport === undefined) return 1;
  try {
    const nodes = await listNodes(transport, subject, {
      waitMs,
      onInvalid: (detail) => console.error(`troupe nodes: ignored a heartbeat: ${detail}`),
    });
    if (values.json) {
      console.log(JSON.stringify({ system: values.system, nodes: nodes.map(({ self: _self, ...node }) => node) }));
    } else if (nodes.length === 0) {
      console.log(`no live nodes of system ${values.system} heard on ${transport.description} within ${waitMs} ms`);
    } else {
      console.log(formatNodeTable(nodes, Date.now()));
    }
    return 0;
  } finally {
    await transport.close();
  }
}

/** One row per node; ages use the nodes' own start times, so they are as good as the clocks agree. */
export function formatNodeTable(nodes: readonly NodeInfo[], nowMs: number): string {
  const rows = [
    ["NODE", "KINDS", "ACTORS", "UP", "LAST SEEN"],
    // Node ids and kinds come from heartbeats, which anyone on the bus can send.
    ...nodes.map((n) => [printable(n.node), printable(n.kinds.join(",")) || "-", String(n.actorCount), duration(nowMs - n.startedAtMs), `${duration(nowMs - n.lastSeenMs)} ago`]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}

function duration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
