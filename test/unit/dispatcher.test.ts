import { expect } from "chai";
import { Dispatcher, type Runnable } from "../../runtime/dispatcher.js";

/** An actor stand-in: `turns` turns of `size` messages each (until `until()` says stop), logged as they run. */
function runnable(name: string, log: string[], dispatcher: Dispatcher, turns: number, size = 1, until = () => true): Runnable {
  let left = turns;
  const self: Runnable = {
    runTurn: () => {
      log.push(name);
      if (--left > 0 && until()) dispatcher.schedule(self);
      return size;
    },
  };
  return self;
}

describe("dispatcher", () => {
  it("dispatcher: runs queued actors in turn, each going to the back of the queue while it has more", async () => {
    const dispatcher = new Dispatcher();
    const log: string[] = [];
    dispatcher.schedule(runnable("a", log, dispatcher, 3));
    dispatcher.schedule(runnable("b", log, dispatcher, 2));
    expect(log).to.deep.equal([]); // nothing runs inside schedule()
    await Promise.resolve();
    expect(log).to.deep.equal(["a", "b", "a", "b", "a"]);
  });

  it("dispatcher: gives the event loop a turn after a bounded amount of work, then goes on", async () => {
    const dispatcher = new Dispatcher();
    const log: string[] = [];
    // Two "actors" with 1,000 messages per turn and no end of their own: only the yield lets the timer run.
    let running = true;
    dispatcher.schedule(runnable("a", log, dispatcher, Infinity, 1_000, () => running));
    dispatcher.schedule(runnable("b", log, dispatcher, Infinity, 1_000, () => running));
    await new Promise((resolve) => setTimeout(resolve, 1));
    const turnsBeforeTimer = log.length;
    expect(turnsBeforeTimer).to.be.greaterThan(10);
    await new Promise((resolve) => setTimeout(resolve, 1));
    running = false;
    expect(log.length).to.be.greaterThan(turnsBeforeTimer);
    expect(log.slice(0, 4)).to.deep.equal(["a", "b", "a", "b"]);
  });

  it("dispatcher: a turn that throws is reported as an uncaught error and the other actors keep running", async () => {
    const dispatcher = new Dispatcher();
    const log: string[] = [];
    const uncaught: unknown[] = [];
    const listeners = process.listeners("uncaughtException");
    process.removeAllListeners("uncaughtException");
    process.on("uncaughtException", (error) => uncaught.push(error));
    try {
      dispatcher.schedule({
        runTurn: () => {
          throw new Error("a broken decider");
        },
      });
      dispatcher.schedule(runnable("b", log, dispatcher, 3));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.removeAllListeners("uncaughtException");
      for (const listener of listeners) process.on("uncaughtException", listener);
    }
    expect(log).to.deep.equal(["b", "b", "b"]);
    expect(uncaught.map((e) => (e as Error).message)).to.deep.equal(["a broken decider"]);
  });
});
