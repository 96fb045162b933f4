import { positiveInteger } from "../positive-integer.js";

/**
 * What one received frame may hold, beyond its size in bytes (`maxMessageBytes`). The reader checks
 * these as it goes, so the cost of reading a frame is bounded whatever it holds; each limit hit is
 * a dead letter and a count in `system.deadLetters.limitHits()` (docs/wire.md, "Limits").
 */
export interface FrameLimits {
  /**
   * Most envelopes read from one frame. The envelopes before the limit are delivered; the rest of the
   * frame is not read, and is one `too-many-envelopes` dead letter. Default 10,000: above the 8,200 or
   * so that fit in the 128 KiB frames a node sends (16 bytes is the smallest envelope it writes).
   */
  readonly maxFrameEnvelopes?: number;
  /** Most header entries of one envelope; an envelope with more is refused (`headers-over-limit`). Default 64. */
  readonly maxHeaders?: number;
  /**
   * Most bytes of header entries of one envelope, as encoded (keys, values and 2-4 bytes of framing
   * each); an envelope with more is refused (`headers-over-limit`). Default 16 KiB.
   */
  readonly maxHeaderBytes?: number;
}

export const DEFAULT_MAX_FRAME_ENVELOPES = 10_000;
export const DEFAULT_MAX_HEADERS = 64;
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;

/** The limits with their defaults filled in, each checked to be a positive integer. */
export function frameLimits(limits: FrameLimits = {}): Required<FrameLimits> {
  return {
    maxFrameEnvelopes: positiveInteger("maxFrameEnvelopes", limits.maxFrameEnvelopes ?? DEFAULT_MAX_FRAME_ENVELOPES),
    maxHeaders: positiveInteger("maxHeaders", limits.maxHeaders ?? DEFAULT_MAX_HEADERS),
    maxHeaderBytes: positiveInteger("maxHeaderBytes", limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES),
  };
}

/** No limits but the frame's own length: what `Frame.decode` would read. */
export const UNLIMITED_FRAMES: Required<FrameLimits> = Object.freeze({ maxFrameEnvelopes: Infinity, maxHeaders: Infinity, maxHeaderBytes: Infinity });
