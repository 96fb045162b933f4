import type { SpanRecord } from "./file-span-exporter.js";
import { actorOf, labelOf, nodeOf, type LoadedTrace } from "./trace-file.js";
import { formatTraceTree } from "./trace-tree.js";

interface Bar {
  readonly lane: number;
  readonly startMs: number;
  readonly durationMs: number;
  readonly name: string;
  readonly kind: string;
  readonly error: string | undefined;
  readonly detail: string;
}

/**
 * The lane a span is drawn in: its node, and the actor it concerns (asks' temporary addresses share
 * one lane). A send belongs to the actor that sent it: the lane of the processing it happened in.
 */
function laneOf(span: SpanRecord, byId: ReadonlyMap<string, SpanRecord>): string {
  const parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId);
  if (span.kind === "PRODUCER" && parent?.kind === "CONSUMER" && nodeOf(parent) === nodeOf(span)) return laneOf(parent, byId);
  const actor = actorOf(span);
  const where = actor === undefined ? span.name.split(" ")[0]! : actor.startsWith("/temp/") ? "/temp/* (asks)" : actor;
  return `${nodeOf(span)}\u0000${where}`;
}

const PALETTE = ["#2f6db5", "#2a9d8f", "#e9a03b", "#8e5ea2", "#3c9d4e", "#c05f8a", "#5b7083", "#b5852f"];

/**
 * A self-contained page (no network, no scripts from elsewhere): a timeline with one lane per actor,
 * lanes grouped by node, every span a bar (hover for details), failures in red, then the text tree.
 */
export function traceHtml(trace: LoadedTrace, title = "Troupe trace"): string {
  const byId = new Map(trace.spans.map((s) => [s.spanId, s]));
  const laneOfSpan = (s: SpanRecord): string => laneOf(s, byId);
  const laneKeys = [...new Set(trace.spans.map(laneOfSpan))].sort();
  const nodes = [...new Set(laneKeys.map((k) => k.split("\u0000")[0]!))];
  const bars: Bar[] = trace.spans.map((s) => ({
    lane: laneKeys.indexOf(laneOfSpan(s)),
    startMs: s.startMs - trace.startMs,
    durationMs: s.durationMs,
    name: labelOf(s),
    kind: s.kind,
    error: s.status.code === "ERROR" ? (s.status.message ?? "error") : undefined,
    detail: [
      `${labelOf(s)} (${s.kind}; span ${s.name})`,
      `node ${nodeOf(s)}${actorOf(s) ? `, actor ${actorOf(s)}` : ""}`,
      `start +${(s.startMs - trace.startMs).toFixed(2)} ms, ${s.durationMs.toFixed(2)} ms`,
      ...(s.status.code === "ERROR" ? [`ERROR ${s.status.message ?? ""}`] : []),
      ...s.events.map((e) => `event ${e.name} ${JSON.stringify(e.attributes)}`),
      ...(s.links.length ? [`${s.links.length} links`] : []),
    ].join("\n"),
  }));
  const lanes = laneKeys.map((k) => {
    const [node, where] = k.split("\u0000") as [string, string];
    return { node, where, color: PALETTE[nodes.indexOf(node) % PALETTE.length]! };
  });
  const errors = trace.spans.filter((s) => s.status.code === "ERROR");
  const data = JSON.stringify({ bars, lanes, totalMs: Math.max(trace.endMs - trace.startMs, 0.001) }).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escape(title)} ${escape(trace.traceId)}</title>
<style>
  body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #1d2733; }
  h1 { font-size: 18px; margin: 0 0 4px; }
  .summary { color: #4a5a6a; margin-bottom: 12px; }
  .legend span { display: inline-block; margin-right: 14px; }
  .legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 4px; vertical-align: -2px; }
  #timeline { position: relative; border-top: 1px solid #ccd; margin-top: 8px; }
  .lane { position: relative; height: 22px; border-bottom: 1px solid #eef; }
  .lane .label { position: absolute; left: 0; width: 300px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; padding: 3px 6px; box-sizing: border-box; }
  .lane .track { position: absolute; left: 300px; right: 0; top: 0; bottom: 0; }
  .node-head { font-weight: 600; padding: 6px 6px 2px; background: #f5f7fa; border-bottom: 1px solid #dde; }
  .bar { position: absolute; top: 4px; height: 14px; min-width: 2px; border-radius: 2px; opacity: .85; }
  .bar.error { background: #d62828 !important; outline: 2px solid #8b0000; }
  .axis { position: relative; height: 18px; margin-left: 300px; color: #667; font-size: 11px; }
  .axis span { position: absolute; transform: translateX(-50%); }
  .errors { color: #b00020; }
  pre { background: #f7f7fa; padding: 8px; overflow: auto; max-height: 480px; }
</style>
</head>
<body>
<h1>${escape(title)}</h1>
<div class="summary">trace <code>${escape(trace.traceId)}</code>: ${trace.spans.length} spans on ${nodes.length} nodes, ${(trace.endMs - trace.startMs).toFixed(1)} ms${errors.length ? `, <span class="errors">${errors.length} errors</span>` : ", no errors"}</div>
<div class="legend">${nodes.map((n, i) => `<span><i style="background:${PALETTE[i % PALETTE.length]}"></i>${escape(n)}</span>`).join("")}<span><i style="background:#d62828"></i>failed</span></div>
<div class="axis" id="axis"></div>
<div id="timeline"></div>
${errors.length ? `<h2>Errors</h2><ul class="errors">${errors.map((s) => `<li>${escape(labelOf(s))} on ${escape(nodeOf(s))}${actorOf(s) ? ` at ${escape(actorOf(s)!)}` : ""}: ${escape(s.status.message ?? "")}</li>`).join("")}</ul>` : ""}
<details><summary>Flow as a tree</summary><pre>${escape(formatTraceTree(trace))}</pre></details>
<script>
const { bars, lanes, totalMs } = ${data};
const timeline = document.getElementById("timeline");
const tracks = [];
let lastNode;
lanes.forEach((lane) => {
  if (lane.node !== lastNode) {
    const head = document.createElement("div");
    head.className = "node-head";
    head.textContent = "node " + lane.node;
    timeline.appendChild(head);
    lastNode = lane.node;
  }
  const row = document.createElement("div");
  row.className = "lane";
  const label = document.createElement("div");
  label.className = "label";
  // Long paths keep their end, which names the actor.
  label.textContent = lane.where.length > 36 ? "…" + lane.where.slice(-35) : lane.where;
  label.title = lane.where;
  const track = document.createElement("div");
  track.className = "track";
  row.append(label, track);
  timeline.appendChild(row);
  tracks.push(track);
});
for (const bar of bars) {
  const el = document.createElement("div");
  el.className = "bar" + (bar.error ? " error" : "");
  el.style.left = (100 * bar.startMs / totalMs) + "%";
  el.style.width = Math.max(0.15, 100 * bar.durationMs / totalMs) + "%";
  el.style.background = lanes[bar.lane].color;
  el.title = bar.detail;
  tracks[bar.lane].appendChild(el);
}
const axis = document.getElementById("axis");
for (let i = 0; i <= 10; i++) {
  const tick = document.createElement("span");
  tick.style.left = (i * 10) + "%";
  tick.textContent = (totalMs * i / 10).toFixed(totalMs < 100 ? 1 : 0) + " ms";
  axis.appendChild(tick);
}
document.body.dataset.rendered = String(bars.length);
</script>
</body>
</html>
`;
}

/** Everything printed into the page goes through here (a trace file is only data). */
function escape(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
