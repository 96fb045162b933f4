import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { CountingStore } from "../../runtime/state/counting-store.js";
import { FileStore } from "../../runtime/state/file-store.js";
import { backoffDelayMs, transientReason, withRetry, type RetryInfo } from "../../runtime/gcs/gcs-retry.js";
import { GcsStore, resolveGcsEndpoint } from "../../runtime/gcs/gcs-store.js";
import { MemoryStore } from "../../runtime/state/memory-store.js";
import { InvalidStateUrlError, openStateStore } from "../../runtime/state/open-state-store.js";
import { GenerationConflictError, InvalidKeyError, type Expected, type StateStore } from "../../runtime/state/state-store.js";
import { updateObject } from "../../runtime/state/update.js";
import { decode, rejection, stateStoreContract, text } from "../helpers/state-store-contract.js";


const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "troupe-file-store-"));
  tempDirs.push(dir);
  return dir;
}
after(function () {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});


stateStoreContract("memory store", () => new MemoryStore());
stateStoreContract("file store", () => new FileStore(tempDir()));

describe("file store", function () {
  const generationsOf = (dir: string, key: string): string[] =>
    readdirSync(join(dir, "objects", encodeURIComponent(key))).sort((a, b) => Number(a) - Number(b));

  it("file store: names the directory as a file URL and keeps each generation as one file under objects/<key>", async function () {
    const dir = tempDir();
    const store = new FileStore(dir);
    expect(store.description).to.equal(`file://${dir}`);
    let generation = await store.write("shard/1", text("a"), "absent");
    generation = await store.write("shard/1", text("b"), { generation });
    expect(generation).to.equal("2");
    // Within the retention time superseded generations stay; nothing is left in tmp/.
    expect(generationsOf(dir, "shard/1")).to.deep.equal(["1", "2"]);
    expect(readdirSync(join(dir, "tmp"))).to.deep.equal([]);
  });

  it("file store: deletes a superseded generation once its successor is older than the retention time", async function () {
    const dir = tempDir();
    let now = Date.now();
    const store = new FileStore(dir, { retainSupersededMs: 60_000, now: () => now });
    let generation = await store.write("k", text("1"), "absent");
    generation = await store.write("k", text("2"), { generation });
    generation = await store.write("k", text("3"), { generation });
    expect(generationsOf(dir, "k")).to.deep.equal(["1", "2", "3"]);
    now += 61_000;
    expect(await store.write("k", text("4"), { generation })).to.equal("4");
    // 1, 2 and 3 have successors older than 60 s; 4 is the highest and always stays.
    expect(generationsOf(dir, "k")).to.deep.equal(["4"]);
    expect(decode((await store.read("k"))?.bytes)).to.equal("4");
  });

  it("file store: a stale writer cannot publish below the current generation after old ones were deleted", async function () {
    const dir = tempDir();
    const store = new FileStore(dir, { retainSupersededMs: 0 });
    let generation = await store.write("k", text("1"), "absent");
    const stale = generation;
    generation = await store.write("k", text("2"), { generation });
    generation = await store.write("k", text("3"), { generation });
    expect(generationsOf(dir, "k")).to.deep.equal(["3"]);
    // Name "2" is free again, but generation 1 is not current, so the write conflicts before linking.
    expect(await rejection(store.write("k", text("stale"), { generation: stale }))).to.be.instanceOf(GenerationConflictError);
    expect(await rejection(store.write("k", text("again"), "absent"))).to.be.instanceOf(GenerationConflictError);
    expect(generationsOf(dir, "k")).to.deep.equal(["3"]);
    expect(decode((await store.read("k"))?.bytes)).to.equal("3");
  });

  it("file store: a crash mid-write leaves no torn object, and a later store removes its temp file", async function () {
    const dir = tempDir();
    const before = new FileStore(dir);
    await before.write("k", text("complete"), "absent");
    // What a writer that died before publishing leaves: half a temp file, an empty key directory.
    writeFileSync(join(dir, "tmp", "12345-deadbeef"), "torn");
    mkdirSync(join(dir, "objects", "never-published"));
    const after = new FileStore(dir, { retainSupersededMs: 0 });
    expect(decode((await after.read("k"))?.bytes)).to.equal("complete");
    expect(await after.read("never-published")).to.equal(undefined);
    expect(await after.list()).to.deep.equal(["k"]);
    await after.write("never-published", text("now"), "absent");
    expect(readdirSync(join(dir, "tmp"))).to.deep.equal([]);
    expect(await after.list()).to.deep.equal(["k", "never-published"]);
  });

  it("file store: rejects a key whose encoded file name would exceed 255 bytes", async function () {
    const store = new FileStore(tempDir());
    const error = await rejection(store.write("é".repeat(50), text("x"), "absent"));
    expect(error).to.be.instanceOf(InvalidKeyError);
    expect(error.message).to.contain("300-byte file name");
    await store.write("é".repeat(42), text("x"), "absent");
  });

  it("file store: two processes racing on one key both land all their increments", async function () {
    this.timeout(60_000);
    const dir = tempDir();
    const increments = 100;
    const script = fileURLToPath(new URL("../fixtures/file-store-racer.ts", import.meta.url));
    const racers = ["p1", "p2"].map((id) => startRacer(script, [dir, "race/counter", id, String(increments)]));
    try {
      await Promise.all(racers.map((r) => r.ready));
      for (const r of racers) r.child.stdin!.write("go\n");
      const results = await Promise.all(racers.map((r) => r.done));
      const store = new FileStore(dir);
      expect(JSON.parse(decode((await store.read("race/counter"))?.bytes)!)).to.deep.equal({ p1: increments, p2: increments });
      expect((await store.read("race/counter"))?.generation).to.equal(String(2 * increments));
      const attempts = results.reduce((sum, r) => sum + r.attempts, 0);
      if (process.env.TROUPE_TEST_VERBOSE) console.log(`    ${attempts - 2 * increments} conflicts across the two processes`);
    } finally {
      for (const r of racers) r.child.kill("SIGKILL");
    }
  });
});

