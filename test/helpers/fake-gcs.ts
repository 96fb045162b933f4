import { createServer, request, type IncomingHttpHeaders } from "node:http";
import { findTool } from "../../runtime/nats/tool-paths.js";
import { startFakeGcsServer } from "../../runtime/gcs/fake-gcs-server.js";

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

/**
 * Starts a real `fake-gcs-server` (in-memory backend) on a free loopback port, waits until its JSON API
 * answers and creates a bucket (runtime/gcs/fake-gcs-server.ts). A missing binary throws
 * (`requireTool`), so under CI=true a missing server is a failure.
 */
export function startFakeGcs(options: { bucket?: string; startTimeoutMs?: number } = {}): Promise<FakeGcs> {
  return startFakeGcsServer({ bucket: options.bucket ?? "troupe-test", startTimeoutMs: options.startTimeoutMs });
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
