import type { Clock } from "../clock.js";
import type { Subjects } from "../subjects.js";
import type { InboundMessage, Transport, Unsubscribe } from "../transport/transport.js";
import { RateWindow } from "../membership/rate-window.js";
import { troupe } from "../../proto/gen/troupe.js";

const { LoadReply } = troupe.system;

/** Load questions answered at most per second, by default: more are dropped (and counted). */
export const DEFAULT_MAX_LOAD_ANSWERS_PER_SECOND = 1_000;

export interface ServeLoadOptions {
  readonly transport: Transport;
  readonly subjects: Subjects;
  readonly nodeId: string;
  readonly clock: Clock;
  /** This node's actor count, read at each answer. */
  readonly actorCount: () => number;
  /** Whether the request's reply subject may be answered (the system checks and reports it). */
  readonly mayAnswer: (request: InboundMessage) => request is InboundMessage & { reply: string };
  /** Default `DEFAULT_MAX_LOAD_ANSWERS_PER_SECOND` (1,000). */
  readonly maxAnswersPerSecond?: number;
  /** Told about each question dropped over the rate. */
  readonly onOverRate?: (detail: string, subject: string) => void;
}

/**
 * Answers `LoadRequest`s on this node's `Subjects.loadOf` with its actor count (least-loaded placement
 * asks). The body is not read: every question gets the same answer, so a malformed one costs nothing
 * more. Answers are bounded per second whatever a flood sends; a dropped question looks like silence.
 */
export function serveLoad(options: ServeLoadOptions): Unsubscribe {
  const { transport, subjects, nodeId, clock } = options;
  const limit = options.maxAnswersPerSecond ?? DEFAULT_MAX_LOAD_ANSWERS_PER_SECOND;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`maxLoadAnswersPerSecond must be a whole number of at least 1, got ${limit}`);
  const window = new RateWindow(limit, 1_000);
  const subject = subjects.loadOf(nodeId);
  return transport.subscribe(subject, (request) => {
    if (!options.mayAnswer(request)) return;
    if (!window.take(clock.now())) return options.onOverRate?.(`load question not answered: over ${limit} answers a second (maxLoadAnswersPerSecond)`, subject);
    transport.publish(request.reply, LoadReply.encode({ node: nodeId, actorCount: options.actorCount() }).finish());
  });
}
