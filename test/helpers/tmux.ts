import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A tmux server of a test's own (its own socket, `-L`), with one window running a command. */
export interface TmuxSession {
  /** What the pane shows now, one string per line (trailing blanks trimmed). */
  screen(): Promise<string>;
  /** A tmux format of the pane, e.g. `#{alternate_on}` or `#{pane_dead}`. */
  format(format: string): Promise<string>;
  sendKeys(...keys: string[]): Promise<void>;
  kill(): Promise<void>;
}

/** tmux's binary: TMUX_BIN, else PATH; undefined when there is none. */
export function findTmux(): string | undefined {
  if (process.env.TMUX_BIN) return process.env.TMUX_BIN;
  return (process.env.PATH ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, "tmux")).find((p) => existsSync(p));
}

/**
 * Starts `command` (run by sh) in a detached `columns` x `rows` pane of a fresh tmux server. The pane
 * stays after the command ends (`remain-on-exit`), so a test can read what it left. Without tmux the
 * test is skipped, except under CI=true, where that is a failure (scripts/setup.mjs installs it).
 */
export async function startTmux(context: Mocha.Context, command: string, size = { columns: 160, rows: 48 }): Promise<TmuxSession> {
  const tmux = findTmux();
  if (tmux === undefined) {
    const message = "tmux not found: run `node scripts/setup.mjs --test` or put it on PATH";
    if (process.env.CI === "true") throw new Error(message);
    console.warn(`skipping: ${message}`);
    context.skip();
  }
  const socket = `troupe-test-${process.pid}-${randomBytes(4).toString("hex")}`;
  const call = async (...args: string[]): Promise<string> => (await run(tmux, ["-L", socket, "-f", "/dev/null", ...args], { env: { ...process.env, TMUX: "" } })).stdout;
  // One call: the option is set before the window's command can end, and the pane stays after it.
  await call("start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";", "new-session", "-d", "-s", "t", "-x", String(size.columns), "-y", String(size.rows), "sh", "-c", command);
  return {
    screen: async () => (await call("capture-pane", "-p", "-t", "t")).split("\n").map((line) => line.trimEnd()).join("\n").trimEnd(),
    format: async (format) => (await call("display-message", "-p", "-t", "t", format)).trim(),
    sendKeys: async (...keys) => void (await call("send-keys", "-t", "t", ...keys)),
    kill: async () => void (await call("kill-server").catch(() => undefined)),
  };
}
