// A bank whose accounts are entities spread over the worker nodes: tellers on the coordinator make
// concurrent random transfers between them, then the run checks that the money still balances, both
// as the accounts answer and as the state store holds it.
import { decodeEntityObject, defineTopology, openStateStore, type ActorSystem, type StateStore } from "../../runtime/index.js";
import { Account, GetBalance, OPENING_CENTS, Transfer, TransferResult, account } from "./account.js";

const ACCOUNTS = 40;
const TRANSFERS = 1_000;
const TELLERS = 96;
const KEYS = Array.from({ length: ACCOUNTS }, (_, i) => `acct-${String(i).padStart(3, "0")}`);

/** Where a run's accounts live in the store: `<prefix>/account/<key>` (a prefix per run, so runs never mix). */
const prefixOf = (system: string): string => `bank/${system}`;

/** A small deterministic random number generator (mulberry32), so every run makes the same transfers. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export default defineTopology({
  name: "bank",
  description: "accounts as entities under concurrent transfers across nodes; the total must not change",
  types: [Transfer, TransferResult, GetBalance, Account],
  entities: [account],

  worker(system) {
    const url = process.env.TROUPE_STATE;
    if (!url) throw new Error("TROUPE_STATE is not set: run the bank with `troupe run bank`");
    // Each worker owns its store: a node never closes the store it hosts entities with.
    const store = openStateStore(url);
    system.hostEntities(account, { store, prefix: prefixOf(system.name), writeEveryMs: url.startsWith("gs:") ? 1_000 : 0 });
  },

  async main({ system, workers, state, log, progress }) {
    await accountsHosted(system, workers.length);
    const next = random(7);
    let made = 0;
    let declined = 0;
    let sent = 0;
    const teller = async (): Promise<void> => {
      while (sent < TRANSFERS) {
        const id = `t${++sent}`;
        const from = KEYS[Math.floor(next() * ACCOUNTS)]!;
        let to = KEYS[Math.floor(next() * ACCOUNTS)]!;
        if (to === from) to = KEYS[(KEYS.indexOf(from) + 1) % ACCOUNTS]!;
        const cents = 1 + Math.floor(next() * 5_000);
        const result = await system.entityRef(account, from).ask(Transfer.create({ id, to, cents }), TransferResult, { timeoutMs: 30_000 });
        if (result.ok) made++;
        else declined++;
        progress({ jobId: "transfers", done: made + declined, total: TRANSFERS, skipped: 0, inFlight: sent - made - declined, awaitingDurable: 0, failed: 0, retried: 0 });
      }
    };
    await Promise.all(Array.from({ length: TELLERS }, teller));

    // Deposits are told after each withdrawal is durable: wait until every one has landed.
    const expected = ACCOUNTS * OPENING_CENTS;
    let balances = await balancesNow(system);
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && !balanced(balances, expected, made); ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      balances = await balancesNow(system);
    }
    const total = sum(balances.map((a) => a.cents));
    const stored = await storedBalances(state, prefixOf(system.name));
    const storedMatches = stored === undefined || balances.every((a, i) => a.cents === stored[i]!.cents && a.transfersIn === stored[i]!.transfersIn && a.transfersOut === stored[i]!.transfersOut);
    const overdrawn = balances.filter((a) => a.cents < 0).length;
    if (!storedMatches) log("the stored accounts differ from what the accounts answer");
    return {
      tasks: TRANSFERS,
      state: `${state} ${prefixOf(system.name)}/account/`,
      verified: balanced(balances, expected, made) && storedMatches && overdrawn === 0,
      summary: [
        `${made} transfers made, ${declined} declined (insufficient funds) between ${ACCOUNTS} accounts on ${workers.length} nodes`,
        `total ${cents(total)} (expected ${cents(expected)}); stored state ${stored === undefined ? "not checked (memory: is per process)" : storedMatches ? "matches" : "DIFFERS"}`,
        ...(stored === undefined ? [] : [`look: troupe entities account --state ${state} --prefix ${prefixOf(system.name)}   (add \`acct-000 --topology bank\` for one account)`]),
      ],
      details: { accounts: ACCOUNTS, made, declined, totalCents: total, expectedCents: expected, storedChecked: stored !== undefined, storedMatches, overdrawn },
    };
  },
});

/** Waits until the coordinator has heard every worker announce the account kind: before that it knows no owner. */
async function accountsHosted(system: ActorSystem, workers: number): Promise<void> {
  for (const deadline = Date.now() + 10_000; system.nodes().filter((n) => n.kinds.includes("entity.account")).length < workers; ) {
    if (Date.now() > deadline) throw new Error(`only ${system.nodes().filter((n) => n.kinds.includes("entity.account")).length} of ${workers} workers host accounts after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function balancesNow(system: ActorSystem): Promise<InstanceType<typeof Account>[]> {
  return Promise.all(KEYS.map((key) => system.entityRef(account, key).ask(GetBalance.create(), Account, { timeoutMs: 30_000 })));
}

/** The money is all there, and every transfer made was deposited exactly once. */
function balanced(accounts: readonly InstanceType<typeof Account>[], expected: number, made: number): boolean {
  return sum(accounts.map((a) => a.cents)) === expected && sum(accounts.map((a) => a.transfersIn)) === made && sum(accounts.map((a) => a.transfersOut)) === made;
}

/** The accounts as the store holds them (in KEYS order), or undefined for memory: (each process has its own). */
async function storedBalances(url: string, prefix: string): Promise<InstanceType<typeof Account>[] | undefined> {
  if (url === "memory:") return undefined;
  const store: StateStore = openStateStore(url);
  try {
    return await Promise.all(
      KEYS.map(async (key) => {
        const object = await store.read(`${prefix}/account/${key}`);
        return object === undefined ? Account.create({ cents: OPENING_CENTS }) : Account.decode(decodeEntityObject(object.bytes).state);
      }),
    );
  } finally {
    await store.close();
  }
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
const cents = (value: number): string => `${(value / 100).toFixed(2)}`;
