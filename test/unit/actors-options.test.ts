import { expect } from "chai";
import { actorsCommand, MAX_ROSTER_NODES } from "../../runtime/cli/actors-command.js";
import { UsageError } from "../../runtime/cli/parse-options.js";
import { VERBS } from "../../runtime/cli/usage.js";

/** What `troupe actors <args>` ends with: the UsageError it threw (the CLI prints it with usage and exits 2), or its exit code. */
async function outcome(args: string[]): Promise<UsageError | number> {
  try {
    return await actorsCommand(args);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
}

describe("troupe actors: options", () => {
  const saved = { url: process.env.NATS_URL, error: console.error };
  beforeEach(() => {
    // No server to ask: a call whose options pass stops at connecting, says so on stderr (kept quiet
    // here), and exits 1.
    delete process.env.NATS_URL;
    console.error = () => {};
  });
  afterEach(() => {
    if (saved.url === undefined) delete process.env.NATS_URL;
    else process.env.NATS_URL = saved.url;
    console.error = saved.error;
  });

  it("actors: --page * --nodes-page over 100,000 is a usage error naming the limit", async () => {
    expect(MAX_ROSTER_NODES).to.equal(100_000);
    for (const args of [["--page", "1001"], ["--page", "11", "--nodes-page", "10000"], ["--page", String(Number.MAX_SAFE_INTEGER), "--nodes-page", "1"]]) {
      const result = await outcome(args);
      expect(result, args.join(" ")).to.be.instanceOf(UsageError);
      const error = result as UsageError;
      expect(error.verb).to.equal(VERBS.actors);
      expect(error.message).to.match(/^--page \d+ with --nodes-page \d+ would read the roster's first \d+ nodes; at most 100000 are read \(--page \* --nodes-page <= 100000\)$/);
    }
    expect(((await outcome(["--page", "11", "--nodes-page", "10000"])) as UsageError).message).to.contain("--page 11 with --nodes-page 10000 would read the roster's first 110000 nodes");
  });

  it("actors: --page * --nodes-page of exactly 100,000 is accepted (the default page size allows page 1,000)", async () => {
    expect(await outcome(["--page", "1000"])).to.equal(1);
    expect(await outcome(["--page", "10", "--nodes-page", "10000"])).to.equal(1);
  });

  it("actors: a --page that is not a whole number from 1 is still refused as such", async () => {
    for (const page of ["0", "1.5", "x"]) expect(((await outcome(["--page", page])) as UsageError).message).to.match(/^--page must be a whole number from 1 to /);
  });
});
