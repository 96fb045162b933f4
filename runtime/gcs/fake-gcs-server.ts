import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { requireTool } from "../nats/tool-paths.js";

export interface FakeGcsServerOptions {
  /** The binary; default: the one setup found (`requireTool`, which fails clearly when it is missing). */
  readonly binary?: string;
  /** Created at start (and after each restart) when it does not exist. */
  readonly bucket: string;
  /**
   * Keep objects in this directory (the filesystem backend): objects, generations and preconditions
   * then survive a restart. Default: the memory backend, which starts empty every time.
   */
  readonly directory?: string;
  /** Default 10 s. */
  readonly startTimeoutMs?: number;
}

/** A running fake-gcs-server (the usual GCS emulator), for the embedded defaults and for tests. */
export interface FakeGcsServer {
  /** The API root, e.g. `http://127.0.0.1:41234` (the JSON API is under `/storage/v1`). */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly directory: string | undefined;
  readonly running: boolean;
  /** SIGTERM (SIGKILL after 5 s); resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port (and directory); resolves once its JSON API answers. */
  start(): Promise<void>;
  restart(): Promise<void>;
}

const SETPRIV = process.platform === "linux" ? ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p)) : undefined;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts fake-gcs-server on a free loopback port and creates the bucket. With util-linux's `setpriv`
 * the kernel kills the server if this process dies, however it dies; otherwise an exit hook does.
 */
export async function startFakeGcsServer(options: FakeGcsServerOptions): Promise<FakeGcsServer> {
  const binary = options.binary ?? requireTool("fake-gcs-server");
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let port = 0;
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (child) throw new Error("fake-gcs-server is already running");
    // A port that was free a moment ago may be taken before the server binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const candidate = port || (await freePort());
      try {
        child = await launch(binary, candidate, options.directory, startTimeoutMs);
        port = candidate;
        break;
      } catch (error) {
        if (port !== 0 || attempt >= 3) throw error;
      }
    }
    await createBucket(`http://127.0.0.1:${port}`, options.bucket);
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
  return {
    get endpoint() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    bucket: options.bucket,
    directory: options.directory,
    get running() {
      return child !== undefined;
    },
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
  };
}

async function launch(binary: string, port: number, directory: string | undefined, startTimeoutMs: number): Promise<ChildProcess> {
  const backend = directory === undefined ? ["-backend", "memory"] : ["-backend", "filesystem", "-filesystem-root", directory];
  const args = ["-scheme", "http", "-host", "127.0.0.1", "-port", String(port), ...backend, "-log-level", "warn"];
  const child = SETPRIV ? spawn(SETPRIV, ["--pdeathsig", "KILL", "--", binary, ...args], { stdio: ["ignore", "ignore", "pipe"] }) : spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  installExitHook();
  running.add(child);
  let log = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (log = (log + chunk).slice(-8_192)));
  let exitCode: number | null | undefined;
  child.once("exit", (code) => {
    exitCode = code;
    running.delete(child);
  });
  let spawnError: Error | undefined;
  child.once("error", (error) => (spawnError = error));

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`cannot run ${binary}: ${spawnError.message}`);
    if (exitCode !== undefined) throw new Error(`fake-gcs-server exited with code ${exitCode} before answering on port ${port}\n${log.trim()}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/storage/v1/b`);
      await response.arrayBuffer();
      if (response.ok) return child;
    } catch {
      // Not listening yet; the deadline decides.
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`fake-gcs-server did not answer on port ${port} within ${startTimeoutMs} ms\n${log.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function createBucket(endpoint: string, bucket: string): Promise<void> {
  const response = await fetch(`${endpoint}/storage/v1/b?project=troupe`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: bucket }),
  });
  const body = await response.text();
  // 409: it exists already (a filesystem backend kept it across a restart).
  if (!response.ok && response.status !== 409) throw new Error(`cannot create bucket ${bucket} on fake-gcs-server: HTTP ${response.status} ${body}`);
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

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}
