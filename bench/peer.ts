// The second node of the remote benchmarks, run by the driver as its own process:
//   node --import tsx bench/peer.ts <nats-url>
// It joins system "bench" as node "peer" with an echo actor, answers plain nats.js requests on
// RAW_ECHO_SUBJECT, and sends Blobs when the driver asks (over the Node IPC channel). It exits when
// told to, and by itself when the driver goes away, so it can never outlive a run.
import { connect } from "@nats-io/transport-node";
import { ActorSystem, connectNats } from "../runtime/index.js";
import { echo, serveRawEcho } from "./echo.js";
import { Ack, Blob, blob, payloadOf } from "./messages.js";
import { ECHO_NAME, PEER_NODE_ID, SYSTEM_NAME, type FromPeer, type ToPeer } from "./peer-protocol.js";
import { Credit, sendBlobs } from "./tell-flow.js";

const natsUrl = process.argv[2];
if (!natsUrl || !process.send) {
  console.error("bench/peer.ts is started by bench/run.ts (it needs an IPC channel and a NATS URL)");
  process.exit(2);
}
process.on("disconnect", () => process.exit(0));

const post = (message: FromPeer): void => void process.send?.(message);

const raw = await connect({ servers: natsUrl, name: "bench-peer-raw" });
const system = await ActorSystem.start({ name: SYSTEM_NAME, nodeId: PEER_NODE_ID, transport: await connectNats({ servers: natsUrl }), types: [Blob, Ack] });
system.spawn(echo, { name: ECHO_NAME, mailbox: { capacity: Infinity } });
// The same echo as a service, for service-ask: the peer is the one member of its queue group.
system.serve(echo, { name: ECHO_NAME, mailbox: { capacity: Infinity } });
serveRawEcho(raw);
await raw.flush();

const credit = new Credit();

async function send(command: Extract<ToPeer, { type: "send" }>): Promise<void> {
  credit.reset(command.flow?.window);
  const chunk = command.flow?.chunk;
  const data = command.payloadBytes === undefined ? undefined : payloadOf(command.payloadBytes);
  const make = data === undefined ? blob : (seq: number) => Blob.create({ seq, data });
  try {
    let ms: number;
    if (command.mode === "troupe") {
      const target = system.refFor<Blob>(command.target);
      ms = await sendBlobs(command.n, (seq) => target.tell(make(seq)), () => system.transport.flush(), credit, chunk);
    } else {
      const subject = command.subject;
      ms = await sendBlobs(command.n, (seq) => raw.publish(subject, Blob.encode(make(seq)).finish()), () => raw.flush(), credit, chunk);
    }
    post({ type: "done", id: command.id, result: { sent: command.n, ms } });
  } catch (error) {
    post({ type: "failed", id: command.id, error: error instanceof Error ? error.message : String(error) });
  }
}

async function exit(): Promise<void> {
  try {
    await system.shutdown();
    await raw.close();
  } finally {
    process.exit(0);
  }
}

process.on("message", (message: ToPeer) => {
  switch (message.type) {
    case "send":
      void send(message);
      break;
    case "ack":
      credit.ack(message.count);
      break;
    case "exit":
      void exit();
      break;
  }
});
post({ type: "ready" });
