import { listNodes } from "../membership/list-nodes.js";
import type { NodeInfo } from "../membership/node-table.js";
import { DEFAULT_SUBJECT_PREFIX, Subjects } from "../subjects.js";
import { systemInboxPrefix } from "./inbox-prefix.js";
import { connectObserver, waitOption } from "./observer-connection.js";
import { parseOptions, wholeNumber } from "./parse-options.js";
import { VERBS } from "./usage.js";
import { printable } from "../printable.js";

const MAX_LIMIT = 100_000;

/**
 * `troupe nodes`: asks one node of a system for its roster (not every node: one request per 1,000
 * nodes) and prints the live nodes, the kinds they host and their actor counts, `--limit` at a time
 * with the total. With `--json`, stdout is one JSON object `{ system, total, answerer, complete, nodes[, next] }`.
 * A listing cut off short (the wait ran out, or nodes or pages were refused) says so, and which it
 * was, on stderr in both forms, and in the summary line: `complete` false, and `next` where to go on from.
 */
export async function nodesCommand(args: string[]): Promise<number> {
  const parsed = parseOptions(VERBS.nodes, args);
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const waitMs = waitOption(values.wait);
  const limit = wholeNumber(VERBS.nodes, "--limit", values.limit, MAX_LIMIT);
  const subject = new Subjects(DEFAULT_SUBJECT_PREFIX, values.system).membershipRoster;
  const transport = await connectObserver("nodes", values.nats, values.system);
  if (transport === undefined) return 1;
  try {
    const { nodes, total, answerer, next, complete, refused } = await listNodes(transport, subject, {
      system: values.system,
      waitMs,
      limit,
      after: values.after,
      inboxPrefix: systemInboxPrefix(values.system),
      onInvalid: (detail) => console.error(`troupe nodes: ignored ${printable(detail)}`),
    });
    if (!complete && answerer !== undefined) {
      // Refusals are the member's doing (another may answer next time); a longer wait helps only the other case.
      const why = refused > 0 ? `${refused} of its nodes or pages refused: see above` : `it stopped coming within the wait of ${waitMs} ms`;
      const goOn = next !== undefined ? `go on with --after ${printable(next)}` : refused > 0 ? "try again (another node may answer)" : "try again with a longer --wait";
      console.error(`troupe nodes: the listing is incomplete after ${nodes.length} nodes of node ${printable(answerer)}'s roster (${why}); ${goOn}`);
    }
    if (values.json) {
      const rows = nodes.map(({ self: _self, lastSeenMs: _seen, ...node }) => node);
      console.log(JSON.stringify({ system: values.system, total, answerer: answerer ?? null, complete, nodes: rows, ...(next === undefined ? {} : { next }) }));
    } else if (answerer === undefined) {
      console.log(`no node of system ${values.system} answered on ${transport.description} within ${waitMs} ms`);
    } else {
      if (nodes.length > 0) console.log(`${formatNodeTable(nodes, Date.now())}\n`);
      const from = values.after === undefined ? "" : ` after ${printable(values.after)}`;
      const more = next === undefined ? "" : `; next page: --after ${printable(next)}`;
      console.log(`${nodes.length} of ${total} nodes of system ${values.system}${from} (roster of node ${printable(answerer)})${complete ? more : `; the listing is incomplete (cut off)${more}`}`);
    }
    return 0;
  } finally {
    await transport.close();
  }
}

/**
 * One row per node; ages use the nodes' own start times, so they are as good as the clocks agree. No
 * actor counts: under ring membership a roster holds each node's count from when it joined, not now
 * (`troupe actors` and `troupe top` ask the nodes themselves).
 */
export function formatNodeTable(nodes: readonly NodeInfo[], nowMs: number): string {
  const rows = [
    ["NODE", "KINDS", "UP"],
    // Node ids and kinds come from a member's roster: anyone allowed to answer on the bus can forge one.
    ...nodes.map((n) => [printable(n.node), printable(n.kinds.join(",")) || "-", duration(nowMs - n.startedAtMs)]),
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