interface Racer {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly done: Promise<{ writer: string; attempts: number }>;
}

function startRacer(script: string, args: string[]): Racer {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: PROJECT_ROOT, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
      if (stdout.startsWith("ready\n")) resolve();
    });
    void exited.then((code) => reject(new Error(`racer exited with ${code} before it was ready\n${stderr}`)));
  });
  const done = exited.then((code) => {
    if (code !== 0) throw new Error(`racer ${args[2]} exited with ${code}\n${stderr}`);
    return JSON.parse(stdout.trim().split("\n").at(-1)!) as { writer: string; attempts: number };
  });
  // Either may be left unobserved when the other fails first.
  ready.catch(() => undefined);
  done.catch(() => undefined);
  return { child, ready, done };
}

describe("openStateStore", function () {
  it("openStateStore: memory: gives a new, empty memory store each time", async function () {
    const a = openStateStore("memory:");
    expect(a).to.be.instanceOf(MemoryStore);
    await a.write("k", text("x"), "absent");
    expect(await openStateStore("memory:").list()).to.deep.equal([]);
    expect(a.description).to.equal("memory:");
  });

  it("openStateStore: file:///dir gives a file store in that directory", function () {
    const dir = tempDir();
    const store = openStateStore(`file://${dir}`);
    expect(store).to.be.instanceOf(FileStore);
    expect((store as FileStore).directory).to.equal(dir);
    expect(store.description).to.equal(`file://${dir}`);
  });

  it("openStateStore: gs://bucket/prefix gives a GCS store with objects under the prefix, without any request", function () {
    const store = openStateStore("gs://my-bucket/jobs/run-1/", { gcs: { apiEndpoint: "http://127.0.0.1:9" } });
    expect(store).to.be.instanceOf(GcsStore);
    expect(store.description).to.equal("gs://my-bucket/jobs/run-1 (at http://127.0.0.1:9)");
    expect(openStateStore("gs://my-bucket").description).to.match(/^gs:\/\/my-bucket\//);
  });

  it("openStateStore: a wrong URL is an error that names the accepted forms and never echoes credentials", function () {
    const cases: [string, RegExp][] = [
      ["s3://bucket/prefix", /scheme s3: is not a state store/],
      ["file://relative/dir", /three slashes/],
      ["./state", /not a URL/],
      ["memory:named", /nothing after the colon/],
      ["gs://", /not a bucket name/],
      ["gs://Bad_Bucket/x", /not a bucket name/],
      ["gs://bucket:4443/x", /no port/],
      ["gs://bucket/a//b", /bad prefix: .*empty segment/],
      ["gs://user:secret@bucket/x", /credentials/],
      ["file:///dir?x=1", /query/],
    ];
    for (const [url, reason] of cases) {
      let error: unknown;
      try {
        openStateStore(url);
      } catch (e) {
        error = e;
      }
      expect(error, url).to.be.instanceOf(InvalidStateUrlError);
      const message = (error as Error).message;
      expect(message, url).to.match(reason);
      expect(message, url).to.contain("gs://bucket/prefix").and.contain("file:///absolute/dir").and.contain("memory:");
      expect(message, url).to.not.contain("secret");
    }
  });
});

describe("GCS endpoint and retry policy", function () {
  it("gcs: the endpoint is the explicit option, else STORAGE_EMULATOR_HOST in either spelling, as the API root", function () {
    expect(resolveGcsEndpoint(undefined, undefined)).to.equal(undefined);
    expect(resolveGcsEndpoint(undefined, "http://127.0.0.1:4443/storage/v1")).to.equal("http://127.0.0.1:4443");
    expect(resolveGcsEndpoint(undefined, "http://127.0.0.1:4443/")).to.equal("http://127.0.0.1:4443");
    expect(resolveGcsEndpoint(undefined, "localhost:4443")).to.equal("http://localhost:4443");
    expect(resolveGcsEndpoint("https://gcs.internal:8443/storage/v1/", "http://127.0.0.1:4443")).to.equal("https://gcs.internal:8443");
    expect(() => resolveGcsEndpoint("127.0.0.1:4443", undefined)).to.throw(/must start with http/);
  });

  it("gcs: 429, 5xx, broken connections and timeouts are transient; 412, 404 and other errors are not", function () {
    expect(transientReason({ code: 429 })).to.equal("HTTP 429");
    expect(transientReason({ code: 503 })).to.equal("HTTP 503");
    expect(transientReason(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).to.equal("ECONNREFUSED");
    expect(transientReason(new Error("socket hang up"))).to.equal("socket hang up");
    expect(transientReason(Object.assign(new Error("network timeout at: http://x"), { type: "request-timeout" }))).to.equal("timeout");
    for (const error of [{ code: 412 }, { code: 404 }, { code: 400 }, new Error("boom"), new GenerationConflictError("k", "absent")]) {
      expect(transientReason(error)).to.equal(undefined);
    }
  });

  it("gcs: backoff doubles from the initial delay up to the maximum, with half of it jittered", function () {
    const options = { initialDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, { ...options, random: () => 0 }))).to.deep.equal([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, { ...options, random: () => 0.999999 }))).to.deep.equal([100, 200, 400, 800, 1000]);
  });

  it("gcs: withRetry retries transient failures up to maxAttempts, waiting through the injected sleep", async function () {
    const sleeps: number[] = [];
    const retries: RetryInfo[] = [];
    let calls = 0;
    const options = {
      maxAttempts: 4,
      initialDelayMs: 10,
      random: () => 0.5,
      sleep: async (ms: number) => void sleeps.push(ms),
      onRetry: (i: RetryInfo) => void retries.push(i),
    };
    const result = await withRetry(
      "op",
      async () => {
        if (++calls < 3) throw Object.assign(new Error("injected"), { code: calls === 1 ? 503 : 429 });
        return "ok";
      },
      options,
    );
    expect(result).to.equal("ok");
    expect(sleeps).to.deep.equal([8, 15]);
    expect(retries.map((r) => r.reason)).to.deep.equal(["HTTP 503", "HTTP 429"]);

    calls = 0;
    const error = await rejection(withRetry("op", async () => Promise.reject(Object.assign(new Error(`fail ${++calls}`), { code: 500 })), options));
    expect(error.message).to.equal("fail 4");
    expect(calls).to.equal(4);
  });

  it("gcs: withRetry never retries a conflict or any other answer", async function () {
    for (const failure of [new GenerationConflictError("k", { generation: "5" }), Object.assign(new Error("precondition"), { code: 412 }), new Error("bad")]) {
      let calls = 0;
      const sleeps: number[] = [];
      await rejection(withRetry("op", async () => Promise.reject(failure).finally(() => calls++), { sleep: async (ms) => void sleeps.push(ms) }));
      expect(calls).to.equal(1);
      expect(sleeps).to.deep.equal([]);
    }
  });
});

