// Entity benchmarks (docs/entities.md, docs/benchmarks.md): host nodes are `troupe node` processes
// (bench/entity-hosts.ts) with their state in fake-gcs-server; this process is a client node.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { ActorSystem, CountingStore, connectNats, rendezvous, type ActorRef } from "../runtime/index.js";
import { GcsStore } from "../runtime/gcs/index.js";
import { startFakeGcsServer, type FakeGcsServer } from "../runtime/gcs/fake-gcs-server.js";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { Add, Get, Total } from "../examples/custom-actor/counter.js";
import { alternate, within, type BenchContext, type Benchmark, type Figure } from "./benchmark.js";
import { benchCounter } from "./entity-hosts.js";
import { median, nowMs } from "./stats.js";

const BIN = join(PROJECT_ROOT, "bin", "troupe.mjs");
const MODULE = join(PROJECT_ROOT, "bench", "entity-hosts.ts");
const KIND = "entity.bench-counter";
const IN_FLIGHT = 64;

/** A `troupe node` process hosting the bench entities. */
interface Host {
  readonly id: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

async function startHost(id: string, system: string, natsUrl: string, gcs: FakeGcsServer, prefix: string, execArgv: readonly string[] = []): Promise<Host> {
  const env = { ...process.env, NATS_URL: natsUrl, TROUPE_CLI_FROM_SOURCE: "1", STORAGE_EMULATOR_HOST: gcs.endpoint, ENTITY_BENCH_STATE: `gs://${gcs.bucket}/${prefix}` };
  const child = spawn(process.execPath, [...execArgv, BIN, "node", "--system", system, "--node-id", id, "--module", MODULE, "--exit-with-stdin"], { env, stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4_000)));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => line.includes('"event":"ready"') && resolve());
    void exited.then(() => reject(new Error(`host ${id} exited before it was ready:\n${stderr}`)));
  });
  await within(ready, 60_000, () => `host ${id} starting`);
  return {
    id,
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  await within(
    (async () => {
      while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    timeoutMs,
    () => what,
  );
}

/** Runs `n` asks, `inFlight` at a time; resolves with asks per second. */
async function askRate(ask: (i: number) => Promise<unknown>, n: number, inFlight: number): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await ask(next++);
  };
  const started = nowMs();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return n / ((nowMs() - started) / 1000);
}

/** The median of `n` sequential asks' latencies, in ms. */
async function latencies(ask: (i: number) => Promise<unknown>, n: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = nowMs();
    await ask(i);
    samples.push(nowMs() - started);
  }
  return median(samples);
}

/**
 * Four figures, each beside a baseline measured in the same run: the first message to a stored
 * entity (activation: a GCS read) vs a plain remote ask; asks/s to 10,000 entities on 3 nodes vs asks
 * to plain actors on the same nodes; the write rate of one hot entity object with `writeEveryMs: 1000`;
 * and the time for an entity whose node is SIGKILLed to answer from its new owner vs the time to
 * detect the loss.
 */
export const entityBenchmarks: Benchmark = {
  name: "entities",
  async run(ctx) {
    const { nats } = await ctx.remote();
    const gcs = await startFakeGcsServer({ bucket: "bench-entities" });
    const system = `bench-entities-${randomBytes(3).toString("hex")}`;
    const hosts: Host[] = [];
    let client: ActorSystem | undefined;
    try {
      const start = (id: string): Promise<Host> => startHost(id, system, nats.url, gcs, "run", ctx.childExecArgv);
      hosts.push(...(await Promise.all(["h1", "h2", "h3"].map(start))));
      client = await ActorSystem.start({ name: system, nodeId: "client", transport: await connectNats({ servers: nats.url }), types: [Add, Get, Total] });
      const c = client;
      const hostsSeen = (): string[] => c.nodes().filter((n) => n.kinds.includes(KIND)).map((n) => n.node);
      await until("the client seeing 3 hosts", () => hostsSeen().length === 3);
      const echoes: ActorRef<any>[] = hosts.map((h) => c.refFor({ system, node: h.id, path: "/user/echo" }));
      const entity = (key: string) => c.entityRef(benchCounter, key);
      return [
        await activation(ctx, c, gcs, echoes),
        await manyEntities(ctx, c, echoes, entity),
        await writeRate(ctx, gcs),
        await moveAnswer(ctx, c, hosts, start, hostsSeen),
      ];
    } finally {
      await client?.shutdown();
      await Promise.all(hosts.map((h) => h.stop()));
      await gcs.stop();
    }
  },
};

