import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/** Set once tsx's loader is registered in this process. */
let registered = false;

/**
 * Makes a TypeScript topology importable. Troupe itself is compiled JavaScript; a user's `.ts` module
 * is loaded with tsx when the app (or Troupe) can resolve it, which also maps `./x.js` imports to
 * `./x.ts` as tsc does; else with Node's own type stripping where this Node has it (22.18 and 23.6 on,
 * by default), which needs imports written with `.ts` extensions. With neither, the error says what
 * to do instead.
 */
export async function prepareTypeScriptImport(path: string): Promise<void> {
  if (!/\.[cm]?ts$/.test(path) || registered) return;
  const register = await tsxRegister();
  if (register) {
    register();
    registered = true;
    return;
  }
  if (nodeStripsTypes()) return;
  throw new Error(
    `${path} is TypeScript, and this process can load TypeScript neither through tsx nor through Node's type stripping ` +
      `(Node ${process.versions.node}). Either install tsx in your app (npm install --save-dev tsx), use Node >= 22.18, ` +
      `or compile the topology with tsc and pass the .js file.`,
  );
}

async function tsxRegister(): Promise<(() => unknown) | undefined> {
  // The app's copy first, then one resolvable from Troupe's own location. tsx's CommonJS build of its
  // ESM API does not load under require, so the ESM file is located through tsx's package.json.
  for (const base of [join(process.cwd(), "package.json"), import.meta.url]) {
    let manifestPath: string;
    try {
      manifestPath = createRequire(base).resolve("tsx/package.json");
    } catch {
      continue; // not resolvable from here; try the next place
    }
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { exports?: Record<string, { import?: { default?: string } }> };
    const entry = manifest.exports?.["./esm/api"]?.import?.default;
    if (entry === undefined) continue;
    const api = (await import(pathToFileURL(join(dirname(manifestPath), entry)).href)) as { register?: () => unknown };
    if (typeof api.register === "function") return api.register;
  }
  return undefined;
}

function nodeStripsTypes(): boolean {
  return Boolean((process.features as { typescript?: string | false }).typescript);
}
