/**
 * Face analysis in a worker thread of its own. Decoding a photo and running four networks keeps a core
 * busy for about a second; done on the node's event loop, that would also hold up its heartbeats and
 * messages (and a node silent for over 2 s is taken for lost, its tasks handed to others). The thread
 * starts on first use, loads the models once, and is replaced if it dies.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { PACKAGE_ROOT } from "../../runtime/package-root.js";
import type { Detection } from "./face-model.js";

/** A request to the thread: analyse `jpeg`, or just load the models when it is absent. */
export interface ThreadRequest {
  readonly id: number;
  readonly jpeg?: Uint8Array;
}

export type ThreadReply =
  | { readonly id: number; readonly detection?: Detection; readonly error?: undefined }
  | { readonly id: number; readonly error: string };

interface Pending {
  resolve(detection: Detection | undefined): void;
  reject(error: Error): void;
}

interface Running {
  readonly worker: Worker;
  /** Requests sent to this thread and not yet answered, by id. */
  readonly pending: Map<number, Pending>;
}

export class FaceThread {
  private running: Running | undefined;
  private nextId = 1;

  /** Finds the faces in a JPEG image. */
  async detect(jpeg: Uint8Array): Promise<Detection> {
    const detection = await this.request(jpeg);
    if (!detection) throw new Error("the face thread sent no detection");
    return detection;
  }

  /** Starts the thread and loads the models, so that the first image does not wait for them. */
  async warmUp(): Promise<void> {
    await this.request(undefined);
  }

  /** Stops the thread; requests still pending fail. */
  async close(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    await running?.worker.terminate();
  }

  private request(jpeg: Uint8Array | undefined): Promise<Detection | undefined> {
    const { worker, pending } = (this.running ??= this.start());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref(); // a pending request keeps the process alive; an idle thread does not
      worker.postMessage({ id, jpeg } satisfies ThreadRequest);
    });
  }

  private start(): Running {
    // Compiled, the entry is a module of its own in dist/ (this code may sit in a shared chunk);
    // run from source, the thread loads its TypeScript through tsx, as the node does.
    const compiled = !import.meta.url.endsWith(".ts");
    const entry = compiled ? pathToFileURL(join(PACKAGE_ROOT, "dist", "examples", "image-pipeline", "face-thread-entry.js")) : new URL("./face-thread-entry.ts", import.meta.url);
    const worker = compiled
      ? new Worker(entry)
      : new Worker(`import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`, { eval: true });
    const running: Running = { worker, pending: new Map() };
    worker.on("message", (reply: ThreadReply) => {
      const request = running.pending.get(reply.id);
      running.pending.delete(reply.id);
      if (running.pending.size === 0) worker.unref();
      if (reply.error !== undefined) request?.reject(new Error(reply.error));
      else request?.resolve(reply.detection);
    });
    const fail = (error: Error): void => {
      if (this.running === running) this.running = undefined; // the next request starts a new thread
      for (const request of running.pending.values()) request.reject(error);
      running.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the face thread exited (code ${code})`)));
    worker.unref(); // after the listeners: adding a "message" listener refs the worker again
    return running;
  }
}
