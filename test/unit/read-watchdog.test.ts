import { expect } from "chai";
import type { Clock, TimerHandle } from "../../runtime/clock.js";
import { ManualClock } from "../../runtime/testkit/manual-clock.js";
import { ReadWatchdog } from "../../runtime/transport/read-watchdog.js";
import { settle } from "../helpers/conditions.js";

/** A connection under the test's control: how much it read, and whether its PINGs are answered. */
function fakeConnection() {
  const connection = {
    bytes: 0,
    answering: true,
    pings: 0,
    bytesRead: () => connection.bytes,
    ping: () => {
      connection.pings++;
      return connection.answering ? Promise.resolve() : new Promise<never>(() => undefined);
    },
  };
  return connection;
}

describe("read watchdog (manual clock)", () => {
  it("read watchdog: a connection whose PINGs are answered is never called deaf", async () => {
    const clock = new ManualClock();
    const connection = fakeConnection();
    const deaf: number[] = [];
    const watchdog = new ReadWatchdog(connection, 2_000, (ms) => deaf.push(ms), clock);
    watchdog.start();
    for (let i = 0; i < 100; i++) {
      clock.advance(500);
      await settle();
    }
    expect(deaf).to.deep.equal([]);
    expect(connection.pings).to.equal(100);
    watchdog.stop();
  });

  it("read watchdog: a connection that reads nothing, not even PONGs, is called deaf once after the timeout", async () => {
    const clock = new ManualClock();
    const connection = fakeConnection();
    connection.answering = false;
    const deaf: number[] = [];
    new ReadWatchdog(connection, 2_000, (ms) => deaf.push(ms), clock).start();
    clock.advance(1_500);
    await settle();
    expect(deaf).to.deep.equal([]);
    clock.advance(10_000);
    expect(deaf).to.deep.equal([2_000]);
  });

  it("read watchdog: message bytes read count as reading, while the PONGs wait behind them", () => {
    const clock = new ManualClock();
    const connection = fakeConnection();
    connection.answering = false;
    const deaf: number[] = [];
    new ReadWatchdog(connection, 2_000, (ms) => deaf.push(ms), clock).start();
    for (let i = 0; i < 40; i++) {
      connection.bytes += 100;
      clock.advance(500);
    }
    expect(deaf).to.deep.equal([]);
  });

  it("read watchdog: while disconnected the clock stands still, and starts again on reconnect", () => {
    const clock = new ManualClock();
    const connection = fakeConnection();
    connection.answering = false;
    const deaf: number[] = [];
    const watchdog = new ReadWatchdog(connection, 2_000, (ms) => deaf.push(ms), clock);
    watchdog.start();
    watchdog.disconnected();
    clock.advance(10_000);
    expect(deaf).to.deep.equal([]);
    watchdog.reconnected();
    clock.advance(1_500);
    expect(deaf).to.deep.equal([]);
    clock.advance(500);
    expect(deaf).to.deep.equal([2_000]);
  });

  it("read watchdog: a tick that runs late (the process was stalled, its PONGs unread) does not judge; the next ones do", () => {
    const clock = new LateClock();
    const connection = fakeConnection();
    connection.answering = false;
    const deaf: number[] = [];
    new ReadWatchdog(connection, 2_000, (ms) => deaf.push(ms), clock).start();
    clock.fire(0);
    clock.fire(5_000);
    for (let i = 0; i < 3; i++) clock.fire(0);
    expect(deaf).to.deep.equal([]);
    clock.fire(0);
    expect(deaf).to.deep.equal([2_000]);
  });
});

/** A clock with one timer at a time, fired when the test says: on time, or `lateMs` late. */
class LateClock implements Clock {
  private current = 0;
  private pending: { callback: () => void; dueAt: number } | undefined;

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    this.pending = { callback, dueAt: this.current + delayMs };
    return this.pending;
  }

  clearTimeout(): void {
    this.pending = undefined;
  }

  fire(lateMs: number): void {
    const timer = this.pending!;
    this.pending = undefined;
    this.current = timer.dueAt + lateMs;
    timer.callback();
  }
}
