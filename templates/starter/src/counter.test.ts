import { expect } from "chai";
import { BehaviorTestKit } from "troupe/testkit";
import { Add, counter, Get, Total } from "./counter.js";

// BehaviorTestKit runs one actor definition with no system and no network: `send` calls the
// handler, and everything the actor sends is recorded.
describe("counter", () => {
  it("adds what it is told to its starting total", async () => {
    const kit = await BehaviorTestKit.start(counter, { props: 5 });
    await kit.send(Add.create({ amount: 2 }));
    await kit.send(Add.create({ amount: 3 }));
    expect(kit.state.total).to.equal(10);
  });

  it("answers Get with its total", async () => {
    const kit = await BehaviorTestKit.start(counter, { props: 0 });
    await kit.send(Add.create({ amount: 7 }));
    const asker = kit.probe();
    await kit.send(Get.create(), asker);
    const [reply] = kit.sentTo(asker);
    expect(reply).to.be.instanceOf(Total);
    expect((reply as InstanceType<typeof Total>).value).to.equal(7);
  });
});
