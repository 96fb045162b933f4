/**
 * A `StateStore` on Google Cloud Storage: object `<prefix>/<key>` in one bucket, its GCS generation as
 * the store's generation.
 *
 * - Every write is a multipart upload (`resumable: false`: one request, and the fake-gcs-server
 *   emulator honours preconditions on it) with `ifGenerationMatch` (`0` for create-if-absent), so two
 *   writers can never silently overwrite each other; a 412 is a `GenerationConflictError`.
 * - A read is one media download; the generation comes from its `x-goog-generation` header, so bytes
 *   and generation always belong together.
 * - The client's own retries are off; requests are retried here (`withRetry`: 429, 5xx, network
 *   failures and timeouts, exponential backoff with jitter, bounded), a 412 never. A write whose
 *   request failed may still have landed: when its retry then meets a 412, the object's
 *   `troupe-write-id` metadata tells whether the object is this very write, which then succeeds. (If another writer replaced it in
 *   between, the caller sees a conflict although its write landed, and merges again: merges must be
 *   idempotent, as the reducer's are by task id.)
 * - One object takes about one write per second; coalescing writes is the caller's job.
 * - `@google-cloud/storage` (an optional peer dependency) is loaded on the first request, so an app
 *   that never touches GCS neither installs nor loads it.
 */
import { randomUUID } from "node:crypto";
import type { Bucket, Storage, StorageOptions } from "@google-cloud/storage";
import { loadOptional } from "../optional-dependency.js";
import { inChildSpan } from "../tracing/child-span.js";
import { httpStatus, transientReason, withRetry, type GcsRetryOptions } from "./gcs-retry.js";
import {
  GenerationConflictError,
  validateExpected,
  validateKey,
  validatePrefix,
  type Expected,
  type StateStore,
  type StoredObject,
} from "../state/state-store.js";

export interface GcsStoreOptions {
  /**
   * Where the JSON and upload APIs live, e.g. an emulator's `http://127.0.0.1:4443` (a scheme is
   * required; a trailing `/storage/v1` is accepted). Default: `STORAGE_EMULATOR_HOST` if set (with or
   * without `/storage/v1`; `http://` when it has no scheme, as other GCS clients read it), else GCS.
   * A custom endpoint is used without authentication, as `@google-cloud/storage` does.
   */
  readonly apiEndpoint?: string;
  readonly projectId?: string;
  /** How long one request may take before it fails (and is retried); default 60 000 ms. */
  readonly requestTimeoutMs?: number;
  readonly retry?: GcsRetryOptions;
}

export const DEFAULT_GCS_REQUEST_TIMEOUT_MS = 60_000;

/** Custom metadata on every object written, naming the write that produced it. */
export const WRITE_ID_METADATA = "troupe-write-id";

export class GcsStore implements StateStore {
  readonly description: string;
  /** The API endpoint in use, or undefined for GCS itself. */
  readonly endpoint: string | undefined;
  private bucketPromise: Promise<Bucket> | undefined;
  private readonly projectId: string | undefined;
  private readonly prefix: string;
  private readonly retry: GcsRetryOptions;
  private readonly requestTimeoutMs: number;
  private closed = false;

  constructor(
    readonly bucketName: string,
    prefix: string,
    options: GcsStoreOptions = {},
  ) {
    this.prefix = prefix.replace(/^\/+|\/+$/g, "");
    if (this.prefix !== "") validateKey(this.prefix);
    this.endpoint = resolveGcsEndpoint(options.apiEndpoint, process.env.STORAGE_EMULATOR_HOST);
    this.description = `gs://${bucketName}/${this.prefix}${this.endpoint ? ` (at ${new URL(this.endpoint).origin})` : ""}`;
    this.retry = options.retry ?? {};
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_GCS_REQUEST_TIMEOUT_MS;
    this.projectId = options.projectId;
  }

  /** The client's bucket handle, created with the first request. */
  private bucket(): Promise<Bucket> {
    this.bucketPromise ??= createClient(this.endpoint, this.projectId, this.requestTimeoutMs).then((storage) => storage.bucket(this.bucketName));
    return this.bucketPromise;
  }

  async read(key: string): Promise<StoredObject | undefined> {
    const name = this.objectName(key);
    return inChildSpan("gcs read", { "gcs.bucket": this.bucketName, "gcs.object": name }, () => withRetry(`read ${this.bucketName}/${name}`, () => this.download(name), this.retry));
  }

  async write(key: string, bytes: Uint8Array, expected: Expected): Promise<string> {
    const name = this.objectName(key);
    validateExpected(expected);
    return inChildSpan("gcs write", { "gcs.bucket": this.bucketName, "gcs.object": name, "gcs.if_generation_match": expected === "absent" ? "0" : expected.generation, "gcs.bytes": bytes.length }, () =>
      this.writeWithRetry(key, name, bytes, expected),
    );
  }

  private writeWithRetry(key: string, name: string, bytes: Uint8Array, expected: Expected): Promise<string> {
    const writeId = randomUUID();
    let mayHaveLanded = false;
    return withRetry(
      `write ${this.bucketName}/${name}`,
      async () => {
        try {
          return await this.upload(name, bytes, expected, writeId);
        } catch (error) {
          if (httpStatus(error) === 412) {
            const landed = mayHaveLanded ? await this.generationWrittenBy(name, writeId) : undefined;
            if (landed !== undefined) return landed;
            throw new GenerationConflictError(key, expected);
          }
          // A 429 was refused before anything was written; any other failure may hide a success.
          if (transientReason(error) !== undefined && httpStatus(error) !== 429) mayHaveLanded = true;
          throw error;
        }
      },
      this.retry,
    );
  }

