import type { SpanRecord } from "./file-span-exporter.js";
import { printable } from "../printable.js";
import { actorOf, labelOf, nodeOf, type LoadedTrace, type SpanNode } from "./trace-file.js";

/**
 * The trace as indented text, one span per line: what happened (send, process, ask, checkpoint...),
 * on which node, to which actor, how long it took, and errors. Runs of identical sibling lines (a job's
 * many tasks) are shown once with a count unless `all` is set.
 */
export function formatTraceTree(trace: LoadedTrace, options: { all?: boolean; maxLines?: number } = {}): string {
  const errors = trace.spans.filter((s) => s.status.code === "ERROR").length;
  const nodes = [...new Set(trace.spans.map(nodeOf))].sort();
  const lines = [
    `trace ${trace.traceId}: ${trace.spans.length} spans, ${nodes.length} nodes (${nodes.join(", ")}), ${ms(trace.endMs - trace.startMs)}${errors ? `, ${errors} errors` : ""}`,
  ];
  const maxLines = options.maxLines ?? 2_000;
  const walk = (nodesAtLevel: readonly SpanNode[], depth: number): void => {
    const groups = options.all ? nodesAtLevel.map((n) => [n]) : groupAlike(nodesAtLevel);
    for (const group of groups) {
      if (lines.length >= maxLines) return;
      const first = group[0]!;
      const count = group.length > 1 ? `  x${group.length}` : "";
      lines.push(`${"  ".repeat(depth)}${describe(first.span)}${count}`);
      walk(first.children, depth + 1);
    }
  };
  walk(trace.roots, 0);
  if (lines.length >= maxLines) lines.push(`... (${trace.spans.length} spans; --all prints every one, a span per line up to ${maxLines})`);
  // Span names, nodes, paths and messages may come from anywhere (a trace file is only data).
  return lines.map(printable).join("\n");
}

function describe(span: SpanRecord): string {
  const actor = actorOf(span);
  const error = span.status.code === "ERROR" ? `  ERROR ${span.status.message ?? ""}`.trimEnd() : "";
  const events = span.events.filter((e) => e.name !== "exception").map((e) => {
    const directive = e.attributes["troupe.directive"];
    return typeof directive === "string" ? `${e.name}=${directive}` : e.name;
  });
  return `${labelOf(span)}  [${nodeOf(span)}]${actor ? ` ${actor}` : ""}  ${ms(span.durationMs)}${error}${events.length ? `  {${events.join(", ")}}` : ""}`;
}

/** Consecutive siblings with the same name, node, actor and status, and children shaped alike. */
function groupAlike(nodes: readonly SpanNode[]): SpanNode[][] {
  const groups: SpanNode[][] = [];
  for (const node of nodes) {
    const last = groups.at(-1);
    if (last && shape(last[0]!) === shape(node)) last.push(node);
    else groups.push([node]);
  }
  return groups;
}

function shape(node: SpanNode): string {
  const s = node.span;
  return `${labelOf(s)}|${nodeOf(s)}|${(actorOf(s) ?? "").replace(/\/[^/]*\d[^/]*$/, "/*")}|${s.status.code}|${node.children.map(shape).join(",")}`;
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 2 : 0)} ms`;
}
