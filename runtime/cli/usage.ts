/**
 * Every verb of the `troupe` command: its options (the node:util parseArgs config, plus the words
 * its usage shows) and its usage text. Commands parse with these specs, so a verb's `--help` always
 * lists exactly the options it accepts. This file imports nothing, so `--help` stays instant.
 */

export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  readonly default?: string | boolean;
  /** What the value looks like in the usage, e.g. `N`, `URL`. */
  readonly value?: string;
  readonly help: string;
  /** Passed by other commands, not by people: accepted, not listed. */
  readonly hidden?: boolean;
}

export interface VerbSpec {
  readonly name: string;
  /** What follows `troupe <verb>` in the usage line. */
  readonly synopsis: string;
  /** One line, for `troupe --help`. */
  readonly summary: string;
  readonly description?: string;
  /** How many positional arguments the verb takes, and what to say when they are missing. */
  readonly positionals: { readonly min: number; readonly max: number; readonly missing?: string };
  readonly options: Readonly<Record<string, OptionSpec>>;
}

const NATS_HELP = "NATS servers, comma-separated (default: NATS_URL, else a private nats-server\non a free loopback port)";

export const VERBS = {
  run: {
    name: "run",
    synopsis: "<example|./topology.js> [options]",
    summary: "Runs a topology: a coordinator here and N worker node processes.",
    description:
      "Loads a module whose default export is made with defineTopology (a path: anything with a '/' or a\n" +
      ".js/.ts ending; .ts needs tsx or a Node that strips types) or a bundled example by name, starts the\n" +
      "worker nodes, runs the topology's main on a coordinator node in this process, prints a summary and\n" +
      "stops everything. Exit code 0 when the run succeeded, 1 when it failed or its check did not pass,\n" +
      "2 when called wrongly, 130 on Ctrl-C.",
    positionals: { min: 1, max: 1, missing: "troupe run needs an example name or a topology module, e.g. `troupe run ./dist/topology.js`" },
    options: {
      nodes: { type: "string", default: "2", value: "N", help: "worker node processes, 1 to 64" },
      nats: { type: "string", value: "URL[,URL]", help: NATS_HELP },
      state: { type: "string", value: "URL", help: "where state goes: file:///dir, gs://bucket/prefix or memory:\n(default file://<cwd>/.troupe/state)" },
      cache: { type: "string", value: "URL", help: "a result cache for the topology's workers (TROUPE_CACHE on every node): memory:,\nnats-kv: (on the run's NATS) or redis://host:port" },
      trace: { type: "string", value: "FILE", help: "record the spans of every node to FILE (view with `troupe trace FILE`);\nOTEL_EXPORTER_OTLP_ENDPOINT (and the other OTEL_* variables) sends them to a collector" },
      system: { type: "string", value: "NAME", help: "system name (default <topology name>-<random hex>)" },
      json: {
        type: "boolean",
        default: false,
        help: "progress to stderr; the last stdout line is one JSON object: ok, example,\nnodes, tasks, durationMs, state, traceId, ... (on failure: ok false and error)",
      },
    },
  },
  node: {
    name: "node",
    synopsis: "[options]",
    summary: "Starts a worker node that joins a system and hosts the module's actors.",
    description:
      'Prints {"event":"ready",...} on stdout once it can receive messages, then runs until SIGINT or\n' +
      "SIGTERM (drains, exit 0) or until its NATS connection closes for good (exit 1).",
    positionals: { min: 0, max: 0 },
    options: {
      system: { type: "string", default: "troupe", value: "NAME", help: "the system to join" },
      "node-id": { type: "string", value: "ID", help: "this node's id (default <hostname>-<pid>-<random>)" },
      nats: { type: "string", value: "URL[,URL]", help: NATS_HELP },
      module: { type: "string", value: "FILE", help: "topology module: its types and kinds are registered here and its\nworker hook runs here" },
      trace: { type: "string", value: "FILE", help: "append this node's spans to FILE; OTEL_EXPORTER_OTLP_ENDPOINT (and the\nother OTEL_* variables) sends them to a collector" },
      "metrics-port": { type: "string", value: "N", help: "serve Prometheus metrics at http://<host>:N/metrics (all interfaces, or\nOTEL_EXPORTER_PROMETHEUS_HOST); OTEL_METRICS_EXPORTER=otlp pushes them instead" },
      "shutdown-ms": {
        type: "string",
        default: "10000",
        value: "MS",
        help: "after SIGINT/SIGTERM, exit (code 1) if draining has not finished by then,\nwhatever state the connection is in",
      },
      "exit-with-stdin": { type: "boolean", default: false, help: "stop when stdin closes (set by troupe run)", hidden: true },
    },
  },
  nodes: {
    name: "nodes",
    synopsis: "[options]",
    summary: "Lists a system's live nodes, the kinds they host and their actor counts.",
    description:
      "Asks one node for its roster (one request per 1,000 nodes, answered by that node) and prints --limit\n" +
      "nodes at a time in node id order, with the total; --after NODE gives the next page.",
    positionals: { min: 0, max: 0 },
    options: {
      system: { type: "string", default: "troupe", value: "NAME", help: "the system to look at" },
      nats: { type: "string", value: "URL[,URL]", help: "the NATS servers the nodes use (default NATS_URL)" },
      json: { type: "boolean", default: false, help: "print one JSON object { system, answerer, total, complete, nodes[, next] } (complete: false when the listing was cut off\nor nodes were refused)" },
      wait: { type: "string", default: "3000", value: "MS", help: "how long to wait for the roster" },
      limit: { type: "string", default: "1000", value: "N", help: "most nodes listed, 1 to 100000" },
      after: { type: "string", value: "NODE", help: "list the nodes after NODE (the next page)" },
    },
  },
  actors: {
    name: "actors",
    synopsis: "[options]",
    summary: "Shows a system's actor tree across its nodes: path, kind, node, restarts.",
    description:
      "Reads the roster from one node, then asks a page of nodes (--nodes-page, in node id order) for their\n" +
      "actors, --concurrency at a time, each on its own subject; prints the totals: nodes in the system,\n" +
      "nodes shown, actors shown. Live entity copies are listed too, at /entity/<kind>/<key> with kind\n" +
      "entity.<kind>, on the node that holds them.",
    positionals: { min: 0, max: 0 },
    options: {
      system: { type: "string", default: "troupe", value: "NAME", help: "the system to look at" },
      nats: { type: "string", value: "URL[,URL]", help: "the NATS servers the nodes use (default NATS_URL)" },
      json: { type: "boolean", default: false, help: "print one JSON object { system, actors, total, nodes, missing } (nodes.complete: false when the\nroster was cut off before the page's end or nodes were refused)" },
      wait: { type: "string", default: "500", value: "MS", help: "how long to wait for each node's answer" },
      "nodes-page": { type: "string", default: "100", value: "N", help: "nodes asked per page of the listing, 1 to 10000" },
      page: { type: "string", default: "1", value: "P", help: "which page of nodes to list (in node id order); --page * --nodes-page at most 100000" },
      concurrency: { type: "string", default: "16", value: "N", help: "nodes asked at a time, 1 to 1000" },
    },
  },
  entities: {
    name: "entities",
    synopsis: "<kind> [<key>] --state URL [options]",
    summary: "Lists the stored entities of a kind, or prints one entity's state, generation and reminders.",
    description:
      "Reads the state store directly (no system needs to run): objects <prefix>/<kind>/<key>. Without a\n" +
      "key, lists keys in order with their generation and size, --limit at a time, with the total; --after\n" +
      "KEY gives the next page. With a key, prints its generation, pending reminders and the state decoded\n" +
      "with the kind's definition from --topology (a module or example whose defineTopology lists\n" +
      "`entities`), or its bytes in base64 when the kind is not known there. gs:// URLs honour\n" +
      "STORAGE_EMULATOR_HOST. Exit code 1 when the entity is not stored.",
    positionals: { min: 1, max: 2, missing: "troupe entities needs an entity kind, e.g. `troupe entities account --state gs://bucket/prefix`" },
    options: {
      state: { type: "string", value: "URL", help: "where the states are: gs://bucket/prefix, file:///dir (required)" },
      prefix: { type: "string", default: "entities", value: "P", help: "first segment of the state keys (hostEntities' prefix)" },
      topology: { type: "string", value: "FILE|EXAMPLE", help: "a topology module or bundled example whose `entities` give the state types" },
      "key-prefix": { type: "string", value: "K", help: "list only keys starting with K" },
      after: { type: "string", value: "KEY", help: "list keys after KEY (the next page)" },
      limit: { type: "string", default: "100", value: "N", help: "most entities listed, 1 to 10000" },
      json: { type: "boolean", default: false, help: "print one JSON object" },
    },
  },
  top: {
    name: "top",
    synopsis: "[options]",
    summary: "A live view of a system in the terminal: nodes, busiest actors, rates, dead letters.",
    description:
      "Refreshes every second: the nodes (actors, messages/s, dead letters/s, restarts, age, last heard),\n" +
      "then the busiest actors by messages processed per second and by mailbox. Only observes (the monitor\n" +
      "role's permissions suffice; NATS_INBOX_PREFIX as for `troupe actors`). On a terminal, q or Ctrl-C\n" +
      "quits; when stdout is not a terminal it prints a plain snapshot every second.",
    positionals: { min: 0, max: 0 },
    options: {
      system: { type: "string", default: "troupe", value: "NAME", help: "the system to look at" },
      nats: { type: "string", value: "URL[,URL]", help: "the NATS servers the nodes use (default NATS_URL)" },
      once: { type: "boolean", default: false, help: "print one snapshot (rates over one second) and exit" },
      json: { type: "boolean", default: false, help: "print one snapshot as a JSON object and exit" },
      wait: { type: "string", default: "400", value: "MS", help: "how long each refresh waits for the nodes' actor lists" },
    },
  },
  dashboard: {
    name: "dashboard",
    synopsis: "[options]",
    summary: "Serves a live web page of a system on 127.0.0.1: nodes, actor tree, rates, dead letters.",
    description:
      "Prints the page's URL, then serves it until SIGINT or SIGTERM. The page is self-contained (nothing\n" +
      "from elsewhere) and updates every second over Server-Sent Events. Only observes, as `troupe top`.",
    positionals: { min: 0, max: 0 },
    options: {
      system: { type: "string", default: "troupe", value: "NAME", help: "the system to look at" },
      nats: { type: "string", value: "URL[,URL]", help: "the NATS servers the nodes use (default NATS_URL)" },
      port: { type: "string", default: "0", value: "N", help: "the port on 127.0.0.1 (0: a free one)" },
      wait: { type: "string", default: "400", value: "MS", help: "how long each refresh waits for the nodes' actor lists" },
    },
  },
  trace: {
    name: "trace",
    synopsis: "FILE [options]",
    summary: "Prints a trace recorded by `troupe run --trace` as a tree, or as an HTML timeline.",
    positionals: { min: 1, max: 1, missing: "troupe trace needs a trace file, as written by `troupe run --trace FILE`" },
    options: {
      "trace-id": { type: "string", value: "ID", help: "the trace to show (default: the one with the most spans)" },
      all: { type: "boolean", default: false, help: "show every span, also the repetitive ones" },
      html: { type: "string", value: "OUT", help: "write a self-contained HTML timeline to OUT instead" },
    },
  },
  proto: {
    name: "proto",
    synopsis: "<file.proto...> --out DIR [options]",
    summary: "Generates ES-module JavaScript and .d.ts for your .proto files (protobufjs static code).",
    description:
      "Writes DIR/NAME.js and DIR/NAME.d.ts. Troupe's own contracts are on the include path, so a file can\n" +
      'say `import "troupe/address.proto";` and carry actor references as troupe.ActorAddress fields.\n' +
      "The generated code imports protobufjs, which your app installs (a peer dependency of troupe).",
    positionals: { min: 1, max: Infinity, missing: "troupe proto needs at least one .proto file, e.g. `troupe proto proto/messages.proto --out src/gen`" },
    options: {
      out: { type: "string", value: "DIR", help: "output folder (required)" },
      name: { type: "string", default: "messages", value: "NAME", help: "output file name without extension" },
      root: {
        type: "string",
        value: "NAME",
        help: "protobufjs root name; each generated module needs its own\n(default: from your package name, the output folder and NAME)",
      },
      path: { type: "string", short: "I", multiple: true, value: "DIR", help: "also look for imported .proto files in DIR (repeatable)" },
    },
  },
  init: {
    name: "init",
    synopsis: "<dir> [options]",
    summary: "Writes a starter app into a new (or empty) folder: an actor, a topology, a test.",
    description: "Then: cd <dir> && npm install && npm test && npm start",
    positionals: { min: 1, max: 1, missing: "troupe init needs a folder to create, e.g. `troupe init my-app`" },
    options: {
      troupe: { type: "string", value: "SPEC", help: "the troupe dependency to write into package.json (default ^<this version>)" },
    },
  },
} as const satisfies Readonly<Record<string, VerbSpec>>;

