import type { NatsConnection } from "@nats-io/transport-node";
import { defineActor } from "../runtime/index.js";
import { Ack, Blob } from "./messages.js";
import { RAW_ECHO_SUBJECT } from "./peer-protocol.js";

/** Answers every Blob with an Ack of the same seq: the far side of the ask benchmarks, local and remote. */
export const echo = defineActor({
  messages: { Blob },
  init: () => undefined,
  handlers: {
    Blob: (_state, message, ctx) => ctx.reply(Ack.create({ seq: message.seq })),
  },
});

/** The same, for the baselines: a plain nats.js responder that decodes the Blob and responds with an Ack. */
export function serveRawEcho(nc: NatsConnection): void {
  nc.subscribe(RAW_ECHO_SUBJECT, {
    callback: (error, msg) => {
      if (!error) msg.respond(Ack.encode(Ack.create({ seq: Blob.decode(msg.data).seq })).finish());
    },
  });
}
