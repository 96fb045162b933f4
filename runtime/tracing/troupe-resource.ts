import { createHash } from "node:crypto";
import { defaultResource, resourceFromAttributes, type Resource } from "@opentelemetry/resources";

export interface TroupeResourceOptions {
  /** `service.name`, per role: `troupe-run` for a run's coordinator, `troupe-node` for a worker node. */
  readonly serviceName: string;
  readonly nodeId?: string;
  readonly system?: string;
}

/** The namespace the semantic conventions give for `service.instance.id` UUIDs made from an inherent id. */
const SERVICE_INSTANCE_ID_NAMESPACE = "4d63009a-8d0f-11ee-aad7-4c796ed8e320";

/**
 * The resource of a Troupe process: the SDK's default (`telemetry.sdk.*`, and `service.name` as a
 * fallback) with `service.name`, `service.instance.id`, `troupe.node.id` and `troupe.system` over it.
 * The SDK's detectors (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, process.*, host.*) are merged
 * over this when it starts, so the user's variables win.
 *
 * `service.instance.id` must be unique per (service.namespace, service.name); node ids repeat from
 * run to run (`worker-1`), so it is the UUID v5 the conventions ask for, made from `system/nodeId`:
 * stable for a node of a system, different per process, and computable from what the spans carry.
 */
export function troupeResource(options: TroupeResourceOptions): Resource {
  const attributes: Record<string, string> = { "service.name": options.serviceName };
  if (options.nodeId) {
    attributes["service.instance.id"] = uuidV5(options.system === undefined ? options.nodeId : `${options.system}/${options.nodeId}`, SERVICE_INSTANCE_ID_NAMESPACE);
    attributes["troupe.node.id"] = options.nodeId;
  }
  if (options.system) attributes["troupe.system"] = options.system;
  return defaultResource().merge(resourceFromAttributes(attributes));
}

/** RFC 4122 (9562) version 5: SHA-1 of the namespace's bytes and the name, with version and variant set. */
export function uuidV5(name: string, namespace: string): string {
  const bytes = createHash("sha1")
    .update(Buffer.from(namespace.replace(/-/g, ""), "hex"))
    .update(name, "utf8")
    .digest()
    .subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
