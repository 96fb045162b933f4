import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { EmbeddedNats } from "../../runtime/index.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { natsServerFor } from "../helpers/nats.js";

const run = promisify(execFile);

/** The other Node majors `engines` names, as setup installs them (`npm test` runs `setup --test`). */
const nodeBinary = (major: number): string => join(PROJECT_ROOT, ".tools", `node${major}`, "node_modules", "node", "bin", "node");

/** Packages only the examples, tests or optional parts use: none may reach an app that installs Troupe. */
const NOT_INSTALLED = ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "@vladmandic/face-api", "jpeg-js", "@google-cloud/storage", "@opentelemetry/sdk-node", "tsx", "moleculer", "nact", "ioredis"];

async function sh(cmd: string, args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  try {
    // The compiled CLI, as users run it (the suite runs its other `troupe` processes from source).
    const { stdout } = await run(cmd, args, { cwd, env: { ...process.env, TROUPE_CLI_FROM_SOURCE: "0", ...env }, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

/** The JSON object on the last line of `troupe run --json`'s stdout. */
function summaryOf(stdout: string): Record<string, unknown> {
  const last = stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(last) as Record<string, unknown>;
}

/**
 * Troupe as a user gets it: `npm pack`, a new app made by `troupe init` outside the repository that
 * installs the tarball, its messages generated with `troupe proto`, compiled with `tsc`, run with plain
 * `node` on two worker processes over a real nats-server, and its own tests; on this Node, 22 and 24.
 */
describe("package: packed, installed into an app made by troupe init, run with plain node", function () {
  this.timeout(10 * 60_000);
  let work: string;
  let app: string;
  let nats: EmbeddedNats;

  before(async function () {
    nats = await natsServerFor(this);
    work = mkdtempSync(join(tmpdir(), "troupe-package-"));
    await sh("npm", ["pack", "--pack-destination", work, "--silent"], PROJECT_ROOT);
    const tarball = readdirSync(work).find((name) => name.endsWith(".tgz"));
    if (tarball === undefined) throw new Error(`npm pack left no tarball in ${work}`);
    app = join(work, "app");
    await sh(process.execPath, [join(PROJECT_ROOT, "bin", "troupe.mjs"), "init", app, "--troupe", `file:${join(work, tarball)}`], work);
    await sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], app);
  });

  after(async () => {
    await nats?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("installs without the examples' or optional parts' packages", async () => {
    const present = NOT_INSTALLED.filter((name) => existsSync(join(app, "node_modules", name)));
    expect(present).to.deep.equal([]);
    expect(existsSync(join(app, "node_modules", "troupe", "dist", "runtime", "index.js"))).to.equal(true);
    // One protobufjs for the app and Troupe (a peer dependency), so their generated classes agree.
    expect(existsSync(join(app, "node_modules", "troupe", "node_modules", "protobufjs"))).to.equal(false);
  });

  it("generates the app's messages with troupe proto and compiles it with tsc", async () => {
    await sh("npm", ["run", "--silent", "build"], app);
    expect(existsSync(join(app, "src", "gen", "messages.js"))).to.equal(true);
    expect(existsSync(join(app, "dist", "topology.js"))).to.equal(true);
    expect(existsSync(join(app, "dist", "gen", "messages.js"))).to.equal(true);
  });

  it("explains what the image-pipeline example needs, as one JSON line, when those packages are not installed", async () => {
    const failed = await run(process.execPath, [join(app, "node_modules", "troupe", "bin", "troupe.mjs"), "run", "image-pipeline", "--nats", nats.url, "--json"], { cwd: app, env: { ...process.env, TROUPE_CLI_FROM_SOURCE: "0" } }).then(
      () => undefined,
      (error: { code?: number; stdout?: string }) => error,
    );
    expect(failed?.code).to.equal(1);
    const summary = summaryOf(failed?.stdout ?? "");
    expect(summary.ok).to.equal(false);
    expect(String(summary.error)).to.include("npm install @vladmandic/face-api");
  });

  it("troupe/cache: a redis:// cache without ioredis installed computes without it and says what to install", async () => {
    const script = [
      'import { openResultCache } from "troupe/cache";',
      "const lines = [];",
      'const cache = openResultCache("redis://127.0.0.1:1", { log: (line) => lines.push(line) });',
      'const answer = await cache.getOrCompute("ab".repeat(32), "t.Result", async () => new Uint8Array([42]));',
      "await cache.close();",
      "console.log(JSON.stringify({ outcome: answer.outcome, bytes: [...answer.bytes], lines }));",
    ].join("\n");
    const result = JSON.parse((await sh(process.execPath, ["--input-type=module", "-e", script], app)).trim()) as { outcome: string; bytes: number[]; lines: string[] };
    expect(result).to.deep.include({ outcome: "bypass", bytes: [42] });
    expect(result.lines).to.have.length(1);
    expect(result.lines[0]).to.include("npm install ioredis");
  });

  for (const [label, node] of [[`this Node (${process.version})`, process.execPath], ["Node 22", nodeBinary(22)], ["Node 24", nodeBinary(24)]] as const) {
    describe(`on ${label}`, () => {
      before(function () {
        if (!existsSync(node)) {
          if (process.env.CI === "true") throw new Error(`${node} missing: run \`node scripts/setup.mjs --test\``);
          this.skip();
        }
      });

      it("runs the app's topology on two node processes: lookup, tell and ask over NATS", async () => {
        const stdout = await sh(node, [join(app, "node_modules", "troupe", "bin", "troupe.mjs"), "run", "./dist/topology.js", "--nodes", "2", "--nats", nats.url, "--json"], app, { PATH: `${join(node, "..")}:${process.env.PATH ?? ""}` });
        const summary = summaryOf(stdout);
        expect(summary).to.include({ ok: true, verified: true, nodes: 2, tasks: 20 });
        expect(summary.sum).to.equal(110);
      });

      it("runs a bundled example: ping-pong between two node processes", async () => {
        const stdout = await sh(node, [join(app, "node_modules", "troupe", "bin", "troupe.mjs"), "run", "ping-pong", "--nodes", "2", "--nats", nats.url, "--json"], app);
        const summary = summaryOf(stdout);
        expect(summary).to.include({ ok: true, verified: true, outOfOrder: 0 });
        expect(summary.pongs).to.equal(summary.expectedPongs);
      });

      it("passes the app's own tests", async () => {
        const stdout = await sh(node, [join(app, "node_modules", "mocha", "bin", "mocha.js")], app);
        expect(stdout).to.match(/\b[1-9]\d* passing\b/);
        expect(stdout).not.to.match(/\bfailing\b/);
      });

      it("says which version it is", async () => {
        const stdout = await sh(node, [join(app, "node_modules", "troupe", "bin", "troupe.mjs"), "--version"], app);
        expect(stdout.trim()).to.match(/^(troupe )?0\.\d+\.\d+$/);
      });
    });
  }
});
