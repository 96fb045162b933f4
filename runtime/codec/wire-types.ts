// The runtime's own protobuf types, generated from proto/troupe/*.proto by `npm run build:proto`.
import { troupe } from "../../proto/gen/troupe.js";
import type { MessageType } from "./message-type.js";

export const ActorAddressProto = troupe.ActorAddress;
export const Envelope = troupe.wire.Envelope;
export const Frame = troupe.wire.Frame;
export const LookupRequest = troupe.system.LookupRequest;
export const LookupReply = troupe.system.LookupReply;
export const Failure = troupe.system.Failure;
export const NodeHeartbeat = troupe.membership.NodeHeartbeat;
export const MembershipChange = troupe.membership.MembershipChange;
export const RosterRequest = troupe.membership.RosterRequest;
export const RosterPage = troupe.membership.RosterPage;
export const MembershipDigest = troupe.membership.MembershipDigest;

/** An envelope as decoded: every field may be absent. */
export type DecodedEnvelope = troupe.wire.Envelope.$Properties;
export type AddressData = troupe.ActorAddress.$Properties;
export type LookupRequest = troupe.system.LookupRequest;
export type LookupReply = troupe.system.LookupReply;
export type Failure = troupe.system.Failure;

/** Types every system registers before any of the user's. */
export const systemTypes: readonly MessageType[] = [
  ActorAddressProto,
  LookupRequest,
  LookupReply,
  Failure,
  troupe.system.Watch,
  troupe.system.Unwatch,
  troupe.system.Terminated,
  troupe.system.SpawnRequest,
  troupe.system.SpawnReply,
  troupe.system.ChildFailed,
  troupe.system.ChildStopped,
  troupe.system.Supervise,
  troupe.system.SuperviseAck,
];
