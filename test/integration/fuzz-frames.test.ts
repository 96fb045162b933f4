import { expect } from "chai";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ActorSystem, AskFailedError, MemoryStore, connectNats, runJob, type EmbeddedNats, type JobResult } from "../../runtime/index.js";
import { startWorker, type WorkerProcess } from "../../runtime/cli/worker-processes.js";
import { listActors } from "../../runtime/introspection/list-actors.js";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";
import { troupe } from "../../proto/gen/troupe.js";
import { SumResult, SumState, SumTask, expectedSum, sumReducer, sumWorker } from "../fixtures/sum-job.js";
import { eventually } from "../helpers/conditions.js";
import { FuzzInputs, predictHeartbeat, predictInbox, predictLookup, subjectKind, type NodeView, type SubjectKind, type Verdict } from "../helpers/fuzz-frames.js";
import { natsServerFor } from "../helpers/nats.js";
import { SeededRandom } from "../helpers/seeded-random.js";

const SYSTEM = "fuzz";
const ROOT = `troupe.${SYSTEM}`;
const MODULE = `${PROJECT_ROOT}/test/fixtures/sum-topology.ts`;
/** Scale with TROUPE_FUZZ_FRAMES for the long run; replay a run with TROUPE_FUZZ_SEED. */
const FRAMES = Number(process.env.TROUPE_FUZZ_FRAMES ?? 10_000);
/** In-process nodes take frames up to this; the fuzzer's oversized bodies are a little larger. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** The job keeps producing tasks while the fuzzer runs, and at least this many. */
const MIN_TASKS = 2_000;

type Counts = Map<string, number>;
const bump = (counts: Counts, key: string, by = 1): void => void counts.set(key, (counts.get(key) ?? 0) + by);
const sorted = (counts: Counts): Record<string, number> => Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : 1)));

