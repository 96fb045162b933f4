import { errorText } from "../actor-cell.js";
import type { Clock } from "../clock.js";
import type { Subjects } from "../subjects.js";
import type { Transport } from "../transport/transport.js";
import { troupe } from "../../proto/gen/troupe.js";
import type { PlacementCandidate } from "./placement.js";

const { LoadRequest, LoadReply } = troupe.system;
const REQUEST = LoadRequest.encode({}).finish();

/** How long a load question waits for its answer, by default. */
export const DEFAULT_LOAD_QUERY_TIMEOUT_MS = 250;
/** How long an answer stands for a node's load (plus what this node placed there since), by default. */
export const DEFAULT_LOAD_ANSWER_TTL_MS = 2_000;
/** Load questions in flight at most: a burst of spawns asks no more than this many nodes at once. */
export const MAX_LOAD_QUERIES_IN_FLIGHT = 64;
/** Nodes whose answers are remembered at most; past it the table starts afresh (ids come and go). */
const MAX_REMEMBERED_NODES = 4_096;

/** What a node's options may set about least-loaded placement (`ActorSystemOptions.leastLoaded`). */
export interface LeastLoadedSettings {
  /** How long a spawn's load question to a candidate may take. Default 250 ms (`DEFAULT_LOAD_QUERY_TIMEOUT_MS`). */
  readonly queryTimeoutMs?: number;
  /** How long an answer stands for the node's load. Default 2,000 ms (`DEFAULT_LOAD_ANSWER_TTL_MS`). */
  readonly answerTtlMs?: number;
  /** Load questions this node answers per second at most. Default 1,000 (`DEFAULT_MAX_LOAD_ANSWERS_PER_SECOND`). */
  readonly maxAnswersPerSecond?: number;
}

export interface LeastLoadedOptions {
  readonly transport: Transport;
  readonly subjects: Subjects;
  readonly nodeId: string;
  readonly clock: Clock;
  /** This node's own load: asked of nobody. */
  readonly localCount: () => number;
  /** Default `DEFAULT_LOAD_QUERY_TIMEOUT_MS` (250). */
  readonly timeoutMs?: number;
  /** Default `DEFAULT_LOAD_ANSWER_TTL_MS` (2,000). */
  readonly answerTtlMs?: number;
  /** In [0, 1); default Math.random. */
  readonly random?: () => number;
  /** Told about each answer refused (malformed, or naming another node than the one asked). */
  readonly onInvalid?: (reason: "malformed-payload" | "forged-reply", detail: string, subject: string, bytes: Uint8Array) => void;
}

interface NodeLoad {
  /** The last answer and when it came, by this node's clock. */
  answer?: { readonly count: number; readonly atMs: number };
  /** Children this node placed there since the last answer was asked for. */
  placed: number;
  /** Its last question went unanswered (timed out, no responder, or a refused answer): skipped until it answers. */
  silent: boolean;
  /** The question out to it, settled when answered, refused or timed out. */
  pending: Promise<void> | undefined;
}

/**
 * `least-loaded` placement by the power of two choices (docs/scale.md): ring membership knows every
 * member's kinds but a fresh actor count only for the few nodes it monitors, so each spawn picks two
 * random candidates hosting the kind and takes the lighter, by their answers to a `LoadRequest` on
 * `Subjects.loadOf(node)` (this node's own count is local), and asks both again for the next spawn.
 *
 * A spawn returns its child's ref at once, and the ref names the node, so the choice cannot wait for
 * the answers it triggers: it uses the latest answer of each candidate (younger than `answerTtlMs`) plus
 * the children placed there since, else membership's count; a candidate whose last question went
 * unanswered within `timeoutMs` is skipped (the other is taken; a random one if both are silent).
 *
 * Answers are not trusted beyond what they can do: one is taken only on the fresh inbox of the request
 * and only if it names the node asked; malformed ones are counted and refused. A node that lies about
 * its load can only draw work to itself (which it could drop anyway) or keep work away from itself.
 */
export class LeastLoaded {
  readonly timeoutMs: number;
  readonly answerTtlMs: number;
  private readonly loads = new Map<string, NodeLoad>();
  private inFlight = 0;
  private readonly counts = { asked: 0, answered: 0, unanswered: 0, refused: 0 };

