import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DASHBOARD_CSS, DASHBOARD_JS, dashboardHtml } from "./dashboard-page.js";

/** Only what the server itself serves: no inline script or style, nothing from elsewhere, no framing. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The dashboard's HTTP server on 127.0.0.1: the page, its script and stylesheet, the latest view as
 * JSON (`/view.json`) and a Server-Sent Events stream of views (`/events`, the latest at once, then each
 * new one). A request whose Host is not this address is refused, so a web page elsewhere cannot reach
 * the dashboard through a DNS name rebound to 127.0.0.1.
 */
export class DashboardServer {
  private readonly server: Server;
  private readonly streams = new Set<ServerResponse>();
  private latest: string | undefined;
  private port = 0;

  constructor(private readonly system: string) {
    this.server = createServer((request, response) => this.handle(request, response));
  }

  /** Listens on 127.0.0.1:`port` (0: a free port) and resolves with the page's URL. */
  async listen(port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Sends a view (already JSON) to every open page and keeps it for pages that open later. */
  publish(json: string): void {
    this.latest = json;
    for (const stream of this.streams) stream.write(`data: ${json}\n\n`);
  }

  async close(): Promise<void> {
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const host = request.headers.host ?? "";
    if (host !== `127.0.0.1:${this.port}` && host !== `localhost:${this.port}`) return void response.writeHead(403).end("wrong Host\n");
    if (request.method !== "GET") return void response.writeHead(405, { allow: "GET" }).end();
    const path = (request.url ?? "/").split("?")[0];
    const headers = { "content-security-policy": CSP, "x-content-type-options": "nosniff", "cache-control": "no-store" };
    switch (path) {
      case "/":
        return void response.writeHead(200, { ...headers, "content-type": "text/html; charset=utf-8" }).end(dashboardHtml(this.system));
      case "/dashboard.js":
        return void response.writeHead(200, { ...headers, "content-type": "text/javascript; charset=utf-8" }).end(DASHBOARD_JS);
      case "/dashboard.css":
        return void response.writeHead(200, { ...headers, "content-type": "text/css; charset=utf-8" }).end(DASHBOARD_CSS);
      case "/view.json":
        return void response.writeHead(this.latest ? 200 : 503, { ...headers, "content-type": "application/json" }).end(this.latest ?? '{"error":"no view yet"}');
      case "/events":
        response.writeHead(200, { ...headers, "content-type": "text/event-stream", connection: "keep-alive" });
        response.write(this.latest ? `retry: 2000\ndata: ${this.latest}\n\n` : "retry: 2000\n\n");
        this.streams.add(response);
        request.once("close", () => this.streams.delete(response));
        return;
      default:
        return void response.writeHead(404, headers).end("not found\n");
    }
  }
}
