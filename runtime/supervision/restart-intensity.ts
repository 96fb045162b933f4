/**
 * OTP's restart intensity: a supervisor that restarts more than `maxRestarts` times within `withinMs`
 * is looping on a fault it cannot fix, and gives up.
 */
export class RestartIntensity {
  private readonly restarts: number[] = [];

  constructor(
    private readonly maxRestarts: number,
    private readonly withinMs: number,
  ) {}

  /** Records a restart at `nowMs`; true when that exceeds the intensity. */
  exceededBy(nowMs: number): boolean {
    this.restarts.push(nowMs);
    while (this.restarts.length > 0 && this.restarts[0]! <= nowMs - this.withinMs) this.restarts.shift();
    return this.restarts.length > this.maxRestarts;
  }
}
