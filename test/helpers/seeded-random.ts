import { randomInt } from "node:crypto";

/**
 * A small seeded PRNG (mulberry32) for fuzzers and chaos runs: the same seed gives the same sequence,
 * so a failing run can be replayed by passing its printed seed back in.
 */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A seed from `variable` in the environment when set (to replay a run), else a fresh random one. */
  static seedFrom(variable: string): number {
    const text = process.env[variable];
    if (text === undefined || text === "") return randomInt(2 ** 31);
    const seed = Number(text);
    if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`${variable} must be a non-negative integer; got ${JSON.stringify(text)}`);
    return seed;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[this.int(items.length)]!;
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((sum, [w]) => sum + w, 0);
    let x = this.next() * total;
    for (const [w, value] of choices) {
      if ((x -= w) < 0) return value;
    }
    return choices.at(-1)![1];
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** A length skewed towards small values, up to `max`. */
  length(max: number): number {
    return Math.min(max, Math.floor(Math.exp(this.next() * Math.log(max + 1))) - 1 + this.int(2));
  }
}
