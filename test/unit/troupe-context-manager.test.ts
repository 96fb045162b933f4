import { expect } from "chai";
import { ROOT_CONTEXT, context, createContextKey, type Context } from "@opentelemetry/api";
import { TroupeContextManager } from "../../runtime/tracing/troupe-context-manager.js";

const KEY = createContextKey("test");
const named = (name: string): Context => ROOT_CONTEXT.setValue(KEY, name);
const nameOf = (ctx: Context): unknown => ctx.getValue(KEY);
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
});