describe("bad input: a seeded fuzzer against a running system (integration: nats-server, a node process)", function () {
  this.timeout(120_000);
  let server: EmbeddedNats;
  let worker: WorkerProcess | undefined;
  let raw: NatsConnection | undefined;
  const nodes: ActorSystem[] = [];
  const workerLog: string[] = [];

  before(async function () {
    server = await natsServerFor(this);
    worker = await startWorker({ system: SYSTEM, nodeId: "p1", servers: [server.url], modulePath: MODULE, log: (line) => workerLog.push(line) });
    for (const [nodeId, kinds] of [["c", []], ["w1", [sumWorker]], ["w2", [sumWorker]]] as const) {
      // Actor lists unlimited here: the fuzzer's bursts would be refused by the rate (its own test is
      // in test/system/live-counters.test.ts), and every frame's fate must be predictable.
      nodes.push(await ActorSystem.start({ name: SYSTEM, nodeId, transport: await connectNats({ servers: server.url }), kinds, types: [SumTask, SumResult], maxMessageBytes: MAX_MESSAGE_BYTES, maxActorListsPerSecond: 1_000_000 }));
    }
    raw = await connect({ servers: server.url, name: "fuzzer" });
  });

  after(async () => {
    await raw?.close();
    await Promise.all(nodes.map((n) => n.shutdown()));
    await worker?.stop();
    await server?.stop();
  });

  it(`fuzz: ${FRAMES} random and mutated frames on every subject of the system; nodes stay up, every frame is a counted dead letter, and a job running meanwhile ends exact`, async () => {
    const seed = SeededRandom.seedFrom("TROUPE_FUZZ_SEED");
    console.log(`      fuzz seed ${seed} (replay: TROUPE_FUZZ_SEED=${seed}), ${FRAMES} frames`);
    const rng = new SeededRandom(seed);
    const [coordinator, w1] = nodes as [ActorSystem, ActorSystem, ActorSystem];
    const nc = raw!;
    await eventually("four nodes, three hosting sum-worker", () => coordinator.nodes().filter((n) => n.kinds.includes("sum-worker")).length === 3, 15_000);

    // A job runs throughout: tasks keep coming while the fuzzer works, so the two overlap whatever the speed.
    const source = { produced: 0, stop: false };
    async function* tasks() {
      while (!source.stop || source.produced < MIN_TASKS) {
        const n = ++source.produced;
        yield { id: `t${n}`, payload: SumTask.create({ n }) };
      }
    }
    const reducer = coordinator.spawn(sumReducer, { name: "sum", props: { store: new MemoryStore(), key: "fuzz/sum", flushEveryMs: 50 } });
    const jobStarted = Date.now();
    const job: Promise<JobResult> = runJob(coordinator, { id: "fuzz", tasks, taskType: SumTask, worker: sumWorker, reducer, workers: 3 });

    // 1. Discover the system's subjects from its traffic, as an outsider with subscribe rights would.
    const seen: Counts = new Map();
    const spy = nc.subscribe(`${ROOT}.>`, { callback: (_error, msg) => bump(seen, msg.subject) });
    await eventually("some job traffic", () => source.produced > 100, 15_000);
    await coordinator.lookup("nobody", { timeoutMs: 100 }); // someone looks a name up
    const { actors: actorReports } = await listActors(coordinator.transport, (node) => coordinator.subjects.actorsOf(node), coordinator.nodes().map((n) => n.node), { waitMs: 300 }); // `troupe actors` runs
    await eventually("traffic on every node's inbox, lookup, actors and heartbeat", () => seen.size >= 7, 15_000);
    spy.unsubscribe();
    const subjects = [...seen.keys()].sort();
    console.log(`      discovered ${subjects.length} subjects: ${subjects.join(", ")}`);
    expect(subjects.map((s) => subjectKind(s, ROOT).kind), "every subject is one docs/wire.md documents").to.not.include("unknown");

    // 2. Fuzz. The oracle decides what each node must make of each body; bodies that would be valid work are refused.
    const realNodes = new Set(["c", "w1", "w2", "p1"]);
    const accounted = new Map(nodes.map((n) => [n.nodeId, n]));
    const p1Paths = new Set(actorReports.filter((a) => a.node === "p1").map((a) => a.path));
    const viewOf = (nodeId: string): NodeView => {
      const system = accounted.get(nodeId);
      const paths = system ? new Set(system.actors().map((a) => a.path)) : p1Paths;
      return {
        prefix: "troupe",
        system: SYSTEM,
        nodeId,
        maxMessageBytes: system?.maxMessageBytes ?? 1024 * 1024,
        // p1 runs the same topology as w1, so it registers the same types.
        typeNamed: (name) => (system ?? w1).registry.typeNamed(name),
        paths,
        isRealNode: (node) => realNodes.has(node),
      };
    };
    const inputs = new FuzzInputs(rng, SYSTEM, MAX_MESSAGE_BYTES);
    const expected = new Map<string, Counts>(nodes.map((n) => [n.nodeId, new Map()]));
    const before = new Map(nodes.map((n) => [n.nodeId, new Map(Object.entries(n.deadLetters.byReason()))]));
    const sent: Counts = new Map();
    const refused: Counts = new Map();
    const expectedReplyAnswers: Counts = new Map();
    const expectedSenderAnswers: Counts = new Map();
    let inboxFrames = 0;
    let bytesSent = 0;

    const replyAnswers: Counts = new Map();
    const senderAnswers: Counts = new Map();
    const answerSub = nc.subscribe("_INBOX.fuzz.>", { callback: (_error, msg) => bump(replyAnswers, msg.subject.split(".").slice(2, 4).join(".")) });
    // Answers to fuzzer "nodes" (any node inbox of any system but this system's real nodes), batched per node: count envelopes.
    const senderSub = nc.subscribe("troupe.*.node.*", {
      callback: (_error, msg) => {
        const [, system, , node] = msg.subject.split(".");
        if (system === SYSTEM && realNodes.has(node!)) return;
        for (const envelope of troupe.wire.Frame.decode(msg.data).envelopes) if (envelope.type === "troupe.system.Failure") bump(senderAnswers, msg.subject);
      },
    });
    await nc.flush();

    const fuzzStarted = Date.now();
    let views = new Map<string, NodeView>();
    for (let i = 0; i < FRAMES; i++) {
      if (i % 500 === 0) views = new Map([...realNodes].map((n) => [n, viewOf(n)]));
      const subject = subjects[i % subjects.length]!;
      const { kind, node } = subjectKind(subject, ROOT);
      const reply = rng.chance(0.3) ? `_INBOX.fuzz.${kind}.${node ?? "all"}.${i}` : undefined;
      let label: string;
      let data: Uint8Array;
      let verdict: Verdict;
      for (;;) {
        ({ label, data } = generate(inputs, kind, views.get(node ?? "") ?? viewOf("c")));
        verdict = predict(kind, data, reply !== undefined, views.get(node ?? ""));
        if (verdict.send) break;
        bump(refused, verdict.why);
      }
      bump(sent, `${kind}:${label}`);
      bytesSent += data.length;
      // Heartbeats reach every node; an inbox frame or an actor-list request only its node; a lookup only the
      // hosts of its name (the one looked up here, "nobody", has none).
      const receivers = kind === "inbox" || kind === "control" || kind === "actors" ? [node!] : kind === "lookup" ? [] : [...accounted.keys()];
      for (const receiver of receivers) {
        const counts = expected.get(receiver);
        if (counts) for (const reason of verdict.letters) bump(counts, reason);
      }
      if (kind === "actors" && reply && realNodes.has(node!)) bump(expectedReplyAnswers, `actors.${node}`, 1);
      if (kind === "inbox" || kind === "control") {
        inboxFrames++;
        if (verdict.replyAnswers > 0) bump(expectedReplyAnswers, `${kind}.${node}`, verdict.replyAnswers);
        for (const to of verdict.senderAnswers) bump(expectedSenderAnswers, to);
      }
      nc.publish(subject, data, reply ? { reply } : undefined);
      if (i % 100 === 99) await nc.flush();
    }
    await nc.flush();
    const fuzzMs = Date.now() - fuzzStarted;

    // 3. Every frame is accounted for on every node: the dead letters by reason are exactly those predicted.
    const delta = (n: ActorSystem): Counts => {
      const was = before.get(n.nodeId)!;
      return new Map(Object.entries(n.deadLetters.byReason()).map(([reason, count]) => [reason, count - (was.get(reason) ?? 0)] as const).filter(([, c]) => c > 0));
    };
    const total = (counts: Counts): number => [...counts.values()].reduce((a, b) => a + b, 0);
    await eventually("every predicted dead letter counted", () => nodes.every((n) => total(delta(n)) >= total(expected.get(n.nodeId)!)), 30_000).catch(() => undefined);
    await eventually("every predicted Failure answer", () => [...expectedSenderAnswers].every(([k, v]) => (senderAnswers.get(k) ?? 0) >= v) && [...expectedReplyAnswers].every(([k, v]) => (replyAnswers.get(k) ?? 0) >= v), 10_000).catch(() => undefined);

    const figures = {
      seed,
      frames: FRAMES,
      inboxFrames,
      megabytes: +(bytesSent / 1e6).toFixed(1),
      fuzzMs,
      sent: sorted(sent),
      refusedAsValidWork: sorted(refused),
      deadLetters: Object.fromEntries(nodes.map((n) => [n.nodeId, sorted(delta(n))])),
      expected: Object.fromEntries([...expected].map(([n, c]) => [n, sorted(c)])),
      failureAnswers: { toReplySubjects: sorted(replyAnswers), expectedToReplySubjects: sorted(expectedReplyAnswers), toSenders: sorted(senderAnswers), expectedToSenders: sorted(expectedSenderAnswers) },
    };
    answerSub.unsubscribe();
    senderSub.unsubscribe();
    for (const n of nodes) expect(sorted(delta(n)), `dead letters on ${n.nodeId} (seed ${seed})`).to.deep.equal(sorted(expected.get(n.nodeId)!));
    for (const [key, count] of expectedReplyAnswers) {
      // The node process answers at most its default 10 actor lists a second: some, never more than asked.
      if (key === "actors.p1") expect(replyAnswers.get(key) ?? 0, `answers on reply subjects, ${key}`).to.be.within(Math.min(count, 1), count);
      else expect(replyAnswers.get(key) ?? 0, `Failure answers on reply subjects, ${key}`).to.equal(count);
    }
    expect(sorted(senderAnswers), "Failure answers to fuzzer senders").to.deep.equal(sorted(expectedSenderAnswers));

    // 4. The nodes stay up: the process is alive, every node answers, membership saw no ghosts.
    expect(worker!.child.exitCode, "p1 process still running").to.equal(null);
    expect(worker!.child.signalCode).to.equal(null);
    for (const [from, to] of [["c", "w1"], ["w1", "w2"], ["w2", "p1"], ["w1", "c"]] as const) {
      const ref = accounted.get(from)!.refFor({ system: SYSTEM, node: to, path: "/user/nobody" });
      const error = await ref.ask(SumTask.create({ n: 1 }), SumResult, { timeoutMs: 5_000 }).then(() => undefined, (e: unknown) => e);
      expect(error, `${to} answers an ask from ${from}`).to.be.instanceOf(AskFailedError);
      expect((error as AskFailedError).reason).to.equal("unknown-target");
    }
    expect(coordinator.nodes().map((n) => n.node)).to.deep.equal(["c", "p1", "w1", "w2"]);

    // 5. The job that ran meanwhile ends exact.
    source.stop = true;
    const result = await job;
    const state = SumState.decode((await reducer.ask(troupe.work.ReducerStateRequest.create(), troupe.work.ReducerState)).state);
    console.log(`      ${JSON.stringify({ ...figures, job: { tasks: source.produced, done: result.done, retried: result.retried, failed: result.failed, durationMs: Date.now() - jobStarted } })}`);
    expect(result).to.include({ done: source.produced, failed: 0 });
    expect({ total: state.total, count: state.count }).to.deep.equal(expectedSum(source.produced));
  });
});

function generate(inputs: FuzzInputs, kind: SubjectKind, view: NodeView): { label: string; data: Uint8Array } {
  switch (kind) {
    case "inbox":
    case "control":
      return inputs.inbox([...view.paths]);
    case "heartbeat":
      return inputs.heartbeat();
    case "lookup":
      return inputs.lookup();
    default:
      return inputs.actors();
  }
}

function predict(kind: SubjectKind, data: Uint8Array, hasReply: boolean, view: NodeView | undefined): Verdict {
  switch (kind) {
    case "inbox":
      return predictInbox(data, hasReply, view!);
    case "control":
      return predictInbox(data, hasReply, view!, true);
    case "heartbeat":
      return predictHeartbeat(data);
    case "lookup":
      return predictLookup(data, hasReply);
    default:
      // The actors subject ignores the body: every node answers a request with its actor list.
      return { send: true, letters: [], replyAnswers: 0, senderAnswers: [] };
  }
}