describe("CountingStore", function () {
  it("counting store: records each write per key with its time and outcome", async function () {
    let now = 1_000;
    const store = new CountingStore(new MemoryStore(), { now: () => now });
    const generation = await store.write("a", text("1"), "absent");
    now += 400;
    await rejection(store.write("a", text("2"), "absent"));
    now += 700;
    await store.write("a", text("3"), { generation });
    await store.write("b", text("1"), "absent");
    expect(store.writesTo("a").map((r) => [r.atMs, r.outcome])).to.deep.equal([
      [1_000, "written"],
      [1_400, "conflict"],
      [2_100, "written"],
    ]);
    expect(store.keysWritten()).to.deep.equal(["a", "b"]);
    expect(store.totalWrites).to.equal(4);
    expect(store.description).to.equal("memory:");
  });

  it("counting store: maxWritesWithin finds the busiest window, so 'at most one write per second' is checkable", async function () {
    let now = 0;
    const store = new CountingStore(new MemoryStore(), { now: () => now });
    let expected: Expected = "absent";
    for (const at of [0, 1_000, 2_000, 2_500, 2_999, 4_500]) {
      now = at;
      expected = { generation: await store.write("k", text(String(at)), expected) };
    }
    expect(store.maxWritesWithin("k")).to.equal(3); // 2000, 2500, 2999
    expect(store.maxWritesWithin("k", 500)).to.equal(2); // 2500, 2999
    expect(store.maxWritesWithin("unknown")).to.equal(0);
    store.reset();
    expect(store.totalWrites).to.equal(0);
  });
});

