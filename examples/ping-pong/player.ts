import { addressFromWire, defineActor } from "../../runtime/index.js";
import { GetStats, Ping, Pong, Stats } from "./messages.js";

interface PlayerState {
  readonly pings: number;
  readonly pongs: number;
  readonly outOfOrder: number;
  /** Last Pong seq seen from each node, to check per-sender order. */
  readonly lastSeq: ReadonlyMap<string, number>;
}

/**
 * Answers every Ping with a Pong (to `replyTo` when the Ping carries a ref, else to the sender) and
 * tallies the Pongs it receives, checking that each node's arrive in order.
 */
export const player = defineActor({
  kind: "ping-pong.player",
  messages: { Ping, Pong, GetStats },
  init: (): PlayerState => ({ pings: 0, pongs: 0, outOfOrder: 0, lastSeq: new Map() }),
  handlers: {
    Ping: (state, ping, ctx) => {
      const pong = Pong.create({ seq: ping.seq, node: ctx.nodeId });
      const replyTo = addressFromWire(ping.replyTo);
      if (replyTo) ctx.refFor(replyTo).tell(pong, ctx.self);
      else ctx.reply(pong);
      return { ...state, pings: state.pings + 1 };
    },
    Pong: (state, pong) => {
      const last = state.lastSeq.get(pong.node);
      const inOrder = last === undefined || pong.seq === last + 1;
      const lastSeq = new Map(state.lastSeq).set(pong.node, pong.seq);
      return { ...state, pongs: state.pongs + 1, outOfOrder: state.outOfOrder + (inOrder ? 0 : 1), lastSeq };
    },
    GetStats: (state, _get, ctx) => {
      ctx.reply(Stats.create({ pings: state.pings, pongs: state.pongs, outOfOrder: state.outOfOrder, node: ctx.nodeId }));
    },
  },
});
