import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, request, type IncomingHttpHeaders } from "node:http";
import { createServer as createNetServer } from "node:net";
import { findTool, requireTool } from "../../runtime/nats/tool-paths.js";

export interface FakeGcs {
  /** The API root, e.g. `http://127.0.0.1:41234` (the JSON API is under `/storage/v1`). */
  readonly endpoint: string;
  readonly port: number;
  /** A bucket created at start (and again after `restart`). */
  readonly bucket: string;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and resolves once it has exited. */
  stop(): Promise<void>;
  /** Starts the server again on the same port; the memory backend starts empty, the bucket is re-created. */
  start(): Promise<void>;
  /** `stop()`, then `start()`. */
  restart(): Promise<void>;
}

const SETPRIV = process.platform === "linux" ? ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p)) : undefined;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts a real `fake-gcs-server` (in-memory backend) on a free loopback port, waits until its JSON API
 * answers and creates a bucket. With util-linux's `setpriv` the kernel kills the server if this process
 * dies. A missing binary throws (`requireTool`), so under CI=true a missing server is a failure.
 */
export async function startFakeGcs(options: { bucket?: string; startTimeoutMs?: number } = {}): Promise<FakeGcs> {
  const binary = requireTool("fake-gcs-server");
  const bucket = options.bucket ?? "troupe-test";
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let port = 0;
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (child) throw new Error("fake-gcs-server is already running");
    // A port that was free a moment ago may be taken before the server binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const candidate = port || (await freePort());
      try {
        child = await launch(binary, candidate, startTimeoutMs);
        port = candidate;
        break;
      } catch (error) {
        if (port !== 0 || attempt >= 3) throw error;
      }
    }
    await createBucket(`http://127.0.0.1:${port}`, bucket);
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
    bucket,
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
  };
}

/**
 * `startFakeGcs` for one test file. Without the binary the file's tests are skipped, except under
 * CI=true, where a missing server is a failure.
 */
export async function fakeGcsFor(context: Mocha.Context): Promise<FakeGcs> {
  if (!findTool("fake-gcs-server") && process.env.CI !== "true") {
    console.warn("skipping: fake-gcs-server not found: run `npm run setup` or put it on PATH");
    context.skip();
  }
  return startFakeGcs();
}

async function launch(binary: string, port: number, startTimeoutMs: number): Promise<ChildProcess> {
  const args = ["-scheme", "http", "-host", "127.0.0.1", "-port", String(port), "-backend", "memory", "-log-level", "warn"];
  const child = SETPRIV
    ? spawn(SETPRIV, ["--pdeathsig", "KILL", "--", binary, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    : spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  installExitHook();
  running.add(child);
  let log = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    log = (log + chunk).slice(-8_192);
  });
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
  const response = await fetch(`${endpoint}/storage/v1/b?project=test`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: bucket }),
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`cannot create bucket ${bucket} on fake-gcs-server: HTTP ${response.status} ${body}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
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

/** What a `FlakyProxy` does with one request. */
export type ProxyAction =
  | "forward"
  /** Never answers: the client's request times out. */
  | "hang"
  /** Answers with this status without forwarding: the request never reaches the server. */
  | { readonly reject: number }
  /** Forwards, lets the server act, then answers with this status instead: a lost response. */
  | { readonly loseResponse: number };

export interface ProxiedRequest {
  readonly method: string;
  readonly url: string;
  readonly status: number;
}

export interface FlakyProxy {
  readonly endpoint: string;
  /** Every request seen, in order, with the status the client got (0: none, it hung). */
  readonly requests: readonly ProxiedRequest[];
  /** Decides each request; by default everything is forwarded. */
  plan: (request: { method: string; url: string; index: number }) => ProxyAction;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of `target` that fails requests on demand, in GCS's error format, so the GCS
 * client's real HTTP path meets 429s, 503s and lost responses.
 */
export async function startFlakyProxy(target: string): Promise<FlakyProxy> {
  const targetUrl = new URL(target);
  const requests: ProxiedRequest[] = [];
  let plan: FlakyProxy["plan"] = () => "forward";
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const method = req.method ?? "GET";
      const url = req.url ?? "/";
      const action = plan({ method, url, index: requests.length });
      const fail = (status: number): void => {
        requests.push({ method, url, status });
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: status, message: `injected by the test proxy (HTTP ${status})` } }));
      };
      if (action === "hang") return void requests.push({ method, url, status: 0 });
      if (action !== "forward" && "reject" in action) return fail(action.reject);
      const headers: IncomingHttpHeaders = { ...req.headers, host: targetUrl.host };
      const upstream = request({ host: targetUrl.hostname, port: targetUrl.port, method, path: url, headers }, (answer) => {
        if (action !== "forward") {
          answer.resume();
          answer.on("end", () => fail(action.loseResponse));
          return;
        }
        requests.push({ method, url, status: answer.statusCode ?? 0 });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on("error", (error) => {
        requests.push({ method, url, status: 502 });
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`proxy: ${error.message}`);
      });
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    get plan() {
      return plan;
    },
    set plan(next) {
      plan = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
