import { existsSync, readdirSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PACKAGE_ROOT } from "../package-root.js";
import type { Topology } from "../topology.js";
import { prepareTypeScriptImport } from "./typescript-loader.js";

/** The bundled examples: `dist/examples/` when this runs compiled, `examples/` when run from source. */
const EXAMPLES = import.meta.url.endsWith(".ts") ? join(PACKAGE_ROOT, "examples") : join(PACKAGE_ROOT, "dist", "examples");

/** An example's topology module: compiled JavaScript in the package, TypeScript in a checkout. */
function exampleTopology(name: string): string | undefined {
  return ["topology.js", "topology.ts"].map((file) => join(EXAMPLES, name, file)).find((path) => existsSync(path));
}

/** Names of the bundled examples that have a topology. */
export function exampleNames(): string[] {
  if (!existsSync(EXAMPLES)) return [];
  return readdirSync(EXAMPLES).filter((name) => exampleTopology(name) !== undefined);
}

/** Resolves `ping-pong` to the bundled example, or `./file.ts` relative to the working directory. */
export function topologyPath(nameOrPath: string): string {
  const looksLikePath = nameOrPath.includes("/") || /\.[cm]?[jt]s$/.test(nameOrPath);
  if (looksLikePath) {
    const path = isAbsolute(nameOrPath) ? nameOrPath : resolve(process.cwd(), nameOrPath);
    if (!existsSync(path)) throw new Error(`topology module ${path} does not exist`);
    return path;
  }
  const path = exampleTopology(nameOrPath);
  if (path === undefined) {
    throw new Error(`no example named ${JSON.stringify(nameOrPath)}; examples: ${exampleNames().join(", ") || "none"}; or pass a path like ./my-topology.ts`);
  }
  return path;
}

export async function loadTopology(path: string): Promise<Topology> {
  await prepareTypeScriptImport(path);
  const module = (await import(pathToFileURL(path).href)) as { default?: Topology };
  const topology = module.default;
  if (!topology || typeof topology.main !== "function" || typeof topology.name !== "string") {
    throw new Error(`${path} must have a default export made with defineTopology({ name, main, ... })`);
  }
  return topology;
}
