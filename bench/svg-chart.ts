// A small hand-written SVG line chart (log-scaled x and y axes), for the suite's plot: no plotting
// dependency, and the output is a self-contained file that renders on GitHub and in any browser.

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [x: number, y: number])[];
}

export interface Panel {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** How a tick on the x axis reads, e.g. 1024 -> "1 KiB". */
  readonly xTick: (x: number) => string;
  readonly series: readonly Series[];
}

const PANEL_WIDTH = 460;
const PANEL_HEIGHT = 340;
const MARGIN = { left: 70, right: 30, top: 40, bottom: 56 };

/** Panels side by side in one SVG document, sharing a legend below them. */
export function svgChart(title: string, subtitle: string, panels: readonly Panel[]): string {
  const width = PANEL_WIDTH * panels.length;
  const legend = panels[0]?.series ?? [];
  const height = PANEL_HEIGHT + 60;
  const body = panels.map((panel, i) => `<g transform="translate(${i * PANEL_WIDTH},40)">${panelSvg(panel)}</g>`).join("\n");
  const legendSvg = legend
    .map((s, i) => {
      const x = 80 + i * 220;
      const y = height - 14;
      return `<line x1="${x}" y1="${y - 4}" x2="${x + 24}" y2="${y - 4}" stroke="${s.color}" stroke-width="2.5"/><text x="${x + 30}" y="${y}">${escape(s.label)}</text>`;
    })
    .join("");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="${width / 2}" y="36" text-anchor="middle" fill="#555">${escape(subtitle)}</text>`,
    body,
    legendSvg,
    `</svg>`,
    "",
  ].join("\n");
}

function panelSvg(panel: Panel): string {
  const xs = panel.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = panel.series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => y > 0);
  if (xs.length === 0 || ys.length === 0) return `<text x="20" y="40">${escape(panel.title)}: no data</text>`;
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [10 ** Math.floor(Math.log10(Math.min(...ys))), 10 ** Math.ceil(Math.log10(Math.max(...ys)))];
  const plotW = PANEL_WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => MARGIN.left + (x1 === x0 ? plotW / 2 : ((Math.log(x) - Math.log(x0)) / (Math.log(x1) - Math.log(x0))) * plotW);
  const sy = (y: number): number => MARGIN.top + plotH - ((Math.log(y) - Math.log(y0)) / (Math.log(y1) - Math.log(y0))) * plotH;
  const out: string[] = [];
  out.push(`<text x="${PANEL_WIDTH / 2}" y="${MARGIN.top - 14}" text-anchor="middle" font-weight="bold">${escape(panel.title)}</text>`);
  // Grid and y ticks: every power of ten, with 2x and 5x lines in between.
  for (let decade = y0; decade < y1 * 1.0001; decade *= 10) {
    for (const m of [1, 2, 5]) {
      const y = decade * m;
      if (y > y1 * 1.0001) break;
      out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${f(sy(y))}" y2="${f(sy(y))}" stroke="${m === 1 ? "#ccc" : "#eee"}"/>`);
      if (m === 1) out.push(`<text x="${MARGIN.left - 6}" y="${f(sy(y) + 4)}" text-anchor="end">${compact(y)}</text>`);
    }
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(`<line x1="${f(sx(x))}" x2="${f(sx(x))}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    out.push(`<text x="${f(sx(x))}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${escape(panel.xTick(x))}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${PANEL_HEIGHT - 18}" text-anchor="middle">${escape(panel.xLabel)}</text>`);
  out.push(`<text transform="translate(16,${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(panel.yLabel)}</text>`);
  for (const s of panel.series) {
    const pts = s.points.filter((p) => p[1] > 0);
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2.5" points="${pts.map((p) => `${f(sx(p[0]))},${f(sy(p[1]))}`).join(" ")}"/>`);
    for (const p of pts) out.push(`<circle cx="${f(sx(p[0]))}" cy="${f(sy(p[1]))}" r="3.5" fill="${s.color}"><title>${escape(`${s.label}: ${panel.xTick(p[0])}, ${Math.round(p[1]).toLocaleString("en-US")}`)}</title></circle>`);
  }
  return out.join("\n");
}

/** 1500 -> "1.5k", 2000000 -> "2M". */
function compact(value: number): string {
  if (value >= 1e6) return `${+(value / 1e6).toPrecision(3)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toPrecision(3)}k`;
  return `${+value.toPrecision(3)}`;
}

function f(value: number): string {
  return value.toFixed(1);
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
