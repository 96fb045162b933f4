import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PROJECT_ROOT } from "../runtime/nats/tool-paths.js";
import { startIpcChild, stopIpcChild } from "./ipc-child.js";

type Reply = { readonly type: string; readonly id?: number; readonly error?: string };

/**
 * The driver's end of one helper process of the membership simulation: requests carry an id, and
 * each reply (one, or `armed` then `seen` for an awaited event) is matched back to it.
 */
export class SimChild<Req extends { readonly type: string }, Res extends Reply> {
  private nextId = 0;
  private readonly handlers = new Map<number, (reply: Res) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.on("message", (reply: Res) => {
      if (reply.id !== undefined) this.handlers.get(reply.id)?.(reply);
    });
    child.once("exit", (code, signal) => {
      const error = { type: "error", error: `${label} exited (${signal ?? `code ${code}`})` } as unknown as Res;
      for (const handler of [...this.handlers.values()]) handler(error);
    });
  }

  static async start<Req extends { readonly type: string }, Res extends Reply>(file: string, args: readonly string[], label: string): Promise<SimChild<Req, Res>> {
    const path = fileURLToPath(new URL(file, import.meta.url));
    return new SimChild(await startIpcChild(path, args, { label, cwd: PROJECT_ROOT, readyWithinMs: 30_000 }), label);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends a request and resolves with its (first) reply of type `expect`. */
  request<T extends Res["type"]>(request: Req, expect: T): Promise<Extract<Res, { type: T }>> {
    return this.exchange(request, [expect])[0] as Promise<Extract<Res, { type: T }>>;
  }

  /**
   * Sends a request answered twice: resolves the first promise on `first`, the second on `second`;
   * an error rejects both.
   */
  twice<A extends Res["type"], B extends Res["type"]>(request: Req, first: A, second: B): [Promise<Extract<Res, { type: A }>>, Promise<Extract<Res, { type: B }>>] {
    const [a, b] = this.exchange(request, [first, second]);
    return [a as Promise<Extract<Res, { type: A }>>, b as Promise<Extract<Res, { type: B }>>];
  }

  stop(): Promise<void> {
    return stopIpcChild(this.child, { type: "exit", id: ++this.nextId });
  }

  private exchange(request: Req, expected: readonly string[]): Promise<Res>[] {
    const id = ++this.nextId;
    const settlers = expected.map(() => ({ resolve: (_reply: Res) => {}, reject: (_error: Error) => {} }));
    const promises = settlers.map((settler) => new Promise<Res>((resolve, reject) => Object.assign(settler, { resolve, reject })));
    // A promise nobody awaits yet must not end the process when it rejects.
    for (const promise of promises) promise.catch(() => undefined);
    let next = 0;
    this.handlers.set(id, (reply) => {
      if (reply.type === "error") {
        this.handlers.delete(id);
        for (const settler of settlers.slice(next)) settler.reject(new Error(`${this.label}: ${reply.error}`));
        return;
      }
      if (reply.type !== expected[next]) return;
      settlers[next++]!.resolve(reply);
      if (next === expected.length) this.handlers.delete(id);
    });
    if (!this.child.connected) throw new Error(`${this.label} is gone`);
    this.child.send({ ...request, id });
    return promises;
  }
}