/** First message to an entity stored in fake-gcs-server, never active before: its activation reads the object. */
async function activation(ctx: BenchContext, client: ActorSystem, gcs: FakeGcsServer, echoes: readonly ActorRef<any>[]): Promise<Figure> {
  const n = ctx.quick ? 30 : 100;
  // Every key a round will activate is stored beforehand, as an entity written on an earlier day would be.
  const store = new GcsStore(gcs.bucket, "run", { apiEndpoint: gcs.endpoint });
  let round = 0;
  const runs = await alternate(
    ctx,
    "entity-activation",
    () => latencies((i) => echoes[i % echoes.length]!.ask(Get.create(), Total, { timeoutMs: 10_000 }), n),
    async () => {
      const r = round++;
      const keys = Array.from({ length: n }, (_, i) => `act-${r}-${i}`);
      await Promise.all(keys.map((key) => store.write(`entities/bench-counter/${key}`, Total.encode({ value: 1 }).finish(), "absent")));
      return latencies(async (i) => {
        const total = await client.entityRef(benchCounter, keys[i]!).ask(Get.create(), Total, { timeoutMs: 10_000 });
        if (total.value !== 1) throw new Error(`entity ${keys[i]} loaded ${total.value}, not the stored 1`);
      }, n);
    },
    { show: (ms) => `${ms.toFixed(2)} ms` },
  );
  await store.close();
  return { name: "entity-activation", value: median(runs.troupe), unit: "ms", baseline: "plain remote ask (same nodes)", baselineValue: median(runs.baseline), target: { op: "record" } };
}

/** Get (no write) to 10,000 active entities over 3 nodes, 64 in flight, vs the same asks to one plain actor per node. */
async function manyEntities(ctx: BenchContext, client: ActorSystem, echoes: readonly ActorRef<any>[], entity: (key: string) => ReturnType<ActorSystem["entityRef"]>): Promise<Figure> {
  const keys = Array.from({ length: 10_000 }, (_, i) => `many-${i}`);
  const refs = keys.map((key) => entity(key));
  const n = ctx.quick ? 10_000 : 30_000;
  ctx.log("  entity-asks-10k: activating 10,000 entities");
  await askRate((i) => refs[i]!.ask(Get.create(), Total, { timeoutMs: 30_000 }), keys.length, IN_FLIGHT);
  const spread = (i: number): number => (i * 7_919) % keys.length;
  const runs = await alternate(
    ctx,
    "entity-asks-10k",
    (warmup) => askRate((i) => echoes[i % echoes.length]!.ask(Get.create(), Total, { timeoutMs: 30_000 }), warmup ? n / 4 : n, IN_FLIGHT),
    (warmup) => askRate((i) => refs[spread(i)]!.ask(Get.create(), Total, { timeoutMs: 30_000 }), warmup ? n / 4 : n, IN_FLIGHT),
  );
  return { name: "entity-asks-10k", value: median(runs.troupe), unit: "asks/s", baseline: "remote asks to plain actors, 64 in flight", baselineValue: median(runs.baseline), target: { op: "record" } };
}

/**
 * One hot entity in fake-gcs-server with `writeEveryMs: 1000`, under 64 asks in flight that each change
 * it: the highest write rate of its object (1000 / the shortest gap between two writes), beside the
 * rate of asks it answered meanwhile (all coalesced into those writes). Hosted here, to count writes.
 */
