import { ActorSystem, AskFailedError, connectNats, startEmbeddedNats, type MessagesOf } from "../../runtime/index.js";
import { Add, counter, Get, Total } from "./counter.js";

// A private nats-server on a free port; with your own server, skip this and pass its URL.
const nats = await startEmbeddedNats();

// Every node registers the types it receives; a spawned definition's `messages` and ask reply types are registered for you.
const types = [Add, Get, Total];
const a = await ActorSystem.start({ name: "demo", nodeId: "node-a", transport: await connectNats({ servers: nats.url }), types });
const b = await ActorSystem.start({ name: "demo", nodeId: "node-b", transport: await connectNats({ servers: nats.url }), types });
a.deadLetters.subscribe((letter) => console.log(`dead letter on node-a: ${letter.reason}: ${letter.detail}`));

const ref = a.spawn(counter, { name: "counter", props: 10 });
ref.tell(Add.create({ amount: 5 }));
const local = await ref.ask(Get.create(), Total, { timeoutMs: 1000 });
console.log(`local ask: ${local.value} from ${local.node}`);

// From the other node: find it by name, then talk to it over NATS.
const remote = await b.lookup<MessagesOf<typeof counter>>("counter");
if (!remote) throw new Error("counter not found");
remote.tell(Add.create({ amount: 1 }));
const total = await remote.ask(Get.create(), Total, { timeoutMs: 1000 });
console.log(`remote ask: ${total.value} from ${total.node} (ref ${remote.toString()})`);

// An address is plain data: any node turns it (or its string form) back into a ref.
const again = b.refFor<MessagesOf<typeof counter>>(ref.toString());
console.log(`refFor: ${(await again.ask(Get.create(), Total)).value}`);

// Nobody at this path: the tell becomes a dead letter on node-a, the ask fails fast.
const nobody = b.refFor<MessagesOf<typeof counter>>({ system: "demo", node: "node-a", path: "/user/nobody" });
nobody.tell(Add.create({ amount: 1 }));
try {
  await nobody.ask(Get.create(), Total);
} catch (error) {
  if (error instanceof AskFailedError) console.log(`ask failed: ${error.reason}`);
}

await b.shutdown();
await a.shutdown();
await nats.stop();
