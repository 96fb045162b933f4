// The far side of `peer-moleculer-ask-64`, run by that benchmark as its own process:
//   node --import tsx bench/moleculer-responder.ts <nats-url>
// A Moleculer broker with one service, `echo`, whose action `blob` answers `{ seq }`. It says "ready"
// over the IPC channel once its broker has started, and exits when told to or when the driver goes away.
import { moleculerBroker, type EchoParams, type EchoReply } from "./moleculer-broker.js";

const natsUrl = process.argv[2];
if (!natsUrl || !process.send) {
  console.error("bench/moleculer-responder.ts is started by bench/run.ts (it needs an IPC channel and a NATS URL)");
  process.exit(2);
}

const broker = moleculerBroker(natsUrl, "bench-moleculer-responder");
broker.createService({
  name: "echo",
  actions: {
    blob: (ctx: { params: EchoParams }): EchoReply => ({ seq: ctx.params.seq }),
  },
});

const exit = async (): Promise<void> => {
  try {
    await broker.stop();
  } finally {
    process.exit(0);
  }
};
process.on("disconnect", () => void exit());
process.on("message", (message: { type: string }) => message.type === "exit" && void exit());
await broker.start();
process.send({ type: "ready" });
