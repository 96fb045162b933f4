import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PACKAGE_ROOT } from "../../runtime/package-root.js";
import { VERBS } from "../../runtime/cli/usage.js";
import type { EmbeddedNats } from "../../runtime/index.js";
import { natsServerFor } from "../helpers/nats.js";
import { openStateStore } from "../../runtime/index.js";
import { Ledger } from "../fixtures/entity-ledger.js";
import { encodeEntityObject } from "../../runtime/entities/entity-record.js";

// The CLI from source, as a user runs it (a child process; tsx's loader given by path, so it also
// resolves from a working directory outside the repo).
const MAIN = join(PACKAGE_ROOT, "runtime", "cli", "main.ts");
const TSX = pathToFileURL(join(PACKAGE_ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function troupe(args: readonly string[], cwd = PACKAGE_ROOT): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", TSX, MAIN, ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const lastJsonLine = (stdout: string): Record<string, unknown> => JSON.parse(stdout.trimEnd().split("\n").at(-1)!) as Record<string, unknown>;

describe("troupe command line (integration)", function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "troupe-cli-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe("manners", () => {
    for (const [verb, spec] of Object.entries(VERBS)) {
      it(`cli: \`troupe ${verb} --help\` exits 0 and lists every option of ${verb}`, async () => {
        const { code, stdout } = await troupe([verb, "--help"]);
        expect(code).to.equal(0);
        expect(stdout).to.contain(`Usage: troupe ${verb} `);
        for (const [name, option] of Object.entries(spec.options)) {
          if (!("hidden" in option)) expect(stdout, `--${name}`).to.contain(`--${name}`);
        }
      });
    }

    it("cli: -h works like --help, also after other arguments", async () => {
      const { code, stdout } = await troupe(["run", "ping-pong", "--nodes", "3", "-h"]);
      expect(code).to.equal(0);
      expect(stdout).to.contain("Usage: troupe run ");
    });

    it("cli: `troupe --version` and `troupe -v` print the version in package.json", async () => {
      const { version } = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string };
      for (const flag of ["--version", "-v"]) {
        const { code, stdout } = await troupe([flag]);
        expect(code).to.equal(0);
        expect(stdout.trim()).to.equal(version);
      }
    });

    it("cli: a misspelt option is refused with a suggestion and the verb's usage", async () => {
      const { code, stderr } = await troupe(["run", "ping-pong", "--nodse", "3"]);
      expect(code).to.equal(2);
      expect(stderr).to.contain("unknown option --nodse; did you mean --nodes?");
      expect(stderr).to.contain("Usage: troupe run ");
    });

    it("cli: a misspelt command is refused with a suggestion", async () => {
      const { code, stderr } = await troupe(["prtoo"]);
      expect(code).to.equal(2);
      expect(stderr).to.contain('unknown command "prtoo"; did you mean proto?');
    });
  });

  describe("run --json when the run fails", () => {
    it("cli: a wrong option still ends stdout with one JSON line, ok false", async () => {
      const { code, stdout } = await troupe(["run", "ping-pong", "--json", "--nodse", "3"]);
      expect(code).to.equal(2);
      expect(lastJsonLine(stdout)).to.deep.equal({ ok: false, example: "ping-pong", error: "unknown option --nodse; did you mean --nodes?" });
    });

    it("cli: a topology module that does not exist gives ok false and says so", async () => {
      const { code, stdout } = await troupe(["run", "./no-such-topology.js", "--json"], dir);
      expect(code).to.equal(1);
      const line = lastJsonLine(stdout);
      expect(line).to.include({ ok: false, example: "./no-such-topology.js" });
      expect(line.error).to.match(/no-such-topology\.js does not exist/);
    });

    describe("with workers", () => {
      let nats: EmbeddedNats | undefined;
      before(async function () {
        nats = await natsServerFor(this);
      });
      after(async () => nats?.stop());

      it("cli: an error thrown by the topology's main gives ok false with its message", async () => {
        writeFileSync(join(dir, "boom.mjs"), `export default { name: "boom", async main() { throw new Error("boom in main"); } };\n`);
        const { code, stdout, stderr } = await troupe(["run", "./boom.mjs", "--nodes", "1", "--nats", nats!.url, "--json"], dir);
        expect(code, stderr).to.equal(1);
        expect(lastJsonLine(stdout)).to.deep.equal({ ok: false, example: "boom", error: "boom in main" });
      });

      it("cli: a topology whose check fails gives ok false, its figures and an error", async () => {
        writeFileSync(join(dir, "wrong.mjs"), `export default { name: "wrong", async main() { return { tasks: 3, state: null, verified: false }; } };\n`);
        const { code, stdout, stderr } = await troupe(["run", "./wrong.mjs", "--nodes", "1", "--nats", nats!.url, "--json"], dir);
        expect(code, stderr).to.equal(1);
        const line = lastJsonLine(stdout);
        expect(line).to.include({ ok: false, example: "wrong", nodes: 1, tasks: 3, verified: false });
        expect(line).to.include.keys("durationMs", "state", "traceId");
        expect(line.error).to.be.a("string").and.match(/check/);
      });
    });
  });

  describe("proto", () => {
    // The generated code imports protobufjs, as an app that depends on it resolves it.
    const linkProtobuf = (): void => {
      mkdirSync(join(dir, "node_modules"));
      symlinkSync(join(PACKAGE_ROOT, "node_modules", "protobufjs"), join(dir, "node_modules", "protobufjs"), "dir");
    };

    it("proto: generates an ES module whose classes encode and decode, with types beside it", async () => {
      linkProtobuf();
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "@acme/shop", type: "module" }));
      writeFileSync(join(dir, "order.proto"), 'syntax = "proto3";\npackage shop;\nmessage Order { string id = 1; int32 quantity = 2; }\n');
      const { code, stdout, stderr } = await troupe(["proto", "order.proto", "--out", "src/gen"], dir);
      expect(code, stderr).to.equal(0);
      expect(stdout).to.contain('protobufjs root "acme_shop_src_gen_messages"');
      expect(readFileSync(join(dir, "src", "gen", "messages.d.ts"), "utf8")).to.contain("class Order");
      const { shop } = await import(pathToFileURL(join(dir, "src", "gen", "messages.js")).href);
      const bytes = shop.Order.encode(shop.Order.create({ id: "a-1", quantity: 3 })).finish() as Uint8Array;
      expect(shop.Order.decode(bytes)).to.include({ id: "a-1", quantity: 3 });
    });

    it('proto: a file importing "troupe/address.proto" carries actor addresses', async () => {
      linkProtobuf();
      writeFileSync(
        join(dir, "watch.proto"),
        'syntax = "proto3";\npackage watch;\nimport "troupe/address.proto";\nmessage Subscribe { troupe.ActorAddress subscriber = 1; }\n',
      );
      const { code, stderr } = await troupe(["proto", "watch.proto", "--out", "gen", "--name", "watch", "--root", "watch_test"], dir);
      expect(code, stderr).to.equal(0);
      const generated = readFileSync(join(dir, "gen", "watch.js"), "utf8");
      expect(generated).to.contain('roots["watch_test"]');
      const { watch } = await import(pathToFileURL(join(dir, "gen", "watch.js")).href);
      const subscriber = { system: "s", node: "n", path: "/user/a" };
      const decoded = watch.Subscribe.decode(watch.Subscribe.encode(watch.Subscribe.create({ subscriber })).finish());
      expect(decoded.subscriber).to.include(subscriber);
    });

    it("proto: a syntax error names the file and the line", async () => {
      writeFileSync(join(dir, "broken.proto"), 'syntax = "proto3";\npackage b;\n\nmessage A {\n  int32 a = 1\n  string b = 2;\n}\n');
      const { code, stderr } = await troupe(["proto", "broken.proto", "--out", "gen"], dir);
      expect(code).to.equal(1);
      expect(stderr).to.contain("troupe proto: broken.proto:6: illegal token 'string', ';' expected");
      expect(existsSync(join(dir, "gen", "messages.js"))).to.equal(false);
    });

    it("proto: an error in an imported file names that file", async () => {
      mkdirSync(join(dir, "protos"));
      writeFileSync(join(dir, "main.proto"), 'syntax = "proto3";\nimport "common.proto";\nmessage M { int32 m = 1; }\n');
      writeFileSync(join(dir, "protos", "common.proto"), 'syntax = "proto3";\nmesage C {}\n');
      const { code, stderr } = await troupe(["proto", "main.proto", "-I", "protos", "--out", "gen"], dir);
      expect(code).to.equal(1);
      expect(stderr).to.match(/troupe proto: \S*protos\/common\.proto:2: illegal token 'mesage'/);
    });

    it("proto: a missing file, and an import that is not found, are named with where they were asked for", async () => {
      const missing = await troupe(["proto", "nope.proto", "--out", "gen"], dir);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.contain("troupe proto: cannot read nope.proto: no such file");

      writeFileSync(join(dir, "a.proto"), 'syntax = "proto3";\n\nimport "troupe/adress.proto";\n');
      const badImport = await troupe(["proto", "a.proto", "--out", "gen"], dir);
      expect(badImport.code).to.equal(1);
      expect(badImport.stderr).to.contain('troupe proto: a.proto:3: import "troupe/adress.proto" not found');
    });

    it("proto: --out is required", async () => {
      writeFileSync(join(dir, "a.proto"), 'syntax = "proto3";\n');
      const { code, stderr } = await troupe(["proto", "a.proto"], dir);
      expect(code).to.equal(2);
      expect(stderr).to.contain("--out DIR is required");
    });
  });

  describe("init", () => {
    it("init: writes the starter app, with the troupe dependency asked for and nothing left to fill in", async () => {
      const { code, stdout, stderr } = await troupe(["init", "My App", "--troupe", "file:../troupe.tgz"], dir);
      expect(code, stderr).to.equal(0);
      const app = join(dir, "My App");
      for (const file of ["package.json", "tsconfig.json", ".gitignore", "README.md", "proto/counter.proto", "src/counter.ts", "src/topology.ts", "src/counter.test.ts"]) {
        expect(existsSync(join(app, file)), file).to.equal(true);
        expect(readFileSync(join(app, file), "utf8"), file).not.to.contain("{{");
      }
      const manifest = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { name: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
      const ours = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
      expect(manifest.name).to.equal("my-app");
      expect(manifest.dependencies.troupe).to.equal("file:../troupe.tgz");
      expect(manifest.devDependencies.typescript).to.equal(ours.devDependencies.typescript);
      expect(readFileSync(join(app, "src", "topology.ts"), "utf8")).to.contain('name: "my-app"');
      expect(stdout).to.contain("npm install");
    });

    it("init: the default troupe dependency is this version", async () => {
      const { code } = await troupe(["init", "app"], dir);
      expect(code).to.equal(0);
      const { version } = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string };
      expect((JSON.parse(readFileSync(join(dir, "app", "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies.troupe).to.equal(`^${version}`);
    });

    it("init: refuses a folder that is not empty, and writes nothing into it", async () => {
      mkdirSync(join(dir, "taken"));
      writeFileSync(join(dir, "taken", "notes.txt"), "mine");
      const { code, stderr } = await troupe(["init", "taken"], dir);
      expect(code).to.equal(1);
      expect(stderr).to.contain("is not empty");
      expect(existsSync(join(dir, "taken", "package.json"))).to.equal(false);
    });
  });

  describe("entities", () => {
    const LEDGERS = `${PACKAGE_ROOT}/test/fixtures/entity-ledger-topology.ts`;
    let state: string;

    /** Stores ledgers e00..e11 (ledger eN holds ops 1..N+1) as hosting nodes would, in a file store. */
    beforeEach(async () => {
      state = pathToFileURL(join(dir, "state")).href;
      const store = openStateStore(state);
      for (let i = 0; i < 12; i++) {
        await store.write(`entities/ledger/e${String(i).padStart(2, "0")}`, Ledger.encode({ ops: Array.from({ length: i + 1 }, (_, j) => j + 1) }).finish(), "absent");
      }
      await store.close();
    });

    it("entities: lists a kind's stored keys with generation and size, a page at a time, with the total", async () => {
      const first = await troupe(["entities", "ledger", "--state", state, "--limit", "5"]);
      expect(first.code).to.equal(0);
      expect(first.stdout).to.match(/^KEY\s+GENERATION\s+BYTES\ne00\s+\d+\s+3\n/);
      expect(first.stdout).to.contain("1-5 of 12 entities of kind ledger").and.contain("next page: --after e04");
      const next = await troupe(["entities", "ledger", "--state", state, "--limit", "5", "--after", "e04", "--json"]);
      const page = JSON.parse(next.stdout) as { total: number; entities: { key: string; bytes: number }[]; next?: string };
      expect(page.total).to.equal(12);
      expect(page.entities.map((e) => e.key)).to.deep.equal(["e05", "e06", "e07", "e08", "e09"]);
      expect(page.next).to.equal("e09");
      const filtered = JSON.parse((await troupe(["entities", "ledger", "--state", state, "--key-prefix", "e1", "--json"])).stdout) as { total: number; next?: string };
      expect(filtered).to.include({ total: 2 }).and.not.have.property("next");
    });

    it("entities: prints one entity's state decoded with the topology's definition, or in base64 without one", async () => {
      const decoded = await troupe(["entities", "ledger", "e02", "--state", state, "--topology", LEDGERS, "--json"]);
      expect(decoded.code).to.equal(0);
      expect(JSON.parse(decoded.stdout)).to.include({ kind: "ledger", key: "e02", type: "troupe.examples.ledger.Ledger" }).and.deep.include({ state: { ops: [1, 2, 3] } });
      const text = await troupe(["entities", "ledger", "e02", "--state", state, "--topology", LEDGERS]);
      expect(text.stdout).to.match(/^ledger\/e02: generation \d+, 5 bytes, in file:/).and.contain('"ops": [');
      const raw = JSON.parse((await troupe(["entities", "ledger", "e02", "--state", state, "--json"])).stdout) as { base64: string };
      expect(Ledger.decode(Buffer.from(raw.base64, "base64")).ops).to.deep.equal([1, 2, 3]);
    });

    it("entities: an entity stored with reminders and idempotency keys shows its state, its pending reminders and how many keys it keeps", async () => {
      const store = openStateStore(state);
      const record = encodeEntityObject({
        state: Ledger.encode({ ops: [7] }).finish(),
        applied: [{ key: "k1", appliedAtMs: 1, replyType: "", reply: new Uint8Array() }],
        reminders: [{ name: "due", dueAtMs: Date.UTC(2030, 0, 1), everyMs: 0 }, { name: "poll", dueAtMs: Date.UTC(2030, 0, 2), everyMs: 60_000 }],
        indexToken: "t",
      });
      await store.write("entities/ledger/r1", record, "absent");
      await store.close();
      const json = JSON.parse((await troupe(["entities", "ledger", "r1", "--state", state, "--topology", LEDGERS, "--json"])).stdout) as Record<string, unknown>;
      expect(json).to.deep.include({ state: { ops: [7] }, idempotencyKeys: 1, reminders: [{ name: "due", dueAt: "2030-01-01T00:00:00.000Z" }, { name: "poll", dueAt: "2030-01-02T00:00:00.000Z", everyMs: 60_000 }] });
      const text = (await troupe(["entities", "ledger", "r1", "--state", state, "--topology", LEDGERS])).stdout;
      expect(text).to.contain("reminders:\n  due  due 2030-01-01T00:00:00.000Z\n  poll  due 2030-01-02T00:00:00.000Z, every 60000 ms").and.contain("idempotency keys kept: 1");
    });

    it("entities: a key that is not stored exits 1 and says where it looked; a bad kind or a missing --state exits 2", async () => {
      const missing = await troupe(["entities", "ledger", "nope", "--state", state]);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.contain("no stored entity ledger/nope").and.contain("entities/ledger/nope");
      const badKind = await troupe(["entities", "led/ger", "--state", state]);
      expect(badKind.code).to.equal(2);
      expect(badKind.stderr).to.contain("invalid entity kind");
      const noState = await troupe(["entities", "ledger"]);
      expect(noState.code).to.equal(2);
      expect(noState.stderr).to.contain("--state URL is required");
    });
  });
});
