import { createRequire } from "node:module";
import { join } from "node:path";

/** Set once tsx's loader is registered in this process. */
let registered = false;

/**
 * Makes a TypeScript topology importable. Troupe itself is compiled JavaScript; a user's `.ts` module
 * is loaded with tsx when the app (or Troupe) can resolve it, which also maps `./x.js` imports to
 * `./x.ts` as tsc does; else with Node's own type stripping where this Node has it (22.18 and 23.6 on,
 * by default), which needs imports written with `.ts` extensions. With neither, the error says what
 * to do instead.
 */
export function prepareTypeScriptImport(path: string): void {
  if (!/\.[cm]?ts$/.test(path) || registered) return;
  const register = tsxRegister();
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

function tsxRegister(): (() => unknown) | undefined {
  // The app's copy first, then one resolvable from Troupe's own location.
  for (const base of [join(process.cwd(), "package.json"), import.meta.url]) {
    try {
      const api = createRequire(base)("tsx/esm/api") as { register?: () => unknown };
      if (typeof api.register === "function") return api.register;
    } catch {
      // not resolvable from here; try the next place
    }
  }
  return undefined;
}

function nodeStripsTypes(): boolean {
  return Boolean((process.features as { typescript?: string | false }).typescript);
}
