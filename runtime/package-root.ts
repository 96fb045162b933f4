import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder holding Troupe's own package.json: the checkout when run from source, the installed
 * package (`node_modules/troupe`) when run compiled from `dist/`. Files shipped beside the code
 * (the `.proto` contracts, `troupe init`'s template) are found from here, never from the cwd.
 */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** The version in Troupe's package.json. */
export function troupeVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
}

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && isTroupeManifest(manifest)) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find Troupe's package.json above ${start}`);
  }
}

function isTroupeManifest(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { name?: string }).name === "troupe";
  } catch {
    return false;
  }
}
