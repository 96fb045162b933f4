import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";

/** The last commit before any tracing code existed (08497d8 added OpenTelemetry on top of it). */
export const NO_TRACE_COMMIT = "6c2a257";
/** Where the no-tracing build is checked out: a git worktree of NO_TRACE_COMMIT. */
export const NO_TRACE_ROOT = join(tmpdir(), "troupe-notrace");

function git(args: readonly string[], cwd: string): { ok: boolean; out: string } {
  const result = spawnSync("git", args, { cwd, encoding: "utf8", timeout: 120_000 });
  if (result.error) throw new Error(`git is needed for the no-tracing build (a worktree of ${NO_TRACE_COMMIT} at ${NO_TRACE_ROOT}) and could not run: ${result.error.message}`);
  return { ok: result.status === 0, out: `${result.stdout}${result.stderr}`.trim() };
}

/**
 * The no-tracing build, ready to run: a worktree of NO_TRACE_COMMIT at NO_TRACE_ROOT, using this
 * checkout's node_modules (the same nats.js, protobufjs and tsx on both sides) and its own generated
 * protobuf code. Creates whatever is missing, saying so through `log`; throws when it cannot.
 */
export function ensureNoTraceBuild(log: (line: string) => void): string {
  const root = NO_TRACE_ROOT;
  if (!existsSync(join(root, "runtime", "index.ts"))) {
    if (existsSync(root) && readdirSync(root).length > 0) throw new Error(`${root} exists but holds no checkout of ${NO_TRACE_COMMIT}; remove it and run again`);
    log(`  no-tracing build missing: creating it (git worktree add --detach ${root} ${NO_TRACE_COMMIT})`);
    // -f: the worktree may still be registered from a run whose temporary directory has since been cleared.
    const added = git(["worktree", "add", "-f", "--detach", root, NO_TRACE_COMMIT], PROJECT_ROOT);
    if (!added.ok) throw new Error(`could not create the no-tracing build: git worktree add ${root} ${NO_TRACE_COMMIT}: ${added.out}`);
  }
  const head = git(["rev-parse", "HEAD"], root);
  const wanted = git(["rev-parse", `${NO_TRACE_COMMIT}^{commit}`], PROJECT_ROOT);
  if (!head.ok || !wanted.ok || head.out !== wanted.out) {
    throw new Error(`${root} is not a checkout of ${NO_TRACE_COMMIT} (HEAD: ${head.out}); remove it (git worktree remove --force ${root}) and run again`);
  }
  if (!existsSync(join(root, "node_modules"))) {
    log(`  no-tracing build: linking ${join(root, "node_modules")} -> ${join(PROJECT_ROOT, "node_modules")}`);
    symlinkSync(join(PROJECT_ROOT, "node_modules"), join(root, "node_modules"), "dir");
  }
  if (!existsSync(join(root, "proto", "gen", "examples", "bench.js"))) {
    log(`  no-tracing build: generating its protobuf code (node scripts/build-proto.mjs in ${root})`);
    const built = spawnSync(process.execPath, ["scripts/build-proto.mjs"], { cwd: root, stdio: ["ignore", 2, 2], timeout: 300_000 });
    if (built.status !== 0) throw new Error(`could not generate the no-tracing build's protobuf code (node scripts/build-proto.mjs in ${root}: ${built.error?.message ?? `exit ${built.status}`})`);
  }
  return root;
}
