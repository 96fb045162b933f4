import { printable } from "../printable.js";
import type { ActorReport } from "./list-actors.js";

/** An actor with the children it supervises, wherever they run. */
export interface ActorTreeNode extends ActorReport {
  readonly children: ActorTreeNode[];
}

/**
 * Arranges reports from every node into supervision trees: a remote child
 * (`/remote/<parent node><parent path>/<name>` on its own node) hangs under its parent.
 */
export function actorTree(reports: readonly ActorReport[]): ActorTreeNode[] {
  const byKey = new Map<string, ActorTreeNode>();
  for (const report of reports) byKey.set(`${report.node}${report.path}`, { ...report, children: [] });
  const roots: ActorTreeNode[] = [];
  for (const node of [...byKey.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const parent = byKey.get(parentKey(node));
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}

function parentKey(actor: ActorReport): string {
  const remote = /^\/remote\/([^/]+)(\/.*)\/[^/]+$/.exec(actor.path);
  if (remote) return `${remote[1]}${remote[2]}`;
  return `${actor.node}${actor.path.slice(0, actor.path.lastIndexOf("/"))}`;
}

/** Text for people: one actor per line, indented under its parent. */
export function formatActorTree(roots: readonly ActorTreeNode[]): string {
  const rows: string[][] = [["PATH", "KIND", "NODE", "RESTARTS", "MAILBOX"]];
  const walk = (nodes: readonly ActorTreeNode[], depth: number): void => {
    for (const n of nodes) {
      // Paths, kinds and node ids come from the nodes' answers: anyone on the bus can send one.
      rows.push([`${"  ".repeat(depth)}${printable(n.path)}`, printable(n.kind ?? "-"), printable(n.node), String(n.restarts), String(n.mailboxSize)]);
      walk(n.children, depth + 1);
    }
  };
  walk(roots, 0);
  // A loop, not Math.max(...column): a spread of 100,000 rows overflows the stack.
  const widths = rows[0]!.map(() => 0);
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column]!, cell.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}