async function writeRate(ctx: BenchContext, gcs: FakeGcsServer): Promise<Figure> {
  const store = new CountingStore(new GcsStore(gcs.bucket, "hot", { apiEndpoint: gcs.endpoint }));
  const transport = (await ctx.remote()).nats.url;
  const node = await ActorSystem.start({ name: `bench-hot-${randomBytes(3).toString("hex")}`, nodeId: "hot", transport: await connectNats({ servers: transport }), entities: [{ definition: benchCounter, store, writeEveryMs: 1_000 }] });
  try {
    const hot = node.entityRef(benchCounter, "hot");
    const seconds = ctx.quick ? 3 : 6;
    let asks = 0;
    const started = nowMs();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (nowMs() - started < seconds * 1000) {
          await hot.ask(Add.create({ amount: 1 }), Total, { timeoutMs: 10_000 });
          asks++;
        }
      }),
    );
    const elapsedS = (nowMs() - started) / 1000;
    const times = store.writesTo("entities/bench-counter/hot").map((w) => w.atMs);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    const worst = gaps.length === 0 ? 0 : 1000 / Math.min(...gaps);
    ctx.log(`  entity-writes-per-second: ${times.length} writes, ${asks} asks in ${elapsedS.toFixed(1)} s; shortest gap ${Math.min(...gaps).toFixed(0)} ms; most in any second: ${store.maxWritesWithin("entities/bench-counter/hot")}`);
    return { name: "entity-writes-per-second", value: worst, unit: "writes/s", baseline: "asks answered per second", baselineValue: asks / elapsedS, target: { op: "<=", value: 1 } };
  } finally {
    await node.shutdown();
    await store.close();
  }
}

/**
 * SIGKILL of the node holding an active entity, then a Get every 20 ms (each with a 1 s timeout) until
 * one is answered by the new owner: the time from the kill to that answer, beside the time from the
 * kill until this node's membership reported the loss. A new host replaces the killed one each round.
 */
async function moveAnswer(ctx: BenchContext, client: ActorSystem, hosts: Host[], start: (id: string) => Promise<Host>, hostsSeen: () => string[]): Promise<Figure> {
  const rounds = ctx.quick ? 2 : Math.min(ctx.reps, 4);
  const answered: number[] = [];
  const detected: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const victim = hosts[hosts.length - 1]!;
    const ids = hosts.map((h) => h.id);
    let i = 0;
    while (rendezvous("bench-counter", `move-${round}-${i}`, ids) !== victim.id) i++;
    const key = `move-${round}-${i}`;
    const ref = client.entityRef(benchCounter, key);
    await ref.ask(Add.create({ amount: 1 }), Total, { timeoutMs: 10_000 });
    let lostAt = 0;
    const off = client.onEvent((e) => {
      if (e.type === "membership" && e.event.type === "lost" && e.event.node.node === victim.id) lostAt = nowMs();
    });
    const killedAt = nowMs();
    victim.child.kill("SIGKILL");
    let answeredAt = 0;
    while (answeredAt === 0) {
      void ref.ask(Get.create(), Total, { timeoutMs: 1_000 }).then(
        (total) => {
          if (total.value !== 1) throw new Error(`the moved entity answered ${total.value}, not its stored 1`);
          answeredAt ||= nowMs();
        },
        () => undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (nowMs() - killedAt > 20_000) throw new Error(`entity ${key} did not answer within 20 s of its node's loss`);
    }
    off();
    answered.push(answeredAt - killedAt);
    detected.push((lostAt || answeredAt) - killedAt);
    ctx.log(`  entity-move-answer: round ${round}/${rounds}: answered after ${Math.round(answeredAt - killedAt)} ms, loss detected after ${Math.round(lostAt - killedAt)} ms`);
    await victim.stop();
    hosts.pop();
    const replacement = await start(`h3-${round}`);
    hosts.push(replacement);
    await until("the replacement host being seen", () => hostsSeen().includes(replacement.id));
  }
  return { name: "entity-move-answer", value: median(answered), unit: "ms", baseline: "node loss detection (same kills)", baselineValue: median(detected), target: { op: "record" } };
}
