import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { PACKAGE_ROOT, troupeVersion } from "../package-root.js";
import { parseOptions } from "./parse-options.js";
import { VERBS } from "./usage.js";

/** The starter app, shipped in the package. */
export const STARTER_TEMPLATE = join(PACKAGE_ROOT, "templates", "starter");

/**
 * Template files stored under another name, because npm would drop or mangle the real one when
 * packing Troupe (`.gitignore`), or because the real one would make the template folder a package
 * of its own inside Troupe's checkout (`package.json`).
 */
const RENAMED: Readonly<Record<string, string>> = { gitignore: ".gitignore", "package.json.template": "package.json" };

/**
 * `troupe init <dir> [--troupe SPEC]`: writes the starter app into a new or empty folder. Template
 * files may hold `{{name}}` (the package name), `{{troupe}}` (the troupe dependency) and
 * `{{dependency:PKG}}` (the version range Troupe's own package.json uses for PKG).
 */
export function initCommand(args: string[]): number {
  const parsed = parseOptions(VERBS.init, args);
  if (parsed === undefined) return 0;
  const dir = resolve(parsed.positionals[0]!);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) return fail(`${dir} exists and is not a folder`);
    if (readdirSync(dir).length > 0) return fail(`refusing to write into ${dir}: it is not empty; pick a new folder`);
  }
  if (!existsSync(STARTER_TEMPLATE)) return fail(`the starter template is missing from Troupe's package (${STARTER_TEMPLATE}); reinstall troupe`);

  const name = packageName(basename(dir));
  const fill = placeholders({ name, troupe: parsed.values.troupe ?? `^${troupeVersion()}` });
  // Everything is rendered before anything is written, so a broken template writes nothing.
  const files = templateFiles(STARTER_TEMPLATE).map((file) => ({
    target: join(dir, dirname(file), RENAMED[basename(file)] ?? basename(file)),
    content: fill(readFileSync(join(STARTER_TEMPLATE, file), "utf8"), file),
  }));
  for (const { target, content } of files) {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
  const shownDir = relative(process.cwd(), dir) || ".";
  console.log(`troupe init: wrote ${name} into ${shownDir}:`);
  for (const { target } of files) console.log(`  ${relative(dir, target)}`);
  console.log(`\nNext:\n${shownDir === "." ? "" : `  cd ${shownDir}\n`}  npm install\n  npm test\n  npm start`);
  return 0;
}

function fail(message: string): number {
  console.error(`troupe init: ${message}`);
  return 1;
}

/** A valid npm package name made from a folder name. */
export function packageName(folder: string): string {
  return (
    folder
      .toLowerCase()
      .replace(/[^a-z0-9._~-]+/g, "-")
      .replace(/^[._~-]+|-+$/g, "")
      .slice(0, 214) || "troupe-app"
  );
}

/** Paths of the template's files, relative to it. */
function templateFiles(root: string, under = ""): string[] {
  return readdirSync(join(root, under), { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(under, entry.name);
      return entry.isDirectory() ? templateFiles(root, path) : [path];
    });
}

function placeholders(values: { name: string; troupe: string }): (text: string, file: string) => string {
  const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
  const rangeOf = (pkg: string): string | undefined => manifest["peerDependencies"]?.[pkg] ?? manifest["dependencies"]?.[pkg] ?? manifest["devDependencies"]?.[pkg];
  return (text, file) =>
    text.replace(/\{\{([^}]+)\}\}/g, (_, key: string) => {
      if (key === "name") return values.name;
      if (key === "troupe") return values.troupe;
      const range = key.startsWith("dependency:") ? rangeOf(key.slice("dependency:".length)) : undefined;
      if (range === undefined) throw new Error(`the starter template's ${file} has {{${key}}}, which Troupe's package.json cannot fill`);
      return range;
    });
}
