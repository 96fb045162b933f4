import { readFileSync } from "node:fs";
import type { SpanRecord } from "./file-span-exporter.js";

/** A span of a trace file with its children, in start order. */
export interface SpanNode {
  readonly span: SpanRecord;
  readonly children: SpanNode[];
}

export interface LoadedTrace {
  readonly traceId: string;
  readonly spans: readonly SpanRecord[];
  /** Spans whose parent is not in the file (the root, and anything whose parent was not recorded). */
  readonly roots: readonly SpanNode[];
  readonly startMs: number;
  readonly endMs: number;
}

/** Reads a trace file (one JSON span per line); lines that are not spans are reported, not fatal. */
export function readSpans(path: string, onBadLine?: (line: number, error: string) => void): SpanRecord[] {
  const spans: SpanRecord[] = [];
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((text, index) => {
      if (text.trim() === "") return;
      try {
        const span = JSON.parse(text) as SpanRecord;
        if (typeof span.traceId !== "string" || typeof span.spanId !== "string") throw new Error("no traceId/spanId");
        spans.push(span);
      } catch (error) {
        onBadLine?.(index + 1, (error as Error).message);
      }
    });
  return spans;
}

/** Trace ids in the file with their span counts, largest first. */
export function traceIds(spans: readonly SpanRecord[]): { traceId: string; spans: number }[] {
  const counts = new Map<string, number>();
  for (const s of spans) counts.set(s.traceId, (counts.get(s.traceId) ?? 0) + 1);
  return [...counts].map(([traceId, n]) => ({ traceId, spans: n })).sort((a, b) => b.spans - a.spans);
}

/** One trace as a tree; `traceId` defaults to the trace with the most spans (a run's). */
export function loadTrace(spans: readonly SpanRecord[], traceId?: string): LoadedTrace {
  const id = traceId ?? traceIds(spans)[0]?.traceId;
  const mine = spans.filter((s) => s.traceId === id).sort((a, b) => a.startMs - b.startMs);
  if (id === undefined || mine.length === 0) throw new Error(traceId ? `no spans of trace ${traceId} in the file` : "the file holds no spans");
  const nodes = new Map(mine.map((span) => [span.spanId, { span, children: [] as SpanNode[] }]));
  const roots: SpanNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.span.parentSpanId === undefined ? undefined : nodes.get(node.span.parentSpanId);
    (parent ? parent.children : roots).push(node);
  }
  return { traceId: id, spans: mine, roots, startMs: mine[0]!.startMs, endMs: Math.max(...mine.map((s) => s.startMs + s.durationMs)) };
}

/** Where a span ran and which actor it concerns, for display. */
export function nodeOf(span: SpanRecord): string {
  const node = span.attributes["troupe.node.id"] ?? span.resource["troupe.node.id"];
  return typeof node === "string" ? node : "?";
}

export function actorOf(span: SpanRecord): string | undefined {
  const path = span.attributes["troupe.actor.path"];
  return typeof path === "string" ? path : undefined;
}

/**
 * What a person reading a trace wants to see for a span: span names are kept low-cardinality for
 * tracing backends (`send troupe.s1.node.{node}`, `checkpoint`), so the view puts back what varies:
 * the message type of a send or processing, the reducer's key, the GCS object.
 */
export function labelOf(span: SpanRecord): string {
  const a = span.attributes;
  const operation = a["messaging.operation.name"];
  const type = a["troupe.message.type"];
  if (typeof operation === "string" && typeof type === "string") return `${operation} ${type}`;
  const detail = a["troupe.reducer.key"] ?? a["gcs.object"];
  return typeof detail === "string" ? `${span.name} ${detail}` : span.name;
}