export type VerbName = keyof typeof VERBS;

export function isVerb(name: string): name is VerbName {
  return Object.hasOwn(VERBS, name);
}

const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", help: "show this help" };

/** `troupe <verb> --help`. */
export function verbUsage(spec: VerbSpec): string {
  const rows = [...Object.entries(spec.options), ["help", HELP_OPTION] as const]
    .filter(([, option]) => !option.hidden)
    .map(([name, option]) => {
      const flag = `${option.short ? `-${option.short}, ` : "    "}--${name}${option.value ? ` ${option.value}` : ""}`;
      const shown = typeof option.default === "string" ? ` (default ${option.default})` : "";
      return [flag, `${option.help}${shown}`] as const;
    });
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const options = rows.map(([flag, help]) => `  ${flag.padEnd(width)}${help.split("\n").join(`\n  ${" ".repeat(width)}`)}`);
  return [`Usage: troupe ${spec.name} ${spec.synopsis}`, "", spec.summary, ...(spec.description ? ["", spec.description] : []), "", "Options:", ...options].join("\n");
}

/** `troupe --help`. */
export function mainUsage(): string {
  const specs: readonly VerbSpec[] = Object.values(VERBS);
  const width = Math.max(...specs.map((s) => s.name.length)) + 3;
  return [
    "troupe — an actor runtime for TypeScript on NATS",
    "",
    "Usage: troupe <command> [options]",
    "",
    "Commands:",
    ...specs.map((s) => `  ${s.name.padEnd(width)}${s.summary}`),
    "",
    "`troupe <command> --help` shows a command's options; `troupe --version` prints the version.",
    "Exit codes: 0 done, 1 failed, 2 called wrongly (an unknown option, a missing argument).",
    "Without --nats (or NATS_URL), run and node start a private nats-server on a free loopback port.",
  ].join("\n");
}
