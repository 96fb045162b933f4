import { existsSync, readdirSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PROJECT_ROOT } from "../nats/tool-paths.js";
import type { Topology } from "../topology.js";

const EXAMPLES = join(PROJECT_ROOT, "examples");

/** Names of the bundled examples that have a topology. */
export function exampleNames(): string[] {
  if (!existsSync(EXAMPLES)) return [];
  return readdirSync(EXAMPLES).filter((name) => existsSync(join(EXAMPLES, name, "topology.ts")));
}

/** Resolves `ping-pong` to the bundled example, or `./file.ts` relative to the working directory. */
export function topologyPath(nameOrPath: string): string {
  const looksLikePath = nameOrPath.includes("/") || /\.[cm]?[jt]s$/.test(nameOrPath);
  if (looksLikePath) {
    const path = isAbsolute(nameOrPath) ? nameOrPath : resolve(process.cwd(), nameOrPath);
    if (!existsSync(path)) throw new Error(`topology module ${path} does not exist`);
    return path;
  }
  const path = join(EXAMPLES, nameOrPath, "topology.ts");
  if (!existsSync(path)) {
    throw new Error(`no example named ${JSON.stringify(nameOrPath)}; examples: ${exampleNames().join(", ") || "none"}; or pass a path like ./my-topology.ts`);
  }
  return path;
}

export async function loadTopology(path: string): Promise<Topology> {
  const module = (await import(pathToFileURL(path).href)) as { default?: Topology };
  const topology = module.default;
  if (!topology || typeof topology.main !== "function" || typeof topology.name !== "string") {
    throw new Error(`${path} must have a default export made with defineTopology({ name, main, ... })`);
  }
  return topology;
}
