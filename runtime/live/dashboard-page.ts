/**
 * The dashboard's page: HTML, a stylesheet and a script, all served by `troupe dashboard` itself (no CDN,
 * nothing from elsewhere; the Content-Security-Policy says so too). Everything from the bus (node ids,
 * kinds, paths) reaches the page as JSON and is put in with `textContent`, never parsed as HTML.
 */
export function dashboardHtml(system: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Troupe: ${escapeHtml(system)}</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>Troupe system <span id="system">${escapeHtml(system)}</span></h1>
  <div id="status">connecting…</div>
</header>
<section id="summary"></section>
<canvas id="history" width="960" height="90" title="messages/s (blue) and dead letters/s (red) over the last two minutes"></canvas>
<h2>Nodes</h2>
<table id="nodes"><thead><tr><th>node</th><th>kinds</th><th>actors</th><th>messages/s</th><th>dead letters/s</th><th>dead letters</th><th>restarts</th><th>up</th><th>last heard</th></tr></thead><tbody></tbody></table>
<h2>Actors</h2>
<table id="actors"><thead><tr><th>path</th><th>kind</th><th>node</th><th>messages/s</th><th>mailbox</th><th>restarts</th><th>processed</th></tr></thead><tbody></tbody></table>
<p id="missing"></p>
</body>
</html>
`;
}

export const DASHBOARD_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em 2em; color: #1d2733; background: #fafbfc; }
header { display: flex; align-items: baseline; gap: 2em; }
h1 { font-size: 1.4em; margin: 0 0 .4em; }
h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
#status { color: #5b7083; }
#status.down { color: #d62828; }
#summary { display: flex; gap: 1em; flex-wrap: wrap; }
#history { display: block; margin-top: 1em; background: #fff; border: 1px solid #dde3ea; border-radius: 6px; }
.figure { background: #fff; border: 1px solid #dde3ea; border-radius: 6px; padding: .5em 1em; min-width: 8em; }
.figure b { display: block; font-size: 1.5em; font-variant-numeric: tabular-nums; }
.figure.alert b { color: #d62828; }
table { border-collapse: collapse; background: #fff; border: 1px solid #dde3ea; min-width: 60%; }
th, td { text-align: left; padding: .25em .8em; border-bottom: 1px solid #eef1f4; white-space: nowrap; }
th { background: #f1f4f7; font-weight: 600; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.busy td.rate { color: #2f6db5; font-weight: 600; }
tr.new td { background: #fff7d6; }
#missing { color: #b5852f; }
`;

export const DASHBOARD_JS = `
"use strict";
const $ = (id) => document.getElementById(id);
const seen = new Set();
let updates = 0;

function rate(v) {
  if (v === null || v === undefined) return "-";
  if (v === 0) return "0";
  return v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString("en-US");
}
function duration(ms) {
  const s = ms / 1000;
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
}
function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}
function figure(label, value, alert) {
  const div = document.createElement("div");
  div.className = "figure" + (alert ? " alert" : "");
  const b = document.createElement("b");
  b.textContent = value;
  div.append(b, document.createTextNode(label));
  return div;
}
/** Messages/s (blue) and dead letters/s (red, each on its own scale) over the last two minutes. */
function drawHistory(history, nowMs) {
  const canvas = $("history");
  const g = canvas.getContext("2d");
  const left = 8, right = canvas.width - 8, bottom = canvas.height - 16, height = bottom - 20;
  const spanMs = 120000;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = "#5b7083";
  g.font = "11px system-ui, sans-serif";
  g.fillText("2 min ago", left, canvas.height - 3);
  g.fillText("now", right - 20, canvas.height - 3);
  g.strokeStyle = "#eef1f4";
  g.beginPath();
  g.moveTo(left, bottom);
  g.lineTo(right, bottom);
  g.stroke();
  const line = (pick, color) => {
    const max = Math.max(1, ...history.map(pick));
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    history.forEach((h, i) => {
      const x = right - ((nowMs - h.atMs) / spanMs) * (right - left);
      const y = bottom - (pick(h) / max) * height;
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
    g.lineWidth = 1;
    return max;
  };
  const most = line((h) => h.messages, "#2f6db5");
  const mostDead = line((h) => h.deadLetters, "#d62828");
  g.fillStyle = "#5b7083";
  g.fillText("messages/s (blue, up to " + rate(most) + "), dead letters/s (red, up to " + rate(mostDead) + ")", left, 13);
}
function render(data) {
  const view = data.view;
  const t = view.totals;
  $("summary").replaceChildren(
    figure("nodes", t.nodesInSystem > t.nodes ? t.nodes + " of " + t.nodesInSystem : String(t.nodes)),
    figure("actors", String(t.actors)),
    figure("messages/s", rate(t.processedPerSecond)),
    figure("dead letters/s", rate(t.deadLettersPerSecond), (t.deadLettersPerSecond || 0) > 0),
    figure("dead letters in all", String(t.deadLetters)),
    figure("restarts", String(t.restarts), (t.restartsPerSecond || 0) > 0),
  );
  const nodes = view.nodes.map((n) => {
    const tr = document.createElement("tr");
    tr.dataset.node = n.node;
    cell(tr, n.node);
    cell(tr, n.kinds.join(", ") || "-");
    cell(tr, String(n.actors), "number");
    cell(tr, rate(n.processedPerSecond), "number rate");
    cell(tr, rate(n.deadLettersPerSecond), "number");
    cell(tr, String(n.deadLetters), "number");
    cell(tr, String(n.restarts), "number");
    cell(tr, duration(n.upMs));
    cell(tr, duration(n.lastSeenAgoMs) + " ago" + (n.answered ? "" : " (no actor list)"));
    return tr;
  });
  $("nodes").tBodies[0].replaceChildren(...nodes);
  drawHistory(data.history, view.atMs);
  const rows = [];
  const walk = (list, depth) => {
    for (const a of list) {
      const key = a.node + "\\u0000" + a.path;
      const tr = document.createElement("tr");
      tr.dataset.path = a.path;
      tr.dataset.node = a.node;
      if (a.perSecond > 0) tr.classList.add("busy");
      if (updates > 0 && !seen.has(key)) tr.classList.add("new");
      seen.add(key);
      cell(tr, a.path).style.paddingLeft = (0.8 + depth * 1.4) + "em";
      cell(tr, a.kind || "-");
      cell(tr, a.node);
      cell(tr, rate(a.perSecond), "number rate");
      cell(tr, String(a.mailboxSize), "number");
      cell(tr, String(a.restarts), "number");
      cell(tr, String(a.processed), "number");
      rows.push(tr);
      walk(a.children, depth + 1);
    }
  };
  walk(data.tree, 0);
  $("actors").tBodies[0].replaceChildren(...rows);
  $("missing").textContent = view.missing.map((m) => "node " + m.node + ": " + (m.total - m.listed) + " of " + m.total + " actors not listed").join("; ");
  updates++;
  document.body.dataset.updates = String(updates);
  $("status").className = "";
  $("status").textContent = "live, updated " + new Date(view.atMs).toLocaleTimeString();
}

const events = new EventSource("/events");
events.onmessage = (event) => render(JSON.parse(event.data));
events.onerror = () => {
  $("status").className = "down";
  $("status").textContent = "disconnected: retrying…";
};
`;

export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
