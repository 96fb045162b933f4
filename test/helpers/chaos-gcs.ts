import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "../../runtime/nats/tool-paths.js";

/**
 * A fake-gcs-server whose objects survive a stop and start: the chaos suite stops it for seconds
 * mid-job. `startFakeGcs` (fake-gcs.ts) uses the memory backend, which starts empty after a restart,
 * so a restart there would lose every checkpoint, not only cut access. This one uses the filesystem
 * backend in a temporary directory; objects, their generations and `ifGenerationMatch` preconditions
 * hold across restarts (checked with GcsStore against fake-gcs-server v1.55.1).
 */
export interface PersistentFakeGcs {
  readonly endpoint: string;
  readonly bucket: string;
  readonly running: boolean;
  /** SIGTERM (SIGKILL after 5 s); resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory; resolves once its JSON API answers. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

const SETPRIV = process.platform === "linux" ? ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p)) : undefined;

/** A missing binary throws (`requireTool`), so under CI=true a missing server is a failure. */
export async function startPersistentFakeGcs(options: { bucket?: string; startTimeoutMs?: number } = {}): Promise<PersistentFakeGcs> {
  const binary = requireTool("fake-gcs-server");
  const bucket = options.bucket ?? "troupe-chaos";
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const root = await mkdtemp(join(tmpdir(), "troupe-chaos-gcs-"));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const killOnExit = (): void => void child?.kill("SIGKILL");
  process.once("exit", killOnExit);

  const start = async (): Promise<void> => {
    if (child) throw new Error("fake-gcs-server is already running");
    const args = ["-scheme", "http", "-host", "127.0.0.1", "-port", String(port), "-backend", "filesystem", "-filesystem-root", root, "-log-level", "warn"];
    const started = SETPRIV ? spawn(SETPRIV, ["--pdeathsig", "KILL", "--", binary, ...args], { stdio: "ignore" }) : spawn(binary, args, { stdio: "ignore" });
    child = started;
    let exited = false;
    started.once("exit", () => (exited = true));
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (exited) throw new Error(`fake-gcs-server exited before answering on port ${port}`);
      try {
        const response = await fetch(`${endpoint}/storage/v1/b`);
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // Not listening yet; the deadline decides.
      }
      if (Date.now() > deadline) throw new Error(`fake-gcs-server did not answer on port ${port} within ${startTimeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stop = async (): Promise<void> => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once("exit", resolve));
    current.kill("SIGTERM");
    const killer = setTimeout(() => current.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
  };

  await start();
  const created = await fetch(`${endpoint}/storage/v1/b?project=test`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: bucket }) });
  if (!created.ok) throw new Error(`cannot create bucket ${bucket} on fake-gcs-server: HTTP ${created.status} ${await created.text()}`);
  return {
    endpoint,
    bucket,
    get running() {
      return child !== undefined;
    },
    stop,
    start,
    close: async () => {
      await stop();
      process.off("exit", killOnExit);
      await rm(root, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject).listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
