import { addressFromWire } from "../../runtime/address.js";
import type { MessageType } from "../../runtime/codec/message-type.js";
import { isControlMessageType } from "../../runtime/codec/system-messages.js";
import type { DeadLetterReason } from "../../runtime/dead-letters.js";
import { decodeHeartbeat } from "../../runtime/membership/heartbeat.js";
import { troupe } from "../../proto/gen/troupe.js";
import { troupe as examples } from "../../proto/gen/examples/sum.js";
import type { SeededRandom } from "./seeded-random.js";

/**
 * Bad input for a running Troupe system, and what a node should make of it. The generators make
 * random and mutated bodies for each kind of subject (node inbox, lookup, heartbeat, actors); the
 * `predict*` functions say, independently of the runtime's delivery code, which dead letters a body
 * must produce, using only the generated protobuf classes (`troupe.wire.Frame`) and the node's
 * registered types. A body that would be valid input to a real actor (it decodes, its type is known and
 * its target exists) is refused, so the fuzzer never sends real work and every sent frame must end as
 * counted dead letters.
 */

const { Frame } = troupe.wire;
const { LookupRequest } = troupe.system;
const { NodeHeartbeat } = troupe.membership;
const { SumTask, SumResult } = examples.examples.sum;

export type SubjectKind = "inbox" | "control" | "lookup" | "heartbeat" | "actors" | "unknown";

/** What a subject of `<root>.` is, by docs/wire.md. */
export function subjectKind(subject: string, root: string): { kind: SubjectKind; node?: string } {
  const rest = subject.startsWith(`${root}.`) ? subject.slice(root.length + 1) : undefined;
  // A name's lookup subject: only the nodes hosting that name receive it.
  if (rest !== undefined && /^name\.[A-Za-z0-9_~-][A-Za-z0-9_~-]*$/.test(rest)) return { kind: "lookup" };
  const actors = rest === undefined ? null : /^actors\.([A-Za-z0-9_-]{1,64})$/.exec(rest);
  if (actors) return { kind: "actors", node: actors[1]! };
  if (rest === "membership.heartbeat") return { kind: "heartbeat" };
  const inbox = rest === undefined ? null : /^node\.([A-Za-z0-9_-]{1,64})$/.exec(rest);
  if (inbox) return { kind: "inbox", node: inbox[1]! };
  const control = rest === undefined ? null : /^control\.([A-Za-z0-9_-]{1,64})$/.exec(rest);
  if (control) return { kind: "control", node: control[1]! };
  return { kind: "unknown" };
}

/** The receiving node as the oracle needs to see it. */
export interface NodeView {
  /** The subject prefix, e.g. "troupe". */
  readonly prefix: string;
  readonly system: string;
  readonly nodeId: string;
  readonly maxMessageBytes: number;
  typeNamed(name: string): MessageType | undefined;
  /** Paths of the actors running on the node. */
  readonly paths: ReadonlySet<string>;
  /** A node of the system (a Failure sent to one of its /temp/ paths could settle a real ask). */
  isRealNode(node: string): boolean;
}

export type Verdict =
  | { readonly send: false; readonly why: string }
  | {
      readonly send: true;
      /** Dead letters the body must produce on each node that receives it. */
      readonly letters: readonly DeadLetterReason[];
      /** `Failure` answers published to the NATS reply subject: at most one per frame (docs/wire.md, "Replies and asks"). */
      readonly replyAnswers: number;
      /** `Failure` answers sent to the envelopes' `sender` addresses, as the subject they go to. */
      readonly senderAnswers: readonly string[];
    };

/**
 * What a node must do with `data` arriving on its data inbox, or with `controlPlane` its control inbox
 * (see runtime/remote-endpoint.ts, docs/wire.md "Bad input"): a type of the other plane is refused
 * before its payload is decoded.
 */
