// Troupe's public API (`troupe`): actors, systems, refs, supervision, NATS and in-memory transports,
// state stores, the built-in actors. The optional, heavier parts have entry points of their own:
// `troupe/gcs` (Google Cloud Storage), `troupe/tracing` (the OpenTelemetry SDK), `troupe/metrics`, `troupe/testkit`.
// Everything not exported from an entry point is internal and may change.

export { ActorSystem, type ActorSystemOptions, type SystemEvent, type ActorInfo } from "./actor-system.js";
export {
  defineActor,
  type ActorDefinition,
  type ActorSpec,
  type Handler,
  type HandlerResult,
  type LifecycleHooks,
  type MessageTypes,
  type AcceptedBy,
  type MessagesOf,
  type PropsOf,
} from "./actor-definition.js";
export { ActorRef, type AskOptions } from "./actor-ref.js";
export type { ActorContext, Cancel } from "./actor-context.js";
export type { SpawnOptions } from "./spawn-options.js";
export {
  DEFAULT_SUPERVISOR_SPEC,
  defaultDecider,
  type SupervisorSpec,
  type SupervisionStrategy,
  type ChildRestart,
  type FailureDirective,
  type FailureDecider,
} from "./supervision/supervisor-spec.js";
export { RestartIntensityError } from "./supervision/child-supervisor.js";
export { Terminated, type TerminationReason } from "./watch/termination.js";
export { NoNodeForKindError, type Placement } from "./remote/placement.js";
export { NodeLostError, RemoteChildError } from "./remote/remote-child.js";
export { DEFAULT_MAX_IN_FLIGHT_PER_ROUTEE, DEFAULT_MAX_QUEUED, type RouterConfig } from "./routing/router.js";
export type { PoolConfig } from "./routing/routee-pool.js";
export type { Routee, RoutingStrategy } from "./routing/routing-strategy.js";
export { roundRobin } from "./routing/round-robin.js";
export { random } from "./routing/random.js";
export { smallestMailbox } from "./routing/smallest-mailbox.js";
export { consistentHash } from "./routing/consistent-hash.js";
export { broadcast } from "./routing/broadcast.js";
export { DEFAULT_DRAIN_TIMEOUT_MS, type ServeOptions, type ServiceMember } from "./services/service-member.js";
export type { ServiceRef } from "./services/service-ref.js";
export type { KindOptions } from "./remote/kinds.js";
export {
  Membership,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_FAILURE_TIMEOUT_MS,
  type MembershipOptions,
  type MembershipEvent,
  type NodeInfo,
} from "./membership/membership.js";
export { listNodes } from "./membership/list-nodes.js";
export { DEFAULT_MAILBOX_CAPACITY, type MailboxOptions, type OverflowPolicy } from "./mailbox.js";
export {
  DeadLetters,
  DEFAULT_MAX_DEAD_LETTERS,
  DEFAULT_MAX_DEAD_LETTER_LOG_BYTES,
  DEFAULT_MAX_DEAD_LETTER_KEPT_BYTES,
  type DeadLetter,
  type DeadLetterReason,
  type DeadLetterListener,
  type DeadLetterLimits,
  type LimitName,
} from "./dead-letters.js";
export { DEFAULT_MAX_FRAME_ENVELOPES, DEFAULT_MAX_HEADERS, DEFAULT_MAX_HEADER_BYTES, type FrameLimits } from "./codec/frame-limits.js";
export {
  DEFAULT_MAX_CONTROL_AWAITING_MEMBERSHIP,
  DEFAULT_MAX_HOSTED_CHILDREN_PER_NODE,
  DEFAULT_MAX_WATCHES_PER_NODE,
  type ControlLimits,
} from "./control/control-limits.js";
export { addressFromWire, formatAddress, parseAddress, type Address } from "./address.js";
export { TypeRegistry } from "./codec/type-registry.js";
export { protobufNameOf, type MessageType, type MessageOf } from "./codec/message-type.js";
export {
  AskTimeoutError,
  AskFailedError,
  UnexpectedReplyError,
  MessageTooLargeError,
  UnregisteredTypeError,
  TransportError,
  SystemStoppedError,
} from "./errors.js";
export { systemClock, type Clock, type TimerHandle } from "./clock.js";
export type { Transport, TransportEvent, InboundMessage, Unsubscribe, QueueSubscription } from "./transport/transport.js";
export { MemoryNetwork } from "./transport/memory-network.js";
export { connectNats, type NatsOptions } from "./transport/nats-transport.js";
export { startEmbeddedNats, type EmbeddedNats, type EmbeddedNatsOptions } from "./nats/embedded-nats.js";
export { Subjects, DEFAULT_SUBJECT_PREFIX } from "./subjects.js";
export { defineTopology, type Topology, type TopologyResult, type TopologyRunContext } from "./topology.js";

// Built-in actors: the reducer, workers and the work supervisor.
export * from "../actors/index.js";

// State stores: one interface with optimistic concurrency (generations), chosen by URL.
export {
  GenerationConflictError,
  InvalidKeyError,
  validateKey,
  MAX_KEY_BYTES,
  type StateStore,
  type StoredObject,
  type Expected,
} from "./state/state-store.js";
export { MemoryStore } from "./state/memory-store.js";
export { FileStore, DEFAULT_RETAIN_SUPERSEDED_MS, type FileStoreOptions } from "./state/file-store.js";
export { openStateStore, InvalidStateUrlError, type OpenStateStoreOptions } from "./state/open-state-store.js";
export type { GcsStoreOptions } from "./gcs/gcs-store.js";
export type { GcsRetryOptions, RetryInfo } from "./gcs/gcs-retry.js";
export { MissingDependencyError } from "./optional-dependency.js";
export { CountingStore, type WriteRecord } from "./state/counting-store.js";
export { updateObject, DEFAULT_UPDATE_ATTEMPTS, type UpdateOptions, type UpdateResult } from "./state/update.js";
export { defineEntity, DEFAULT_ENTITY_IDLE_MS, ReminderFired, type EntityDefinition, type EntitySpec, type EntityHandler } from "./entities/entity-definition.js";
export type { EntityContext } from "./entities/entity-context.js";
export { EntityRef, type EntityAskOptions, type EntitySendOptions } from "./entities/entity-ref.js";
export { rendezvous, type EntityPlacement } from "./entities/entity-placement.js";
export { MAX_ENTITY_HOPS, DEFAULT_REMINDER_OPTIONS, DEFAULT_ENTITY_LIMITS, type HostEntitiesOptions, type ActivationInfo, type ReminderOptions } from "./entities/entity-hosting.js";
export { IDEMPOTENCY_KEY_HEADER, MAX_IDEMPOTENCY_KEY_BYTES, DEFAULT_IDEMPOTENCY_WINDOW, type IdempotencyWindow } from "./entities/applied-keys.js";
export { MAX_REMINDER_NAME_BYTES, DEFAULT_MAX_REMINDERS_PER_ENTITY, type ReminderSchedule } from "./entities/entity-reminders.js";
export { decodeEntityObject, type EntityObject } from "./entities/entity-record.js";
export type { TracingOption } from "./tracing/tracing.js";
export type { MetricsOption } from "./metrics/metrics-option.js";
export type { StartTracingOptions, TracingHandle } from "./tracing/start-tracing.js";
