import { defineActor } from "troupe";
import { app } from "./gen/messages.js";

export const { Add, Get, Total } = app;

/** Keeps a running total: `Add` changes it, `Get` is answered with a `Total`. */
export const counter = defineActor({
  kind: "app.counter",
  messages: { Add, Get },
  init: (start: number) => ({ total: start }),
  handlers: {
    Add: (state, add) => ({ total: state.total + add.amount }),
    Get: (state, _get, ctx) => ctx.reply(Total.create({ value: state.total, node: ctx.nodeId })),
  },
});
