import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { PROJECT_ROOT } from "../nats/tool-paths.js";

const BIN = join(PROJECT_ROOT, "bin", "troupe.mjs");

export interface WorkerProcess {
  readonly nodeId: string;
  readonly child: ChildProcess;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface WorkerLaunch {
  readonly system: string;
  readonly nodeId: string;
  readonly servers: readonly string[];
  readonly modulePath?: string;
  /** Record spans to this file (appended; shared with the run's other processes). */
  readonly traceFile?: string;
  /** Receives the worker's stderr, line by line. */
  readonly log: (line: string) => void;
  readonly readyTimeoutMs?: number;
}

/**
 * Starts `troupe node` as a child process and resolves once it reports ready. Aborting `signal` before
 * then stops the child (SIGTERM, SIGKILL after 10 s); the promise rejects once it has exited.
 */
export async function startWorker(launch: WorkerLaunch, signal?: AbortSignal): Promise<WorkerProcess> {
  const args = [BIN, "node", "--system", launch.system, "--node-id", launch.nodeId, "--exit-with-stdin"];
  if (launch.modulePath) args.push("--module", launch.modulePath);
  if (launch.traceFile) args.push("--trace", launch.traceFile);
  // Servers (whose URLs may carry user:password) go through the environment, as credentials do
  // (NATS_CREDS, NATS_TOKEN, ...): a command line is visible to every user of the machine in `ps`.
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NATS_URL: launch.servers.join(",") } });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  createInterface({ input: child.stderr }).on("line", launch.log);

  const stop = async (graceMs = 10_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(killer);
  };

  const onAbort = (): void => {
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  await new Promise<void>((resolve, reject) => {
    const timeoutMs = launch.readyTimeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`worker ${launch.nodeId} did not report ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return launch.log(line);
      try {
        if ((JSON.parse(line) as { event?: string }).event === "ready") {
          clearTimeout(timer);
          resolve();
        }
      } catch {
        launch.log(line);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`worker ${launch.nodeId} exited with code ${child.exitCode ?? child.signalCode} before it was ready`));
    });
  }).finally(() => signal?.removeEventListener("abort", onAbort));
  return { nodeId: launch.nodeId, child, stop };
}
