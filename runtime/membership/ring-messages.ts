import protobuf from "protobufjs/minimal.js";
import { MembershipChange, MembershipDigest, NodeHeartbeat } from "../codec/wire-types.js";
import { hash32 } from "../hash32.js";
import { checkHeartbeat, isNodeId, type Heartbeat, type HeartbeatChecks } from "./heartbeat.js";
import type { HeartbeatRefusal } from "./heartbeat-refusal.js";

/** One change to the roster (`troupe.membership.MembershipChange`), checked. */
export interface Change {
  readonly kind: "joined" | "left" | "lost";
  readonly node: Heartbeat;
  /** Who sent it: the node itself for `joined` and `left`, a monitor for `lost`. */
  readonly reporter: string;
}

/** A `troupe.membership.MembershipDigest`, checked. */
export interface Digest {
  readonly node: string;
  readonly count: number;
  readonly xor: string;
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: HeartbeatRefusal; readonly detail: string };

const KINDS = ["joined", "left", "lost"] as const;

/**
 * What arrived on a node's `membership.to.<node>` subject, told apart without a header by the wire
 * type of field 3, which the three messages declare differently: a `NodeHeartbeat`'s started_at_ms is
 * a double (fixed64), a `MembershipDigest`'s count a varint, a `MembershipChange`'s reporter a string.
 * A message without field 3 is read as a heartbeat (one that started at time 0). Undefined when the
 * bytes are not protobuf at all.
 */
export function kindOfDirect(bytes: Uint8Array): "heartbeat" | "digest" | "change" | undefined {
  try {
    const reader = protobuf.Reader.create(bytes);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const wire = tag & 7;
      if (tag >>> 3 === 3) return wire === 1 ? "heartbeat" : wire === 0 ? "digest" : wire === 2 ? "change" : undefined;
      reader.skipType(wire);
    }
    return "heartbeat";
  } catch {
    return undefined;
  }
}

export function encodeChange(kind: Change["kind"], node: Heartbeat, reporter: string, system: string): Uint8Array {
  return MembershipChange.encode({ kind: KINDS.indexOf(kind), node: NodeHeartbeat.create({ ...node, kinds: [...node.kinds] }), reporter, system }).finish();
}

/** Decodes and checks a change; never throws. The node it carries is checked as a heartbeat is. */
export function decodeChange(bytes: Uint8Array, checks: HeartbeatChecks & { readonly system?: string }): Checked<Change> {
  let m: ReturnType<typeof MembershipChange.decode>;
  try {
    m = MembershipChange.decode(bytes);
  } catch (error) {
    return { ok: false, reason: "malformed", detail: `not a troupe.membership.MembershipChange: ${(error as Error).message}` };
  }
  if (checks.system !== undefined && m.system !== checks.system) {
    return { ok: false, reason: "foreign-system", detail: `membership change of system ${JSON.stringify(m.system.slice(0, 80))}, not ${checks.system}` };
  }
  const kind = KINDS[m.kind as number];
  if (kind === undefined) return { ok: false, reason: "malformed", detail: `membership change of unknown kind ${m.kind}` };
  if (!isNodeId(m.reporter)) return { ok: false, reason: "malformed", detail: `membership change with invalid reporter ${JSON.stringify(m.reporter.slice(0, 80))}` };
  if (!m.node) return { ok: false, reason: "malformed", detail: `${kind} notice from ${m.reporter} names no node` };
  const node = checkHeartbeat(m.node as ReturnType<typeof NodeHeartbeat.decode>, checks);
  if (!node.ok) return { ok: false, reason: node.reason, detail: `${kind} notice from ${m.reporter}: ${node.detail}` };
  return { ok: true, value: { kind, node: node.heartbeat, reporter: m.reporter } };
}

export function encodeDigest(digest: Digest, system: string): Uint8Array {
  return MembershipDigest.encode({ ...digest, system }).finish();
}

export function decodeDigest(bytes: Uint8Array, system: string | undefined): Checked<Digest> {
  let m: ReturnType<typeof MembershipDigest.decode>;
  try {
    m = MembershipDigest.decode(bytes);
  } catch (error) {
    return { ok: false, reason: "malformed", detail: `not a troupe.membership.MembershipDigest: ${(error as Error).message}` };
  }
  if (system !== undefined && m.system !== system) return { ok: false, reason: "foreign-system", detail: `digest of system ${JSON.stringify(m.system.slice(0, 80))}, not ${system}` };
  if (!isNodeId(m.node)) return { ok: false, reason: "malformed", detail: `digest from an invalid node id ${JSON.stringify(m.node.slice(0, 80))}` };
  if (!/^[0-9a-f]{16}$/.test(m.xor)) return { ok: false, reason: "malformed", detail: `digest from ${m.node} with xor ${JSON.stringify(m.xor.slice(0, 40))}, not 16 hex digits` };
  return { ok: true, value: { node: m.node, count: m.count, xor: m.xor } };
}

/**
 * A member's share of the digest's XOR: a 64-bit hash (two seeded `hash32`s) of
 * "<node>/<incarnation>/<kinds joined by ,>", as [high, low] 32-bit halves.
 */
export function memberHash(node: string, incarnation: string, kinds: readonly string[]): readonly [number, number] {
  const text = `${node}/${incarnation}/${kinds.join(",")}`;
  return [hash32(text, 0x64696765), hash32(text, 0x73743634)];
}

export function xorHex(high: number, low: number): string {
  return (high >>> 0).toString(16).padStart(8, "0") + (low >>> 0).toString(16).padStart(8, "0");
}
