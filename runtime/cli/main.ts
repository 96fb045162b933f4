import { runCommand } from "./run-command.js";
import { nodeCommand } from "./node-command.js";
import { actorsCommand } from "./actors-command.js";
import { nodesCommand } from "./nodes-command.js";
import { traceCommand } from "./trace-command.js";

const USAGE = `troupe — an actor runtime for TypeScript on NATS

Usage:
  troupe run <example|./topology.ts> [--nodes N] [--nats URL] [--state URL] [--trace FILE] [--json]
      Runs a topology: a coordinator here and N worker node processes.
  troupe node [--system NAME] [--node-id ID] [--nats URL] [--module ./topology.ts]
      Starts a worker node that joins a system and hosts the module's actors.
  troupe nodes [--system NAME] [--nats URL] [--json] [--wait MS]
      Lists a system's live nodes (from their heartbeats), the kinds they host and their actor counts.
  troupe actors [--system NAME] [--nats URL] [--json] [--wait MS]
      Shows a system's actor tree across its nodes: path, kind, node, restarts.
  troupe trace FILE [--trace-id ID] [--all] [--html OUT]
      Prints a recorded trace (troupe run --trace FILE) as a tree, or writes it as an HTML timeline.

Without --nats (or NATS_URL), run and node start a private nats-server on a free loopback port.
Examples: image-pipeline, word-count, ping-pong, custom-actor`;

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case "run":
      return runCommand(rest);
    case "node":
      return nodeCommand(rest);
    case "nodes":
      return nodesCommand(rest);
    case "actors":
      return actorsCommand(rest);
    case "trace":
      return traceCommand(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return verb === undefined ? 1 : 0;
    default:
      console.error(`troupe: unknown command ${JSON.stringify(verb)}\n\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`troupe: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