describe("updateObject", function () {
  it("update: applies the function to the current bytes, creating the object when it is absent", async function () {
    const store = new MemoryStore();
    const first = await updateObject(store, "k", (current) => text(`${decode(current) ?? ""}a`));
    const second = await updateObject(store, "k", (current) => text(`${decode(current) ?? ""}b`));
    expect(decode(second.bytes)).to.equal("ab");
    expect([first.attempts, second.attempts]).to.deep.equal([1, 1]);
    expect((await store.read("k"))?.generation).to.equal(second.generation);
  });

  it("update: on a conflict it reloads and applies the function again to the newer bytes", async function () {
    const store = new InterferingStore(new MemoryStore(), 2);
    await store.inner.write("k", text("0"), "absent");
    const seen: (string | undefined)[] = [];
    const result = await updateObject(store, "k", (current) => {
      seen.push(decode(current));
      return text(String(Number(decode(current)) + 1));
    });
    // Two competing writes (+100 each) got in before ours did.
    expect(seen).to.deep.equal(["0", "100", "200"]);
    expect(result.attempts).to.equal(3);
    expect(decode((await store.read("k"))?.bytes)).to.equal("201");
  });

  it("update: gives up after maxAttempts with a GenerationConflictError that says so", async function () {
    const store = new InterferingStore(new MemoryStore(), Infinity);
    let calls = 0;
    const error = await rejection(updateObject(store, "k", () => (calls++, text("x")), { maxAttempts: 3 }));
    expect(error).to.be.instanceOf(GenerationConflictError);
    expect(error.message).to.contain("gave up after 3 attempts");
    expect(calls).to.equal(3);
  });

  it("update: any other failure is passed on at once", async function () {
    const store = new MemoryStore();
    await store.close();
    expect((await rejection(updateObject(store, "k", () => text("x")))).message).to.contain("closed");
  });
});

/** A store where another writer gets in (+100) between each of the first `times` reads and their writes. */
class InterferingStore implements StateStore {
  readonly description = "interfering";
  constructor(
    readonly inner: StateStore,
    private times: number,
  ) {}
  async read(key: string) {
    const current = await this.inner.read(key);
    if (this.times-- > 0) {
      const value = Number(decode(current?.bytes) ?? "0") + 100;
      await this.inner.write(key, text(String(value)), current ? { generation: current.generation } : "absent");
    }
    return current;
  }
  write(key: string, bytes: Uint8Array, expected: Expected) {
    return this.inner.write(key, bytes, expected);
  }
  list(prefix?: string) {
    return this.inner.list(prefix);
  }
  close() {
    return this.inner.close();
  }
}
