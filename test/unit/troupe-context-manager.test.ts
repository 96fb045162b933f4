import { expect } from "chai";
import { ROOT_CONTEXT, context, createContextKey, type Context } from "@opentelemetry/api";
import { TroupeContextManager } from "../../runtime/tracing/troupe-context-manager.js";
import { MAKE_CONTEXT, type ContextOnDemand } from "../../runtime/tracing/context-manager-slot.js";

const KEY = createContextKey("test");
const named = (name: string): Context => ROOT_CONTEXT.setValue(KEY, name);
const nameOf = (ctx: Context): unknown => ctx.getValue(KEY);
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** A context on demand that counts how many it made, each named `name` and its number. */
const onDemand = (name: string): ContextOnDemand & { made: number } => {
  const demand = { made: 0, [MAKE_CONTEXT]: () => named(`${name} ${++demand.made}`) };
  return demand;
};

describe("tracing: Troupe's context manager (unit)", () => {
  let manager: TroupeContextManager;
  beforeEach(() => {
    manager = new TroupeContextManager();
    context.setGlobalContextManager(manager);
  });
  afterEach(() => context.disable());

  it("context manager: runSync makes a context active until its function returns, not in what it leaves behind", async () => {
    let later: unknown = "not run";
    const inside = manager.runSync(named("message"), (a: number, b: number, c: number) => {
      setImmediate(() => (later = nameOf(context.active())));
      return [nameOf(context.active()), a + b + c];
    }, 1, 2, 3);
    expect(inside).to.deep.equal(["message", 6]);
    expect(nameOf(context.active())).to.equal(undefined);
    await tick();
    expect(later, "a callback left behind").to.equal(undefined);
  });

  it("context manager: under another trace's stored context, runSync enters its context properly, so what the function leaves behind does not land in that trace", async () => {
    let later: unknown = "not run";
    context.with(named("other trace"), () =>
      manager.runSync(named("message"), () => {
        setImmediate(() => (later = nameOf(context.active())));
      }, undefined, undefined, undefined),
    );
    await tick();
    expect(later).to.equal("message");
  });

  it("context manager: attach and dispose inside runSync give the runSync context back", () => {
    const seen = manager.runSync(named("message"), () => {
      const token = manager.attach(named("attached"));
      const during = nameOf(context.active());
      token.dispose();
      return [during, nameOf(context.active())];
    }, undefined, undefined, undefined);
    expect(seen).to.deep.equal(["attached", "message"]);
  });

  it("context manager: context.with inside runSync wins for its function and what that function's awaits run", async () => {
    const seen: unknown[] = [];
    const done = manager.runSync(named("message"), () =>
      context.with(named("user"), async () => {
        seen.push(nameOf(context.active()));
        await tick();
        seen.push(nameOf(context.active()));
      }), undefined, undefined, undefined);
    seen.push(nameOf(context.active()));
    await done;
    expect(seen, "in the function, after runSync, after the await").to.deep.equal(["user", undefined, "user"]);
  });

  it("context manager: what active() remembers follows every with(), attach() and await, as AsyncLocalStorage does", async () => {
    const seen: unknown[] = [];
    const look = () => seen.push(nameOf(manager.active()));
    look();
    await context.with(named("a"), async () => {
      look();
      look();
      await context.with(named("b"), async () => {
        look();
        await tick();
        look();
      });
      look();
      await tick();
      look();
      const token = manager.attach(named("c"));
      look();
      token.dispose();
      look();
    });
    look();
    expect(seen).to.deep.equal([undefined, "a", "a", "b", "b", "a", "a", "c", "a", undefined]);
  });

  it("context manager: concurrent async chains each keep their own context", async () => {
    const chain = (name: string) =>
      context.with(named(name), async () => {
        const seen: unknown[] = [];
        for (let i = 0; i < 5; i++) {
          seen.push(nameOf(manager.active()));
          await (i % 2 === 0 ? tick() : Promise.resolve());
        }
        return seen;
      });
    const [x, y] = await Promise.all([chain("x"), chain("y")]);
    expect(x).to.deep.equal(["x", "x", "x", "x", "x"]);
    expect(y).to.deep.equal(["y", "y", "y", "y", "y"]);
  });

  it("context on demand: runSync makes it at the first read of the active context and keeps it for the run; a run that never reads it makes none", () => {
    const demand = onDemand("message");
    const reads = manager.runSync(demand, () => [nameOf(context.active()), nameOf(manager.active())], undefined, undefined, undefined);
    expect(reads, "two reads in one run").to.deep.equal(["message 1", "message 1"]);
    expect(nameOf(context.active()), "after the run").to.equal(undefined);
    manager.runSync(demand, () => undefined, undefined, undefined, undefined);
    expect(demand.made, "the second run read nothing").to.equal(1);
    expect(manager.runSync(demand, () => nameOf(context.active()), undefined, undefined, undefined), "a new run, a new context").to.equal("message 2");
  });

  it("context on demand: activeOrOnDemand shows it without making it; with() and attach() inside the run give it back unmade", () => {
    const demand = onDemand("message");
    const seen = manager.runSync(demand, () => {
      const before = manager.activeOrOnDemand();
      const inWith = context.with(named("user"), () => nameOf(context.active()));
      const token = manager.attach(named("attached"));
      const attached = nameOf(context.active());
      token.dispose();
      return { unmade: before === demand && manager.activeOrOnDemand() === demand, inWith, attached, made: demand.made };
    }, undefined, undefined, undefined);
    expect(seen).to.deep.equal({ unmade: true, inWith: "user", attached: "attached", made: 0 });
  });

  it("context on demand: under another trace's stored context, runSync makes it at once and enters it, so what the function leaves behind is in it", async () => {
    const demand = onDemand("message");
    let later: unknown = "not run";
    context.with(named("other trace"), () =>
      manager.runSync(demand, () => {
        setImmediate(() => (later = nameOf(context.active())));
      }, undefined, undefined, undefined),
    );
    await tick();
    expect(later).to.equal("message 1");
    expect(demand.made).to.equal(1);
  });
});
