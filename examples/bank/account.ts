import { defineEntity } from "../../runtime/index.js";
import { bank } from "./gen/messages.js";

export const { Transfer, TransferResult, Deposit, GetBalance, Account } = bank;

/** What every account holds before its first transfer: 100.00. */
export const OPENING_CENTS = 10_000;

/**
 * An account as an entity. A Transfer is asked of the paying account: it withdraws, and once the
 * withdrawal is durable it answers the teller and tells the payee to Deposit (replies and tells wait
 * for the write: a payer that is fenced never sends the deposit). Nothing is ever overdrawn.
 */
export const account = defineEntity({
  kind: "account",
  state: Account,
  initial: () => Account.create({ cents: OPENING_CENTS }),
  messages: { Transfer, Deposit, GetBalance },
  handlers: {
    Transfer: (state, transfer, ctx) => {
      if (transfer.cents <= 0 || transfer.to === ctx.key) return ctx.reply(TransferResult.create({ ok: false, reason: "invalid", balance: state.cents }));
      if (state.cents < transfer.cents) return ctx.reply(TransferResult.create({ ok: false, reason: "insufficient funds", balance: state.cents }));
      const next = Account.create({ ...state, cents: state.cents - transfer.cents, transfersOut: state.transfersOut + 1 });
      ctx.tell(ctx.entityRef("account", transfer.to), Deposit.create({ transfer: transfer.id, cents: transfer.cents }));
      ctx.reply(TransferResult.create({ ok: true, balance: next.cents }));
      return next;
    },
    Deposit: (state, deposit) => Account.create({ ...state, cents: state.cents + deposit.cents, transfersIn: state.transfersIn + 1 }),
    GetBalance: (state, _get, ctx) => ctx.reply(state),
  },
});
