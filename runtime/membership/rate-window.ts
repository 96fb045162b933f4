/**
 * At most `limit` takes per window of `windowMs` (fixed windows, by the caller's clock): what a node
 * does in answer to messages from the bus (probe answers, notices to strangers) stays bounded
 * whatever a flood sends.
 */
export class RateWindow {
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private taken = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Whether one more is allowed at `nowMs` (and counts it if so). */
  take(nowMs: number): boolean {
    if (nowMs - this.windowStartMs >= this.windowMs) {
      this.windowStartMs = nowMs;
      this.taken = 0;
    }
    if (this.taken >= this.limit) return false;
    this.taken++;
    return true;
  }
}
