import { liveView, type LiveView } from "../live/live-view.js";
import { SystemSampler, type Sample } from "../live/system-sampler.js";
import { TerminalScreen } from "../live/terminal-screen.js";
import { topScreen } from "../live/top-screen.js";
import { printable } from "../printable.js";
import { DEFAULT_SUBJECT_PREFIX, Subjects } from "../subjects.js";
import { systemInboxPrefix } from "./inbox-prefix.js";
import { connectObserver, waitOption } from "./observer-connection.js";
import { parseOptions } from "./parse-options.js";
import { untilSignal } from "./signals.js";
import { VERBS } from "./usage.js";

const REFRESH_MS = 1_000;

/**
 * `troupe top`: a live view of a running system, refreshed every second, using only what the monitor
 * role may do (heartbeats, actor-list requests, its own inbox). On a terminal it takes the screen until
 * `q` or Ctrl-C; otherwise it prints a plain snapshot every second. `--once` prints one snapshot and
 * `--json` one JSON object, both with rates over one second.
 */
export async function topCommand(args: string[]): Promise<number> {
  const parsed = parseOptions(VERBS.top, args);
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const waitMs = waitOption(values.wait);
  const transport = await connectObserver("top", values.nats, values.system);
  if (transport === undefined) return 1;
  const problems: string[] = [];
  const sampler = new SystemSampler(transport, new Subjects(DEFAULT_SUBJECT_PREFIX, values.system), {
    waitMs,
    inboxPrefix: systemInboxPrefix(values.system),
    onInvalid: (detail) => void problems.push(detail),
  });
  const servers = values.nats ?? process.env.NATS_URL ?? "";
  const header = (view: LiveView): string => `troupe top: system ${printable(values.system)} on ${servers}, ${new Date(view.atMs).toISOString().slice(11, 19)} UTC`;
  const signal = untilSignal();
  let quit!: () => void;
  const quitting = new Promise<"quit">((resolve) => (quit = () => resolve("quit")));
  void signal.promise.then(quit);
  const lost = transport.closed().then((error) => error ?? new Error(`the connection to ${transport.description} closed`));
  try {
    let previous: Sample | undefined;
    const next = async (): Promise<LiveView> => {
      const current = await sampler.sample();
      const view = liveView(previous, current);
      previous = current;
      return view;
    };
    if (values.once || values.json) {
      const started = Date.now();
      await next();
      await Promise.race([delay(REFRESH_MS - (Date.now() - started)), quitting]);
      const view = await next();
      if (values.json) console.log(JSON.stringify({ system: values.system, ...view }));
      else console.log(topScreen(view, header(view), { columns: Infinity, rows: Infinity }).join("\n"));
      for (const problem of problems) console.error(`troupe top: ${printable(problem)}`);
      return 0;
    }
    const screen = process.stdout.isTTY ? new TerminalScreen(process.stdout, process.stdin, quit) : undefined;
    let last: LiveView | undefined;
    // On the screen, stderr would land in the middle of the view: the latest problem goes in the header.
    let latestProblem = "";
    const redraw = (): void => void (last && screen?.draw(topScreen(last, `${header(last)}   (q quits)${latestProblem}`, screen.size)));
    process.stdout.on("resize", redraw);
    try {
      for (;;) {
        const started = Date.now();
        const outcome = await Promise.race([next(), quitting, lost]);
        if (outcome === "quit") return 0;
        if (outcome instanceof Error) throw outcome;
        last = outcome;
        if (screen) {
          if (problems.length > 0) latestProblem = `   ${printable(problems.splice(0).at(-1)!)}`;
          redraw();
        } else {
          console.log(`${topScreen(outcome, header(outcome), { columns: Infinity, rows: Infinity }).join("\n")}\n`);
          for (const problem of problems.splice(0)) console.error(`troupe top: ${printable(problem)}`);
        }
        if ((await Promise.race([delay(REFRESH_MS - (Date.now() - started)), quitting])) === "quit") return 0;
      }
    } finally {
      screen?.restore();
      process.stdout.off("resize", redraw);
    }
  } finally {
    signal.dispose();
    await transport.close();
  }
}

function delay(ms: number): Promise<void> {
  // Unreferenced: a pending refresh never holds the process open once everything else has closed.
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}
