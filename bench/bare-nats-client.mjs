// `node bench/bare-nats-client.mjs`: the baseline of bench/node-start.ts, a process that does what a
// node needs NATS for and nothing else: connects to NATS_URL with @nats-io/transport-node, subscribes,
// flushes (the subscription is on the server), prints {"event":"ready"} and idles until killed.
import { connect } from "@nats-io/transport-node";

const nc = await connect({ servers: (process.env.NATS_URL ?? "").split(","), name: "bare-nats-client" });
nc.subscribe(`bare.${process.pid}.>`, { callback: () => {} });
await nc.flush();
console.log(JSON.stringify({ event: "ready" }));
await nc.closed();
