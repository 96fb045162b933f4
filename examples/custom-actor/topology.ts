import { defineTopology, type MessagesOf } from "../../runtime/index.js";
import { Add, counter, Get, Total } from "./counter.js";

export default defineTopology({
  name: "custom-actor",
  types: [Add, Get, Total],

  // On every `troupe node` process, before it reports ready.
  worker(system) {
    system.spawn(counter, { name: "counter", props: 0 });
  },

  // On the coordinator, once all workers are ready.
  async main({ system, workers }) {
    let sum = 0;
    for (const node of workers) {
      const ref = system.refFor<MessagesOf<typeof counter>>({ system: system.name, node, path: "/user/counter" });
      for (let i = 1; i <= 100; i++) ref.tell(Add.create({ amount: i }));
      sum += (await ref.ask(Get.create(), Total)).value;
    }
    return { tasks: 100 * workers.length, state: null, verified: sum === 5050 * workers.length, details: { sum } };
  },
});