export function predictInbox(data: Uint8Array, hasReply: boolean, view: NodeView, controlPlane = false): Verdict {
  if (data.length > view.maxMessageBytes) return { send: true, letters: ["oversized"], replyAnswers: 0, senderAnswers: [] };
  let envelopes: troupe.wire.Envelope.$Properties[];
  try {
    envelopes = Frame.decode(data).envelopes;
  } catch {
    return { send: true, letters: ["malformed-frame"], replyAnswers: 0, senderAnswers: [] };
  }
  if (envelopes.length === 0) return { send: true, letters: ["malformed-frame"], replyAnswers: 0, senderAnswers: [] };
  const letters: DeadLetterReason[] = [];
  let replyAnswers = 0;
  const senderAnswers: string[] = [];
  for (const e of envelopes) {
    const sender = addressFromWire(e.sender);
    if (sender && sender.system === view.system && view.isRealNode(sender.node)) return { send: false, why: "sender is a real node" };
    const type = view.typeNamed(e.type ?? "");
    let reason: DeadLetterReason;
    if (type === undefined) {
      reason = "unknown-type";
    } else if (isControlMessageType(type) !== controlPlane) {
      reason = "wrong-plane";
    } else {
      const message = tryDecode(type, e.payload ?? new Uint8Array(0));
      if (message === undefined) {
        reason = "malformed-payload";
      } else {
        const path = e.target ?? "";
        if (controlPlane) return { send: false, why: "decodes as a control message" };
        if (path.startsWith("/temp/")) return { send: false, why: "decodes as a reply to an ask" };
        if (view.paths.has(path)) return { send: false, why: "decodes as a message to a real actor" };
        reason = "unknown-target";
      }
    }
    letters.push(reason);
    // The node answers a request it cannot handle: to the sender when it is an asker (each its own
    // ask), else to the reply subject, which gets one Failure per frame however many envelopes fail.
    if (sender) {
      if (sender.path.startsWith("/temp/") || sender.path.startsWith("/reply/")) senderAnswers.push(`${view.prefix}.${sender.system}.node.${sender.node}`);
    } else if (hasReply) {
      replyAnswers = 1;
    }
  }
  // The generators stay within the node's frame limits (at most 20 envelopes; at most 20 headers, under
  // 14 KB), so `too-many-envelopes` and `headers-over-limit` are not predicted here;
  // test/integration/hostile-budgets.test.ts covers them.
  return { send: true, letters, replyAnswers, senderAnswers };
}

