import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { expect } from "chai";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";

const DIST = join(PROJECT_ROOT, "dist");
const STATIC_IMPORT = /^\s*(?:import|export)\s+(?:[^'"]*?\sfrom\s+)?["']([^"']+)["']/gm;

/** Bare specifiers imported statically by `file` and the files it imports statically, with who imports each. */
function staticPackages(file: string, seen = new Set<string>(), found = new Map<string, string>()): Map<string, string> {
  if (seen.has(file)) return found;
  seen.add(file);
  for (const [, spec] of readFileSync(file, "utf8").matchAll(STATIC_IMPORT)) {
    if (spec!.startsWith(".")) staticPackages(resolve(dirname(file), spec!), seen, found);
    else if (!spec!.startsWith("node:") && !found.has(spec!)) found.set(spec!, file.slice(DIST.length + 1));
  }
  return found;
}

/** The package a specifier names: `@scope/name` or `name`. */
const packageOf = (spec: string): string => spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/");

/**
 * The packaged build as an app without the optional peers loads it: `import("troupe")`, the CLI and
 * each of its verbs must not import an optional peer (OpenTelemetry, GCS, Redis, tsx) up front, or
 * they fail with "Cannot find package" where they should work or say what to install. The packaging
 * test sees this too, in minutes; this sees it in milliseconds, after the build that setup runs.
 */
describe("package: optional peers are loaded only when used (unit, over dist/)", () => {
  it("import('troupe'), troupe/testkit, troupe/gcs, the CLI and every CLI verb import no optional peer statically", function () {
    if (!existsSync(join(DIST, "runtime/index.js"))) {
      if (process.env.CI === "true") throw new Error("dist/ is missing: the setup's build did not run");
      this.skip();
    }
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { peerDependenciesMeta: Record<string, { optional?: boolean }> };
    const optional = new Set(Object.entries(pkg.peerDependenciesMeta).filter(([, meta]) => meta.optional).map(([name]) => name));
    const verbs = readdirSync(join(DIST, "chunks")).filter((f) => /-command-[A-Z0-9]+\.js$/.test(f)).map((f) => join(DIST, "chunks", f));
    expect(verbs.length, "CLI verb chunks found").to.be.greaterThan(5);
    const roots = [...["runtime/index.js", "runtime/testkit/index.js", "runtime/gcs/index.js", "runtime/cli/main.js"].map((f) => join(DIST, f)), ...verbs];
    const offenders: string[] = [];
    for (const root of roots) {
      for (const [spec, importer] of staticPackages(root)) {
        if (optional.has(packageOf(spec))) offenders.push(`${root.slice(DIST.length + 1)} loads ${spec} (imported by ${importer})`);
      }
    }
    expect(offenders).to.deep.equal([]);
  });

  it("troupe node and troupe run load no package up front but protobufjs's minimal build: NATS comes when they connect, never protobufjs's reflection", function () {
    if (!existsSync(join(DIST, "runtime/cli/main.js"))) this.skip();
    // A node's start time and idle memory (bench/node-start.ts) are mostly what it loads; this keeps what it loads small.
    const verbs = readdirSync(join(DIST, "chunks")).filter((f) => /^(node|run)-command-[A-Z0-9]+\.js$/.test(f));
    expect(verbs, "node and run verb chunks").to.have.length(2);
    const loaded = verbs.flatMap((verb) => [...staticPackages(join(DIST, "chunks", verb)).keys()].filter((spec) => !spec.startsWith("node:")).map((spec) => `${verb.replace(/-[A-Z0-9]+\.js$/, "")}: ${spec}`));
    expect(loaded.sort()).to.deep.equal(["node-command: protobufjs/minimal.js", "run-command: protobufjs/minimal.js"]);
  });
});
