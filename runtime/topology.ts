import type { ActorDefinition } from "./actor-definition.js";
import type { ActorSystem } from "./actor-system.js";
import type { JobProgress } from "../actors/work/job-spec.js";
import type { MessageType } from "./codec/message-type.js";
import type { EntityDefinition } from "./entities/entity-definition.js";

/** What `troupe run` hands a topology's coordinator. */
export interface TopologyRunContext {
  /** The coordinator's node. */
  readonly system: ActorSystem;
  /** Ids of the worker nodes, each a separate `troupe node` process, all ready. */
  readonly workers: readonly string[];
  /** Where results should live (a URL such as file:///dir). */
  readonly state: string;
  /** True when `--state` was not given and `state` is the local default directory. */
  readonly stateIsDefault: boolean;
  /** Progress for people; goes to stderr so `--json` output stays clean. */
  readonly log: (line: string) => void;
  /** Job progress for people: a bar on a terminal, a line every 2 s otherwise (pass to `runJob`'s `onProgress`). */
  readonly progress: (progress: JobProgress) => void;
  /** Where this run records its trace (`--trace FILE`), when it does. */
  readonly traceFile?: string;
}

export interface TopologyResult {
  /** Units of work done (messages, tasks, images...). */
  readonly tasks: number;
  /** Where the result lives, or null when the topology keeps none. */
  readonly state: string | null;
  /** True only after the result was compared with an independently computed expectation. */
  readonly verified?: boolean;
  /** Lines printed for people at the end of the run. */
  readonly summary?: readonly string[];
  /** Extra figures, included in the `--json` summary. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * A runnable topology: what each worker node hosts, and what the coordinator does with them.
 * `troupe run <name|./file.ts>` loads a module whose default export is one of these.
 */
export interface Topology {
  readonly name: string;
  readonly description?: string;
  /** Protobuf classes every node of the topology must decode. */
  readonly types?: readonly MessageType[];
  /** Actor kinds every worker node hosts, so that supervisors can place children there. */
  readonly kinds?: readonly ActorDefinition<any, any, any>[];
  /**
   * Entity kinds of the topology (hosted by its `worker` hook with `system.hostEntities`): `troupe
   * entities --topology` decodes their stored states with these definitions.
   */
  readonly entities?: readonly EntityDefinition[];
  /** Runs on each worker node once it is connected, before it reports ready. Under `troupe run`, `TROUPE_STATE` holds the run's state URL. */
  worker?(system: ActorSystem): void | Promise<void>;
  /** Runs on the coordinator once every worker is ready. */
  main(ctx: TopologyRunContext): Promise<TopologyResult>;
}

export function defineTopology(topology: Topology): Topology {
  return topology;
}
