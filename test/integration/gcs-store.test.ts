import { expect } from "chai";
import { GcsStore, WRITE_ID_METADATA } from "../../runtime/gcs/gcs-store.js";
import { GenerationConflictError } from "../../runtime/state/state-store.js";
import { updateObject } from "../../runtime/state/update.js";
import { fakeGcsFor, startFakeGcs, startFlakyProxy, type FakeGcs, type FlakyProxy } from "../helpers/fake-gcs.js";
import { decode, rejection, stateStoreContract, text } from "../helpers/state-store-contract.js";



/** The object as the JSON API reports it, read without @google-cloud/storage. */
async function objectResource(gcs: FakeGcs, name: string): Promise<{ name: string; generation: string; metadata?: Record<string, string> }> {
  const response = await fetch(`${gcs.endpoint}/storage/v1/b/${gcs.bucket}/o/${encodeURIComponent(name)}`);
  expect(response.status, `GET ${name}`).to.equal(200);
  return (await response.json()) as { name: string; generation: string; metadata?: Record<string, string> };
}

describe("GCS store on fake-gcs-server", function () {
  let gcs: FakeGcs;
  let prefixes = 0;
  const freshPrefix = (): string => `test-${process.pid}-${++prefixes}`;

  before(async function () {
    gcs = await fakeGcsFor(this);
  });
  after(async function () {
    await gcs?.stop();
  });

  stateStoreContract("gcs store", () => new GcsStore(gcs.bucket, freshPrefix(), { apiEndpoint: gcs.endpoint }));

  it("gcs store: keeps each key as the object <prefix>/<key>, with GCS's generation and the write's id", async function () {
    const prefix = freshPrefix();
    const store = new GcsStore(gcs.bucket, `/${prefix}/`, { apiEndpoint: gcs.endpoint });
    expect(store.description).to.equal(`gs://${gcs.bucket}/${prefix} (at ${gcs.endpoint})`);
    const generation = await store.write("shards/0", text("state"), "absent");
    const resource = await objectResource(gcs, `${prefix}/shards/0`);
    expect(resource.generation).to.equal(generation);
    expect(resource.metadata?.[WRITE_ID_METADATA]).to.match(/^[0-9a-f-]{36}$/);
    // A store with an empty prefix sees the same object under its full name.
    const root = new GcsStore(gcs.bucket, "", { apiEndpoint: gcs.endpoint });
    expect(decode((await root.read(`${prefix}/shards/0`))?.bytes)).to.equal("state");
    expect(await root.list(`${prefix}/`)).to.deep.equal([`${prefix}/shards/0`]);
  });

  it("gcs store: STORAGE_EMULATOR_HOST works in every spelling, for multipart writes, reads and lists", async function () {
    const saved = process.env.STORAGE_EMULATOR_HOST;
    try {
      for (const spelling of [`${gcs.endpoint}/storage/v1`, gcs.endpoint, gcs.endpoint.replace("http://", "")]) {
        process.env.STORAGE_EMULATOR_HOST = spelling;
        const store = new GcsStore(gcs.bucket, freshPrefix());
        const generation = await store.write("k", text(spelling), "absent");
        const read = await store.read("k");
        expect(decode(read?.bytes), spelling).to.equal(spelling);
        expect(read?.generation, spelling).to.equal(generation);
        expect(await store.list(), spelling).to.deep.equal(["k"]);
      }
    } finally {
      if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = saved;
    }
  });

  it("gcs store: two clients racing with updateObject both land all their increments", async function () {
    const prefix = freshPrefix();
    const stores = [0, 1].map(() => new GcsStore(gcs.bucket, prefix, { apiEndpoint: gcs.endpoint }));
    const increments = 25;
    await Promise.all(
      stores.map(async (store, i) => {
        for (let n = 0; n < increments; n++) {
          await updateObject(
            store,
            "counter",
            (current) => {
              const counts = current ? (JSON.parse(decode(current)!) as Record<string, number>) : {};
              counts[`w${i}`] = (counts[`w${i}`] ?? 0) + 1;
              return text(JSON.stringify(counts));
            },
            { maxAttempts: 2 * increments + 2 },
          );
        }
      }),
    );
    expect(JSON.parse(decode((await stores[0]!.read("counter"))?.bytes)!)).to.deep.equal({ w0: increments, w1: increments });
  });

  describe("retries, through a proxy that fails requests", function () {
    let proxy: FlakyProxy;
    let sleeps: number[];
    let store: GcsStore;
    let direct: GcsStore;
    let prefix: string;

    beforeEach(async function () {
      proxy = await startFlakyProxy(gcs.endpoint);
      sleeps = [];
      prefix = freshPrefix();
      const retry = { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000, random: () => 0.5, sleep: async (ms: number) => void sleeps.push(ms) };
      store = new GcsStore(gcs.bucket, prefix, { apiEndpoint: proxy.endpoint, retry });
      direct = new GcsStore(gcs.bucket, prefix, { apiEndpoint: gcs.endpoint });
    });
    afterEach(async function () {
      await proxy?.close();
    });

    it("gcs store: a write retries 503s with growing, jittered delays, and then lands", async function () {
      proxy.plan = ({ index }) => (index < 2 ? { reject: 503 } : "forward");
      const generation = await store.write("k", text("v"), "absent");
      expect(proxy.requests.map((r) => [r.method, r.status])).to.deep.equal([
        ["POST", 503],
        ["POST", 503],
        ["POST", 200],
      ]);
      expect(proxy.requests.every((r) => r.url.includes("uploadType=multipart") && r.url.includes("ifGenerationMatch=0"))).to.equal(true);
      expect(sleeps).to.deep.equal([75, 150]);
      expect((await direct.read("k"))?.generation).to.equal(generation);
    });

    it("gcs store: reads and lists retry 429s and 5xx", async function () {
      await direct.write("a", text("A"), "absent");
      proxy.plan = ({ index }) => (index === 0 ? { reject: 429 } : index === 1 ? { reject: 500 } : "forward");
      expect(decode((await store.read("a"))?.bytes)).to.equal("A");
      proxy.plan = ({ index }) => (index === 3 ? { reject: 502 } : "forward");
      expect(await store.list()).to.deep.equal(["a"]);
      expect(proxy.requests.map((r) => r.status)).to.deep.equal([429, 500, 200, 502, 200]);
      expect(sleeps).to.deep.equal([75, 150, 75]);
    });

    it("gcs store: a 412 is a GenerationConflictError at once, never retried", async function () {
      const generation = await direct.write("k", text("v1"), "absent");
      await direct.write("k", text("v2"), { generation });
      for (const expected of ["absent", { generation }] as const) {
        const before = proxy.requests.length;
        const error = await rejection(store.write("k", text("mine"), expected));
        expect(error).to.be.instanceOf(GenerationConflictError);
        expect(proxy.requests.slice(before).map((r) => r.status)).to.deep.equal([412]);
      }
      expect(sleeps).to.deep.equal([]);
      expect(decode((await direct.read("k"))?.bytes)).to.equal("v2");
    });

    it("gcs store: a write whose response was lost is recognised on retry by its write id", async function () {
      proxy.plan = ({ index }) => (index === 0 ? { loseResponse: 503 } : "forward");
      const generation = await store.write("k", text("mine"), "absent");
      // The upload landed, its answer was lost; the retry met 412 and the metadata showed our write.
      expect(proxy.requests.map((r) => [r.method, r.status])).to.deep.equal([
        ["POST", 503],
        ["POST", 412],
        ["GET", 200],
      ]);
      const current = await direct.read("k");
      expect(current?.generation).to.equal(generation);
      expect(decode(current?.bytes)).to.equal("mine");
    });

    it("gcs store: a lost write that another writer replaced before the retry is reported as a conflict", async function () {
      proxy.plan = ({ index }) => (index === 0 ? { loseResponse: 503 } : "forward");
      const retry = {
        maxAttempts: 3,
        sleep: async () => {
          const landed = await direct.read("k");
          await direct.write("k", text("theirs"), { generation: landed!.generation });
        },
      };
      const racing = new GcsStore(gcs.bucket, prefix, { apiEndpoint: proxy.endpoint, retry });
      expect(await rejection(racing.write("k", text("mine"), "absent"))).to.be.instanceOf(GenerationConflictError);
      expect(decode((await direct.read("k"))?.bytes)).to.equal("theirs");
    });

    it("gcs store: a request that outlives requestTimeoutMs is retried", async function () {
      proxy.plan = ({ index }) => (index === 0 ? "hang" : "forward");
      const reasons: string[] = [];
      const quick = new GcsStore(gcs.bucket, prefix, {
        apiEndpoint: proxy.endpoint,
        requestTimeoutMs: 300,
        retry: { sleep: async () => {}, onRetry: (i) => reasons.push(i.reason) },
      });
      await direct.write("k", text("v"), "absent");
      expect(decode((await quick.read("k"))?.bytes)).to.equal("v");
      expect(reasons).to.deep.equal(["timeout"]);
      expect(proxy.requests.map((r) => r.status)).to.deep.equal([0, 200]);
    });

    it("gcs store: gives up after maxAttempts and passes on the last failure", async function () {
      proxy.plan = () => ({ reject: 503 });
      const error = await rejection(store.write("k", text("v"), "absent"));
      expect((error as { code?: unknown }).code).to.equal(503);
      expect(proxy.requests).to.have.length(4);
      expect(sleeps).to.deep.equal([75, 150, 300]);
    });
  });

  it("gcs store: a refused connection is retried until the server is back", async function () {
    const own = await startFakeGcs({ bucket: "restarting" });
    try {
      await own.stop();
      const reasons: string[] = [];
      const store = new GcsStore(own.bucket, "p", {
        apiEndpoint: own.endpoint,
        retry: {
          maxAttempts: 3,
          onRetry: (info) => reasons.push(info.reason),
          sleep: async () => {
            if (reasons.length === 1) await own.start();
          },
        },
      });
      const generation = await store.write("k", text("v"), "absent");
      expect(reasons).to.deep.equal(["ECONNREFUSED"]);
      expect((await store.read("k"))?.generation).to.equal(generation);
    } finally {
      await own.stop();
    }
  });
});