  constructor(private readonly options: LeastLoadedOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_LOAD_QUERY_TIMEOUT_MS;
    this.answerTtlMs = options.answerTtlMs ?? DEFAULT_LOAD_ANSWER_TTL_MS;
    for (const [name, value] of [["loadQueryTimeoutMs", this.timeoutMs], ["loadAnswerTtlMs", this.answerTtlMs]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a whole number of milliseconds of at least 1, got ${value}`);
    }
  }

  /** Questions asked, answered, unanswered (timeout or no responder) and answers refused, since start. */
  stats(): { readonly asked: number; readonly answered: number; readonly unanswered: number; readonly refused: number } {
    return { ...this.counts };
  }

  /**
   * One of `hosts` (live, hosting the kind, not excluded; at least one): the lighter of two random ones
   * by what is known now, asking both again for the next spawn. For a spawn, whose ref is returned at once.
   */
  choose(hosts: readonly PlacementCandidate[]): string {
    if (hosts.length === 1) return this.placed(hosts[0]!.node);
    const [a, b] = this.pair(hosts);
    const chosen = this.lighter(a, b);
    void this.ask(a.node);
    void this.ask(b.node);
    return this.placed(chosen.node);
  }

  /**
   * The same choice after asking both candidates and waiting for their answers, `timeoutMs` at most:
   * for a restart on another node (its node was lost), which waits for the spawn reply anyway.
   */
  async chooseAsked(hosts: readonly PlacementCandidate[]): Promise<string> {
    if (hosts.length === 1) return this.placed(hosts[0]!.node);
    const [a, b] = this.pair(hosts);
    await Promise.all([this.ask(a.node), this.ask(b.node)]);
    return this.placed(this.lighter(a, b).node);
  }

  private pair(hosts: readonly PlacementCandidate[]): [PlacementCandidate, PlacementCandidate] {
    const random = this.options.random ?? Math.random;
    const i = Math.floor(random() * hosts.length);
    const j = (i + 1 + Math.floor(random() * (hosts.length - 1))) % hosts.length;
    return [hosts[i]!, hosts[j]!];
  }

  /** `b` if it is known lighter, or `a` silent; else `a` (the first drawn, so a random one on a tie). */
  private lighter(a: PlacementCandidate, b: PlacementCandidate): PlacementCandidate {
    const [loadA, loadB] = [this.loadOf(a), this.loadOf(b)];
    return loadB !== undefined && (loadA === undefined || loadB < loadA) ? b : a;
  }

  /** The node's load as best known; undefined when its last question went unanswered. */
  private loadOf(candidate: PlacementCandidate): number | undefined {
    if (candidate.node === this.options.nodeId) return this.options.localCount();
    const known = this.loads.get(candidate.node);
    if (known === undefined) return candidate.actorCount;
    if (known.silent) return undefined;
    const fresh = known.answer !== undefined && this.options.clock.now() - known.answer.atMs <= this.answerTtlMs;
    return (fresh ? known.answer!.count : candidate.actorCount) + known.placed;
  }

  private placed(node: string): string {
    if (node !== this.options.nodeId) this.entry(node).placed++;
    return node;
  }

  private entry(node: string): NodeLoad {
    let known = this.loads.get(node);
    if (known === undefined) {
      if (this.loads.size >= MAX_REMEMBERED_NODES) this.loads.clear();
      this.loads.set(node, (known = { placed: 0, silent: false, pending: undefined }));
    }
    return known;
  }

  /** Asks `node` for its load, unless a question to it is pending (that one is waited for) or too many are. */
  private ask(node: string): Promise<void> {
    if (node === this.options.nodeId) return Promise.resolve();
    const known = this.entry(node);
    if (known.pending !== undefined) return known.pending;
    if (this.inFlight >= MAX_LOAD_QUERIES_IN_FLIGHT) return Promise.resolve();
    this.inFlight++;
    this.counts.asked++;
    // Children placed while the question is out may or may not be in the answer: counting them again
    // errs towards the other node, which is harmless.
    const placedBefore = known.placed;
    const subject = this.options.subjects.loadOf(node);
    let request: Promise<Uint8Array>;
    try {
      request = this.options.transport.request(subject, REQUEST, this.timeoutMs);
    } catch (error) {
      request = Promise.reject(error instanceof Error ? error : new Error(errorText(error)));
    }
    return (known.pending = request
      .then(
        (bytes) => this.answered(node, known, placedBefore, subject, bytes),
        () => {
          this.counts.unanswered++;
          known.silent = true;
        },
      )
      .finally(() => {
        known.pending = undefined;
        this.inFlight--;
      }));
  }

  private answered(node: string, known: NodeLoad, placedBefore: number, subject: string, bytes: Uint8Array): void {
    let reply: troupe.system.LoadReply;
    try {
      reply = LoadReply.decode(bytes);
    } catch (error) {
      return this.refuse(known, "malformed-payload", `load answer from ${node} is not a troupe.system.LoadReply: ${errorText(error)}`, subject, bytes);
    }
    if (reply.node !== node) return this.refuse(known, "forged-reply", `load answer to a question for ${node} names node ${JSON.stringify(reply.node.slice(0, 120))}: refused`, subject, bytes);
    this.counts.answered++;
    known.answer = { count: reply.actorCount, atMs: this.options.clock.now() };
    known.placed -= placedBefore;
    known.silent = false;
  }

  private refuse(known: NodeLoad, reason: "malformed-payload" | "forged-reply", detail: string, subject: string, bytes: Uint8Array): void {
    this.counts.refused++;
    known.silent = true;
    this.options.onInvalid?.(reason, detail, subject, bytes.slice(0, 4096));
  }
}