function tryDecode(type: MessageType, bytes: Uint8Array): object | undefined {
  try {
    return type.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Garbage on the heartbeat subject: a `malformed-frame` dead letter on every node; a valid heartbeat is never sent. */
export function predictHeartbeat(data: Uint8Array): Verdict {
  return decodeHeartbeat(data).ok ? { send: false, why: "a valid heartbeat" } : { send: true, letters: ["malformed-frame"], replyAnswers: 0, senderAnswers: [] };
}

/** On the lookup subject only requests (with a reply subject) are read; one that is not a LookupRequest is a dead letter. */
export function predictLookup(data: Uint8Array, hasReply: boolean): Verdict {
  if (!hasReply) return { send: true, letters: [], replyAnswers: 0, senderAnswers: [] };
  try {
    LookupRequest.decode(data);
    return { send: true, letters: [], replyAnswers: 0, senderAnswers: [] };
  } catch {
    return { send: true, letters: ["malformed-frame"], replyAnswers: 0, senderAnswers: [] };
  }
}

// ---- generators ----

/** Names registered on every node of a sum job, used with bad payloads or fake targets. */
const REGISTERED: readonly { name: string; sample: () => Uint8Array }[] = [
  { name: "troupe.examples.sum.SumTask", sample: () => SumTask.encode({ n: 7 }).finish() },
  { name: "troupe.examples.sum.SumResult", sample: () => SumResult.encode({ n: 7, square: 49 }).finish() },
  { name: "troupe.work.TaskResult", sample: () => troupe.work.TaskResult.encode({ jobId: "fuzz", taskId: "t1", resultType: "troupe.examples.sum.SumResult", result: SumResult.encode({ n: 1, square: 1 }).finish() }).finish() },
  { name: "troupe.system.Failure", sample: () => troupe.system.Failure.encode({ reason: "fuzz", message: "fuzz" }).finish() },
  { name: "troupe.system.LookupRequest", sample: () => LookupRequest.encode({ name: "sum" }).finish() },
  { name: "troupe.ActorAddress", sample: () => troupe.ActorAddress.encode({ system: "x", node: "y", path: "/z" }).finish() },
  { name: "troupe.system.Watch", sample: () => troupe.system.Watch.encode({}).finish() },
  { name: "troupe.system.SpawnRequest", sample: () => troupe.system.SpawnRequest.encode({ kind: "sum-worker" }).finish() },
];

/** A sampled trace context in binary (Envelope field 6): version 0, field ids 0, 1, 2, non-zero ids. */
const VALID_TRACE_CONTEXT = Uint8Array.from([0, 0, ...Array.from({ length: 16 }, (_, i) => i + 1), 1, ...Array.from({ length: 8 }, (_, i) => i + 17), 2, 1]);

const WRONG_TYPES = ["acme.Nope", "", "troupe.examples.sum.SumTaskX", "Troupe.Examples.Sum.SumTask", "troupe.examples.sum.", ".troupe.examples.sum.SumTask", "troupe.wire.Frame", "🎭.Actor", "x".repeat(5000), "troupe.examples.sum.SumTask\u0000"];

/** Random and mutated bodies; every generator returns a label (for the report) and the bytes. */
export class FuzzInputs {
  constructor(
    private readonly rng: SeededRandom,
    private readonly system: string,
    /** Oversized bodies are a little over this. */
    private readonly maxMessageBytes: number,
  ) {}

  inbox(realPaths: readonly string[]): { label: string; data: Uint8Array } {
    const r = this.rng;
    const label = r.weighted<string>([
      [12, "random"],
      [4, "empty"],
      [12, "truncated"],
      [18, "mutated"],
      [10, "wrong-type"],
      [12, "garbage-payload"],
      [6, "valid-envelope-unknown-target"],
      [10, "absurd-length"],
      [2, "deep-nesting"],
      [1, "oversized"],
      [8, "multi-envelope"],
      [5, "garbage-headers"],
    ]);
    return { label, data: this.inboxOf(label, realPaths) };
  }

  heartbeat(): { label: string; data: Uint8Array } {
    const r = this.rng;
    const base = (): Uint8Array =>
      NodeHeartbeat.encode({ node: r.pick(["ghost", "bad.node", "", "x".repeat(65), "sp ace", "ghost-2"]), incarnation: r.chance(0.5) ? "" : "i1", startedAtMs: r.pick([0, NaN, Infinity, Date.now()]), kinds: ["sum-worker"], actorCount: r.int(10), intervalMs: 500, leaving: r.chance(0.2) }).finish();
    const label = r.weighted<string>([[3, "random"], [3, "truncated"], [4, "mutated"], [3, "invalid-fields"], [2, "absurd-length"]]);
    const data = label === "random" ? r.bytes(r.length(300)) : label === "truncated" ? truncate(r, base()) : label === "mutated" ? mutate(r, base()) : label === "invalid-fields" ? base() : absurdLength(r);
    return { label, data };
  }

  lookup(): { label: string; data: Uint8Array } {
    const r = this.rng;
    const base = (): Uint8Array => LookupRequest.encode({ name: r.pick(["sum", "ghost", "", "../etc", "x".repeat(300)]) }).finish();
    const label = r.weighted<string>([[3, "random"], [3, "truncated"], [3, "mutated"], [3, "absurd-length"]]);
    const data = label === "random" ? r.bytes(r.length(300)) : label === "truncated" ? truncate(r, base()) : label === "mutated" ? mutate(r, base()) : absurdLength(r);
    return { label, data };
  }

  actors(): { label: string; data: Uint8Array } {
    return { label: "random", data: this.rng.bytes(this.rng.length(300)) };
  }

  private inboxOf(label: string, realPaths: readonly string[]): Uint8Array {
    const r = this.rng;
    switch (label) {
      case "random":
        return r.bytes(r.length(2_000));
      case "empty":
        return r.pick([new Uint8Array(0), Uint8Array.of(0x0a, 0x00), Uint8Array.of(0x0a, 0x00, 0x0a, 0x00), Uint8Array.of(0x00)]);
      case "truncated":
        return truncate(r, this.frame(this.envelopes(realPaths, 1 + r.int(3))));
      case "mutated":
        return mutate(r, this.frame(this.envelopes(realPaths, 1 + r.int(3))));
      case "wrong-type":
        return this.frame([{ ...this.envelope(realPaths), type: r.chance(0.3) ? randomName(r) : r.pick(WRONG_TYPES) }]);
      case "garbage-payload":
        return this.frame([{ ...this.envelope(realPaths), type: r.pick(REGISTERED).name, payload: r.chance(0.5) ? r.bytes(r.length(200)) : absurdLength(r) }]);
      case "valid-envelope-unknown-target":
        return this.frame([{ ...this.envelope(realPaths), target: fakePath(r) }]);
      case "absurd-length":
        return absurdLength(r);
      case "deep-nesting":
        return deepNesting(r);
      case "oversized":
        return r.chance(0.5)
          ? r.bytes(this.maxMessageBytes + 1 + r.int(16_384))
          : this.frame([{ ...this.envelope(realPaths), payload: r.bytes(this.maxMessageBytes + r.int(16_384)) }]);
      case "multi-envelope":
        return concat(...Array.from({ length: 2 + r.int(19) }, () => this.frame([this.badEnvelope(realPaths)])));
      case "garbage-headers": {
        const headers: Record<string, string> = {};
        for (let i = r.int(20); i > 0; i--) headers[randomName(r)] = String.fromCharCode(...Array.from({ length: r.length(200) }, () => r.int(0xd7ff)));
        return this.frame([{ ...this.badEnvelope(realPaths), headers }]);
      }
      default:
        throw new Error(`no generator ${label}`);
    }
  }

  /** An envelope whose delivery must fail: unknown type, bad payload, or a fake target. */
  private badEnvelope(realPaths: readonly string[]): troupe.wire.IEnvelope {
    const r = this.rng;
    const e = this.envelope(realPaths);
    return r.weighted<troupe.wire.IEnvelope>([
      [1, { ...e, type: r.pick(WRONG_TYPES) }],
      [1, { ...e, type: r.pick(REGISTERED).name, payload: r.bytes(1 + r.length(64)) }],
      [1, { ...e, target: fakePath(r) }],
    ]);
  }

  /** A well-formed envelope with a registered type and a valid payload, to a real or a fake target. */
  private envelope(realPaths: readonly string[]): troupe.wire.IEnvelope {
    const r = this.rng;
    const registered = r.pick(REGISTERED);
    return {
      target: realPaths.length > 0 && r.chance(0.4) ? r.pick(realPaths) : fakePath(r),
      type: registered.name,
      payload: registered.sample(),
      sender: this.sender(),
      headers: r.chance(0.2) ? { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } : {},
      // A binary trace context, well-formed or not (a malformed one is ignored: no dead letter).
      ...(r.chance(0.2) ? { traceContext: r.chance(0.5) ? VALID_TRACE_CONTEXT : r.bytes(r.length(40)) } : {}),
    };
  }

  private envelopes(realPaths: readonly string[], n: number): troupe.wire.IEnvelope[] {
    return Array.from({ length: n }, () => this.envelope(realPaths));
  }

  private sender(): troupe.IActorAddress | undefined {
    const r = this.rng;
    return r.weighted<troupe.IActorAddress | undefined>([
      [12, undefined],
      [4, { system: this.system, node: "fuzzer", path: `/temp/${r.int(1000)}` }],
      [1, { system: this.system, node: "fuzzer", path: "/user/fuzzer" }],
      [1, { system: "other-system", node: "fuzzer", path: "/temp/1" }],
      [2, { system: r.pick(["", "a.b", this.system]), node: r.pick(["", "bad node", "x".repeat(65)]), path: r.pick(["", "no-slash", "/temp/1"]) }],
    ]);
  }

  private frame(envelopes: troupe.wire.IEnvelope[]): Uint8Array {
    return Frame.encode({ envelopes }).finish();
  }
}

function fakePath(r: SeededRandom): string {
  return r.pick(["/user/ghost", `/user/fuzz-${r.int(1e6)}`, "", "user/no-slash", "/remote/nowhere/user/x", "/user/" + "deep/".repeat(200), "/user/🎭", "/system/x", "/reply/_INBOX.x"]);
}

function randomName(r: SeededRandom): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/ \u00e9\u4e2d";
  return Array.from({ length: 1 + r.length(80) }, () => alphabet[r.int(alphabet.length)]).join("");
}

function truncate(r: SeededRandom, data: Uint8Array): Uint8Array {
  return data.slice(0, data.length <= 1 ? 0 : 1 + r.int(data.length - 1));
}

/** One to eight byte-level mutations: bit flips, random bytes, insertions, deletions, duplications, huge varints. */
export function mutate(r: SeededRandom, input: Uint8Array): Uint8Array {
  let data: Uint8Array = Uint8Array.from(input);
  for (let n = 1 + r.int(8); n > 0; n--) {
    const at = r.int(data.length + 1);
    switch (r.int(6)) {
      case 0:
        if (data.length > 0) data[Math.min(at, data.length - 1)]! ^= 1 << r.int(8);
        break;
      case 1:
        if (data.length > 0) data[Math.min(at, data.length - 1)] = r.int(256);
        break;
      case 2:
        data = concat(data.slice(0, at), r.bytes(1 + r.int(16)), data.slice(at));
        break;
      case 3:
        data = concat(data.slice(0, at), data.slice(Math.min(data.length, at + 1 + r.int(16))));
        break;
      case 4:
        data = concat(data.slice(0, at), data.slice(at, at + 1 + r.int(32)), data.slice(at));
        break;
      default:
        data = concat(data.slice(0, at), varint(r.pick([2 ** 31 - 1, 2 ** 32 - 1, 2 ** 53 - 1, 1e9])), data.slice(at));
    }
  }
  return data;
}

/** Length prefixes that lie: far past the end, 10-byte varints, lengths of nested fields larger than their parent. */
export function absurdLength(r: SeededRandom): Uint8Array {
  const huge = varint(r.pick([2 ** 31 - 1, 2 ** 32 - 1, 2 ** 53 - 1, 2 ** 28, 1e6]));
  const tail = r.bytes(r.int(32));
  switch (r.int(5)) {
    case 0:
      return concat(Uint8Array.of(0x0a), huge, tail);
    case 1:
      return concat(Uint8Array.of(0x0a, 0x08, 0x12), huge, tail);
    case 2:
      return concat(Uint8Array.of(0x0a), new Uint8Array(10).fill(0xff), tail);
    case 3:
      // An envelope claims 5 bytes, its payload field claims 100 inside them.
      return Uint8Array.of(0x0a, 0x05, 0x1a, 0x64, 0x01, 0x02, 0x03);
    default:
      return concat(Uint8Array.of(0x0a, 0x04), Uint8Array.of(0x22, 0xff, 0xff, 0x7f), tail);
  }
}

/** Deeply nested groups: a decoder that skips unknown groups recursively without a limit would overflow its stack. */
function deepNesting(r: SeededRandom): Uint8Array {
  const depth = 1_000 + r.int(20_000);
  // Start-group tags over and over: field 2 of the Frame, or field 6 inside an envelope.
  return r.chance(0.5) ? new Uint8Array(depth).fill(0x13) : concat(Uint8Array.of(0x0a), varint(depth), new Uint8Array(depth).fill(0x33));
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
