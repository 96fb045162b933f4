import { defineActor } from "../../runtime/index.js";
import { demo } from "./gen/messages.js";

export const { Add, Get, Total } = demo.counter;

export const counter = defineActor({
  kind: "demo.counter",
  messages: { Add, Get },
  init: (start: number) => ({ total: start }),
  handlers: {
    Add: (state, add) => ({ total: state.total + add.amount }),
    Get: (state, _get, ctx) => ctx.reply(Total.create({ value: state.total, node: ctx.nodeId })),
  },
});
