import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";

/**
 * Troupe's root: in a checkout, where `scripts/setup.mjs` puts its tools in `.tools/`; in an installed
 * package there is no `.tools/`, and tools come from the environment or PATH.
 */
export const PROJECT_ROOT = PACKAGE_ROOT;

type Tool = "nats-server" | "fake-gcs-server" | "chromium";

const ENV_OVERRIDE: Record<Tool, string> = { "nats-server": "NATS_SERVER_BIN", "fake-gcs-server": "FAKE_GCS_SERVER_BIN", chromium: "CHROMIUM_BIN" };
const MANIFEST_KEY: Record<Tool, string> = { "nats-server": "natsServer", "fake-gcs-server": "fakeGcsServer", chromium: "chromium" };

/**
 * Finds a tool's binary (a server, or the browser for the trace page test): the environment override, then what `npm run setup` recorded in
 * `.tools/tools.json`, then `.tools/bin`, then PATH. Undefined when none is found.
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

export function requireTool(tool: Tool): string {
  const found = findTool(tool);
  if (!found) {
    throw new Error(
      `${tool} not found: run \`npm run setup\` (installs it into .tools/bin), put it on PATH, ` +
        `or set ${ENV_OVERRIDE[tool]} to its path.`,
    );
  }
  return found;
}
