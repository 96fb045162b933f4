import type { ActorDefinition } from "../actor-definition.js";
import type { Subjects } from "../subjects.js";
import type { ActorRef } from "../actor-ref.js";
import type { Headers } from "../tracing/tracing.js";
import { SERVICE_FRONT_PREFIX, ServiceMember, validateServiceName, type ServeOptions, type ServiceMemberHost } from "./service-member.js";

export { SERVICE_FRONT_PREFIX };
import { ServiceRef, type ServiceRefHost } from "./service-ref.js";

/** The services one node serves, and the refs it hands out for services anywhere in the system. */
export class Services {
  private readonly members = new Map<string, ServiceMember>();
  private readonly refs = new Map<string, ServiceRef<any>>();

  constructor(
    private readonly subjects: Subjects,
    private readonly memberHost: ServiceMemberHost,
    private readonly refHost: ServiceRefHost,
  ) {}

  serve(definition: ActorDefinition<any, any, any>, options: ServeOptions<any>): ServiceMember {
    const name = validateServiceName(options.name);
    if (this.members.has(name)) throw new Error(`this node already serves ${JSON.stringify(name)}`);
    const member = new ServiceMember(this.memberHost, definition, options, this.subjects.service(name));
    this.members.set(name, member);
    return member;
  }

  /** Drains this node's member of `name` (see ServiceMember.drain); resolves at once if it serves none. */
  async unserve(name: string): Promise<void> {
    const member = this.members.get(name);
    if (member === undefined) return;
    await member.drain();
    this.members.delete(name);
  }

  /** Delivers to the cache of this node's member of the service at `path` (SERVICE_FRONT_PREFIX + name); false when it serves none with a cache. */
  deliver(path: string, message: object, sender: ActorRef<any> | undefined, headers: Headers): boolean {
    const member = this.members.get(path.slice(SERVICE_FRONT_PREFIX.length));
    if (member?.cache === undefined) return false;
    member.deliver(message, sender, headers);
    return true;
  }

  ref<M extends object>(name: string): ServiceRef<M> {
    validateServiceName(name);
    let ref = this.refs.get(name);
    if (ref === undefined) this.refs.set(name, (ref = new ServiceRef(this.refHost, name, this.subjects.service(name))));
    return ref as ServiceRef<M>;
  }

  /** Names of the services this node serves. */
  served(): string[] {
    return [...this.members.keys()].sort();
  }

  /** Every member drains at once: out of the queue groups first, so no new work lands here. */
  async drainAll(): Promise<void> {
    await Promise.all([...this.members.keys()].map((name) => this.unserve(name)));
  }
}
