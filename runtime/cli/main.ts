import { troupeVersion } from "../package-root.js";
import { didYouMean } from "./did-you-mean.js";
import { UsageError } from "./parse-options.js";
import { isVerb, mainUsage, verbUsage, VERBS, type VerbName } from "./usage.js";
import { printable } from "../printable.js";

type Command = (args: string[]) => number | Promise<number>;

// Loaded on use: `troupe --help` or `troupe proto` never loads NATS, the codec or the tracing API.
const COMMANDS: Record<VerbName, () => Promise<Command>> = {
  run: async () => (await import("./run-command.js")).runCommand,
  node: async () => (await import("./node-command.js")).nodeCommand,
  nodes: async () => (await import("./nodes-command.js")).nodesCommand,
  actors: async () => (await import("./actors-command.js")).actorsCommand,
  entities: async () => (await import("./entities-command.js")).entitiesCommand,
  top: async () => (await import("./top-command.js")).topCommand,
  dashboard: async () => (await import("./dashboard-command.js")).dashboardCommand,
  trace: async () => (await import("./trace-command.js")).traceCommand,
  proto: async () => (await import("./proto-command.js")).protoCommand,
  init: async () => (await import("./init-command.js")).initCommand,
};

const TOP_LEVEL = ["--help", "-h", "--version", "-v", "help", ...Object.keys(VERBS)];

/** Runs one `troupe` invocation and resolves with its exit code: 0 ok, 1 failed, 2 called wrongly. */
async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined) {
    console.error(mainUsage());
    return 2;
  }
  if (verb === "--help" || verb === "-h") {
    console.log(mainUsage());
    return 0;
  }
  if (verb === "help") {
    const topic = rest[0];
    if (topic !== undefined && isVerb(topic)) console.log(verbUsage(VERBS[topic]));
    else console.log(mainUsage());
    return 0;
  }
  if (verb === "--version" || verb === "-v") {
    console.log(troupeVersion());
    return 0;
  }
  if (!isVerb(verb)) {
    const what = verb.startsWith("-") ? "option" : "command";
    console.error(`troupe: unknown ${what} ${JSON.stringify(verb)}${didYouMean(verb, TOP_LEVEL)}\n\n${mainUsage()}`);
    return 2;
  }
  try {
    return await (await COMMANDS[verb]())(rest);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`troupe ${verb}: ${error.message}\n\n${verbUsage(error.verb)}`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // An error's message may quote what came over the wire (a node id, an actor's failure).
    console.error(`troupe: ${printable(error instanceof Error ? error.message : String(error))}`);
    process.exitCode = 1;
  },
);
