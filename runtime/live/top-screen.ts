import { printable } from "../printable.js";
import type { ActorRow, LiveView, NodeRow } from "./live-view.js";

export interface ScreenSize {
  readonly columns: number;
  readonly rows: number;
}

/**
 * `troupe top`'s screen as lines of text, cut to `size`: a summary, the nodes, then the busiest actors
 * by rate and by mailbox, sharing what rows are left. Everything that came over the bus (node ids,
 * kinds, paths) goes through `printable`, so it can neither move the cursor nor recolour the screen.
 */
export function topScreen(view: LiveView, header: string, size: ScreenSize): string[] {
  const t = view.totals;
  const summary =
    `nodes ${t.nodes}${t.nodesInSystem > t.nodes ? ` of ${t.nodesInSystem}` : ""}  actors ${t.actors}  messages/s ${rate(t.processedPerSecond)}  ` +
    `dead letters/s ${rate(t.deadLettersPerSecond)} (${t.deadLetters} in all)  restarts ${t.restarts} (${rate(t.restartsPerSecond)}/s)`;
  const lines = [header, summary];
  for (const m of view.missing) lines.push(`node ${printable(m.node)}: ${m.total - m.listed} of ${m.total} actors not listed (its answer did not arrive whole)`);
  lines.push("", ...table(["NODE", "ACTORS", "MSG/S", "DEAD/S", "DEAD", "RESTARTS", "UP", "LAST SEEN"], view.nodes.map(nodeCells)));
  // What is left, less two headings, two blank lines and the tables' own header rows.
  const left = Math.max(2, size.rows - lines.length - 6);
  const byRate = view.actors.filter((a) => (a.perSecond ?? 0) > 0).slice(0, Math.ceil(left / 2));
  const byMailbox = [...view.actors].filter((a) => a.mailbox > 0).sort((a, b) => b.mailbox - a.mailbox).slice(0, Math.floor(left / 2));
  lines.push("", "BUSIEST BY RATE", ...(byRate.length ? table(ACTOR_HEAD, byRate.map(actorCells)) : ["  (no actor processed anything since the last sample)"]));
  lines.push("", "BUSIEST BY MAILBOX", ...(byMailbox.length ? table(ACTOR_HEAD, byMailbox.map(actorCells)) : ["  (every mailbox is empty)"]));
  return lines.slice(0, size.rows).map((line) => (line.length > size.columns ? `${line.slice(0, Math.max(0, size.columns - 1))}…` : line));
}

const ACTOR_HEAD = ["PATH", "KIND", "NODE", "MSG/S", "MAILBOX", "RESTARTS", "PROCESSED"];

function nodeCells(n: NodeRow): string[] {
  const answered = n.answered ? "" : " (no answer)";
  return [printable(n.node), String(n.actors), rate(n.processedPerSecond), rate(n.deadLettersPerSecond), String(n.deadLetters), String(n.restarts), duration(n.upMs), `${duration(n.lastSeenAgoMs)} ago${answered}`];
}

function actorCells(a: ActorRow): string[] {
  return [printable(a.path), printable(a.kind ?? "-"), printable(a.node), rate(a.perSecond), String(a.mailbox), String(a.restarts), String(a.processed)];
}

function table(head: readonly string[], rows: readonly string[][]): string[] {
  const all = [head, ...rows];
  const widths = head.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  return all.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd());
}

/** A rate for people: "-" until there are two samples. */
export function rate(perSecond: number | undefined): string {
  if (perSecond === undefined) return "-";
  if (perSecond === 0) return "0";
  if (perSecond < 10) return perSecond.toFixed(1);
  return Math.round(perSecond).toLocaleString("en-US");
}

function duration(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