  async list(prefix = ""): Promise<string[]> {
    this.checkOpen();
    validatePrefix(prefix);
    const base = this.prefix === "" ? "" : `${this.prefix}/`;
    const keys: string[] = [];
    let pageToken: string | undefined;
    do {
      const [files, next] = await withRetry(
        `list gs://${this.bucketName}/${base}${prefix}`,
        async () => (await this.bucket()).getFiles({ prefix: base + prefix, autoPaginate: false, maxResults: 1000, ...(pageToken ? { pageToken } : {}) }),
        this.retry,
      );
      for (const file of files) {
        const key = file.name.slice(base.length);
        if (isValidKey(key)) keys.push(key); // objects that are not keys (`dir/` placeholders) are not listed
      }
      pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
    } while (pageToken);
    return keys.sort();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private objectName(key: string): string {
    this.checkOpen();
    validateKey(key);
    return this.prefix === "" ? key : `${this.prefix}/${key}`;
  }

  private async download(name: string): Promise<StoredObject | undefined> {
    const bucket = await this.bucket();
    return new Promise((resolve, reject) => {
      let generation: unknown;
      const chunks: Buffer[] = [];
      bucket
        .file(name)
        .createReadStream()
        .on("response", (response: { headers?: Record<string, unknown> }) => {
          generation = response.headers?.["x-goog-generation"];
        })
        .on("data", (chunk: Buffer) => chunks.push(chunk))
        .on("error", (error) => (httpStatus(error) === 404 ? resolve(undefined) : reject(error)))
        .on("end", () => {
          if (typeof generation === "string" && generation !== "") resolve({ bytes: new Uint8Array(Buffer.concat(chunks)), generation });
          else reject(new Error(`download of gs://${this.bucketName}/${name} carried no x-goog-generation header`));
        });
    });
  }

  private async upload(name: string, bytes: Uint8Array, expected: Expected, writeId: string): Promise<string> {
    const file = (await this.bucket()).file(name);
    await file.save(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      resumable: false,
      timeout: this.requestTimeoutMs,
      preconditionOpts: { ifGenerationMatch: expected === "absent" ? 0 : expected.generation },
      metadata: { contentType: "application/octet-stream", metadata: { [WRITE_ID_METADATA]: writeId } },
    });
    const generation = file.metadata.generation;
    if (generation === undefined || generation === null || generation === "") {
      throw new Error(`upload of gs://${this.bucketName}/${name} returned no generation`);
    }
    return String(generation);
  }

  /** The object's generation if its current version is the write `writeId`; undefined otherwise. */
  private async generationWrittenBy(name: string, writeId: string): Promise<string | undefined> {
    try {
      const [metadata] = await (await this.bucket()).file(name).getMetadata();
      return metadata.metadata?.[WRITE_ID_METADATA] === writeId && metadata.generation !== undefined ? String(metadata.generation) : undefined;
    } catch (error) {
      if (httpStatus(error) === 404) return undefined;
      throw error;
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.description}: state store is closed`);
  }
}

/**
 * The endpoint to use: the explicit option, else `STORAGE_EMULATOR_HOST`, normalized to the root that
 * both the JSON API (`/storage/v1`) and the upload API (`/upload/storage/v1`) hang from.
 */
export function resolveGcsEndpoint(apiEndpoint: string | undefined, emulatorHost: string | undefined): string | undefined {
  let endpoint: string;
  if (apiEndpoint !== undefined && apiEndpoint !== "") {
    if (!/^https?:\/\//i.test(apiEndpoint)) {
      throw new Error(`apiEndpoint must start with http:// or https://, e.g. http://127.0.0.1:4443 (got ${JSON.stringify(apiEndpoint)})`);
    }
    endpoint = apiEndpoint;
  } else if (emulatorHost !== undefined && emulatorHost !== "") {
    endpoint = /^https?:\/\//i.test(emulatorHost) ? emulatorHost : `http://${emulatorHost}`;
  } else {
    return undefined;
  }
  return endpoint.replace(/\/+$/, "").replace(/\/storage\/v1$/, "");
}

/**
 * A client for `endpoint` with its automatic retries off. `@google-cloud/storage` 7.x also reads
 * STORAGE_EMULATOR_HOST on its own and then sends JSON requests to it verbatim but uploads to
 * `<it>/upload/storage/v1`, which is right for only one of the two spellings (and overrides an explicit
 * endpoint for JSON requests); the endpoint is resolved above, so the variable is hidden while the
 * client is built.
 */
async function createClient(endpoint: string | undefined, projectId: string | undefined, timeoutMs: number): Promise<Storage> {
  const { Storage } = await loadOptional("a gs:// state store", ["@google-cloud/storage"], () => import("@google-cloud/storage"));
  const options: StorageOptions = { retryOptions: { autoRetry: false }, timeout: timeoutMs };
  if (endpoint !== undefined) options.apiEndpoint = endpoint;
  if (projectId !== undefined) options.projectId = projectId;
  const saved = process.env.STORAGE_EMULATOR_HOST;
  delete process.env.STORAGE_EMULATOR_HOST;
  try {
    return new Storage(options);
  } finally {
    if (saved !== undefined) process.env.STORAGE_EMULATOR_HOST = saved;
  }
}

function isValidKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}
