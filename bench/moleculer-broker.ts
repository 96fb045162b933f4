import moleculer from "moleculer";

/** The action both Moleculer brokers of `peer-moleculer-ask-64` agree on: `echo.blob`, `{ seq, data }` -> `{ seq }`. */
export const MOLECULER_ECHO_ACTION = "echo.blob";

export interface EchoParams {
  readonly seq: number;
  /** The Blob's 100 payload bytes, base64: Moleculer's default serializer is JSON. */
  readonly data: string;
}

export interface EchoReply {
  readonly seq: number;
}

/** A Moleculer broker on nats-server through its NATS transporter (the `nats` 2.x client), quiet and without metrics or tracing. */
export function moleculerBroker(natsUrl: string, nodeID: string): moleculer.ServiceBroker {
  return new moleculer.ServiceBroker({
    namespace: "bench",
    nodeID,
    transporter: { type: "NATS", options: { url: natsUrl } },
    logger: false,
    metrics: false,
    tracing: false,
    requestTimeout: 10_000,
  });
}
