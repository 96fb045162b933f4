import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";

/**
 * Troupe's root: in a checkout, where `scripts/setup.mjs` puts its tools in `.tools/`; in an installed
 * package there is no `.tools/`, and tools come from the environment or PATH.
 */
export const PROJECT_ROOT = PACKAGE_ROOT;

type Tool = "nats-server" | "fake-gcs-server" | "chromium" | "otelcol-troupe" | "redis-server";

const ENV_OVERRIDE: Record<Tool, string> = { "nats-server": "NATS_SERVER_BIN", "fake-gcs-server": "FAKE_GCS_SERVER_BIN", chromium: "CHROMIUM_BIN", "otelcol-troupe": "OTELCOL_BIN", "redis-server": "REDIS_SERVER_BIN" };
const MANIFEST_KEY: Record<Tool, string> = { "nats-server": "natsServer", "fake-gcs-server": "fakeGcsServer", chromium: "chromium", "otelcol-troupe": "otelcol", "redis-server": "redisServer" };

/**
 * Finds a tool's binary (a server, the browser for the trace page test, the collector for the OTLP test): the environment override,
 * then (in a checkout of Troupe) what setup recorded in `.tools/tools.json` and `.tools/bin`, then PATH.
 * Undefined when none is found.
 */
export function findTool(tool: Tool): string | undefined {
  const override = process.env[ENV_OVERRIDE[tool]];
  if (override) return override;
  const manifest = join(PROJECT_ROOT, ".tools", "tools.json");
  if (existsSync(manifest)) {
    try {
      const recorded = (JSON.parse(readFileSync(manifest, "utf8")) as Record<string, string | null>)[MANIFEST_KEY[tool]];
      if (recorded && existsSync(recorded)) return recorded;
    } catch {
      // A broken manifest is ignored; the other places are still searched.
    }
  }
  const local = join(PROJECT_ROOT, ".tools", "bin", tool);
  if (existsSync(local)) return local;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, tool);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** How to get each tool, in words that work in an app using Troupe (not only in a checkout of Troupe). */
const HOW_TO_GET: Record<Tool, { install: string; otherwise?: string }> = {
  "nats-server": {
    install:
      "Install it with a package manager (`apt-get install nats-server`, `brew install nats-server`), " +
      "with Go (`go install github.com/nats-io/nats-server/v2@latest`, into $(go env GOPATH)/bin), " +
      "or from a release at https://github.com/nats-io/nats-server/releases",
    otherwise: "Or use a server that is already running: pass its URL (`--nats URL` or NATS_URL for the troupe command).",
  },
  "fake-gcs-server": { install: "Install it with Go (`go install github.com/fsouza/fake-gcs-server@latest`, into $(go env GOPATH)/bin)" },
  chromium: { install: "Install Chromium or Chrome" },
  "redis-server": { install: "Install it with a package manager (`apt-get install redis-server`, `brew install redis`)" },
  "otelcol-troupe": { install: "Build it with `npm test` or `node scripts/setup.mjs --test` in a checkout of Troupe (an OpenTelemetry Collector with core components)" },
};

export function requireTool(tool: Tool): string {
  const found = findTool(tool);
  if (!found) {
    const { install, otherwise } = HOW_TO_GET[tool];
    throw new Error(`${tool} not found on PATH or in ${ENV_OVERRIDE[tool]}. ${install}, then put it on PATH or set ${ENV_OVERRIDE[tool]} to its path.${otherwise ? ` ${otherwise}` : ""}`);
  }
  return found;
}
