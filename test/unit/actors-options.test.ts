import { expect } from "chai";
import { actorsCommand, MAX_ROSTER_NODES, nextPageNote } from "../../runtime/cli/actors-command.js";
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

  it("actors: a --page past the roster's first 100,000 nodes is a usage error stating the real maximum for the --nodes-page given", async () => {
    expect(MAX_ROSTER_NODES).to.equal(100_000);
    const cases: [string[], string][] = [
      [["--page", "1001"], "--page must be a whole number from 1 to 1000; got 1001"],
      [["--page", "11", "--nodes-page", "10000"], "--page must be a whole number from 1 to 10; got 11"],
      [["--page", "34", "--nodes-page", "3000"], "--page must be a whole number from 1 to 33; got 34"],
      [["--page", String(Number.MAX_SAFE_INTEGER), "--nodes-page", "1"], `--page must be a whole number from 1 to 100000; got ${Number.MAX_SAFE_INTEGER}`],
    ];
    for (const [args, message] of cases) {
      const result = await outcome(args);
      expect(result, args.join(" ")).to.be.instanceOf(UsageError);
      expect((result as UsageError).verb).to.equal(VERBS.actors);
      expect((result as UsageError).message).to.equal(message);
    }
  });

  it("actors: --page * --nodes-page of exactly 100,000 is accepted (the default page size allows page 1,000)", async () => {
    expect(await outcome(["--page", "1000"])).to.equal(1);
    expect(await outcome(["--page", "10", "--nodes-page", "10000"])).to.equal(1);
  });

  it("actors: a --page that is not a whole number from 1 is still refused as such", async () => {
    for (const page of ["0", "1.5", "x"]) expect(((await outcome(["--page", page])) as UsageError).message).to.match(/^--page must be a whole number from 1 to /);
  });

  it("actors: the summary points to the next page, and on the last page the cap allows says pages past it are not read", () => {
    expect(nextPageNote(1, 5, 100)).to.equal("; next page: --page 2");
    expect(nextPageNote(999, 2_000, 100)).to.equal("; next page: --page 1000");
    expect(nextPageNote(1_000, 2_000, 100)).to.equal("; pages past 1000 are not read (at most the roster's first 100000 nodes are)");
    expect(nextPageNote(33, 34, 3_000)).to.equal("; pages past 33 are not read (at most the roster's first 100000 nodes are)");
    expect(nextPageNote(5, 5, 100)).to.equal("");
  });
});
