import { defineTopology, type MessagesOf } from "troupe";
import { Add, counter, Get, Total } from "./counter.js";

/** `troupe run ./dist/topology.js --nodes 2` runs this: worker node processes and a coordinator. */
export default defineTopology({
  name: "{{name}}",
  types: [Add, Get, Total],

  // On every worker node, before it reports ready: one counter per node, named after the node.
  worker(system) {
    system.spawn(counter, { name: `counter-${system.nodeId}`, props: 0 });
  },

  // On the coordinator, once every worker is ready.
  async main({ system, workers, log }) {
    let sum = 0;
    for (const node of workers) {
      // Found by name, wherever it runs; then told and asked over NATS.
      const ref = await system.lookup<MessagesOf<typeof counter>>(`counter-${node}`);
      if (ref === undefined) throw new Error(`no counter-${node} found`);
      for (let i = 1; i <= 10; i++) ref.tell(Add.create({ amount: i }));
      const total = await ref.ask(Get.create(), Total);
      log(`${ref.toString()} counted ${total.value} on ${total.node}`);
      sum += total.value;
    }
    return { tasks: 10 * workers.length, state: null, verified: sum === 55 * workers.length, details: { sum } };
  },
});
