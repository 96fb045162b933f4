import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";

/** A `troupe` command run as a child process, with everything it printed. */
export interface TroupeProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** Resolves once stdout has a `{"event":"ready"}` line; rejects if the process ends first or after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  stop(graceMs?: number): Promise<number | string>;
}

/** What `runTroupe` started and has not seen exit: `stopTroupeProcesses` ends them after a case. */
const running = new Set<TroupeProcess>();

/**
 * Stops every process `runTroupe` started that still runs (SIGTERM, SIGKILL after `graceMs`). For an
 * `afterEach` hook: a case whose assertion failed leaves its processes running, and they would hold
 * mocha open. Not for hooks of a suite whose processes outlive one case (they would be stopped too).
 */
export async function stopTroupeProcesses(graceMs = 5_000): Promise<void> {
  await Promise.all([...running].map((started) => started.stop(graceMs)));
}

/**
 * Runs `bin/troupe.mjs <args>` with exactly `env` added to a minimal environment (PATH, HOME and the
 * tool overrides), so a test controls which credentials the process sees.
 */
export function runTroupe(args: readonly string[], env: Record<string, string> = {}): TroupeProcess {
  const base: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "NATS_SERVER_BIN", "FAKE_GCS_SERVER_BIN", "CI", "TROUPE_CLI_FROM_SOURCE"]) {
    const value = process.env[key];
    if (value !== undefined) base[key] = value;
  }
  const child = spawn(process.execPath, [join(PROJECT_ROOT, "bin", "troupe.mjs"), ...args], { cwd: PROJECT_ROOT, env: { ...base, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code ?? -1)));

  const ready = (timeoutMs = 30_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => out.split("\n").some((line) => line.startsWith("{") && line.includes('"event":"ready"'));
      if (check()) return resolve();
      const timer = setTimeout(() => done(new Error(`troupe ${args.join(" ")} was not ready within ${timeoutMs} ms\n${err}`)), timeoutMs);
      const onData = (): void => void (check() && done());
      const done = (error?: Error): void => {
        clearTimeout(timer);
        child.stdout.off("data", onData);
        if (error) reject(error);
        else resolve();
      };
      child.stdout.on("data", onData);
      void exited.then((how) => done(new Error(`troupe ${args.join(" ")} exited (${how}) before it was ready\n${err}`)));
    });

  const stop = async (graceMs = 10_000): Promise<number | string> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      void exited.then(() => clearTimeout(killer));
    }
    return exited;
  };

  const started: TroupeProcess = { child, stdout: () => out, stderr: () => err, exited, ready, stop };
  running.add(started);
  void exited.then(() => running.delete(started));
  return started;
}
