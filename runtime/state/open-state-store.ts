import { fileURLToPath } from "node:url";
import { FileStore, type FileStoreOptions } from "./file-store.js";
import { GcsStore, type GcsStoreOptions } from "../gcs/gcs-store.js";
import { MemoryStore } from "./memory-store.js";
import { InvalidKeyError, type StateStore } from "./state-store.js";

export interface OpenStateStoreOptions {
  /** Options for `gs://` URLs: endpoint (an emulator), project, retry policy. */
  readonly gcs?: GcsStoreOptions;
  /** Options for `file://` URLs. */
  readonly file?: FileStoreOptions;
}

const ACCEPTED = "gs://bucket/prefix (Google Cloud Storage), file:///absolute/dir (a local directory) or memory: (this process, for tests)";

/** A state URL that names no store; the message lists the accepted forms. */
export class InvalidStateUrlError extends Error {
  override readonly name = "InvalidStateUrlError";
  constructor(url: string, reason: string) {
    super(`cannot open state store ${JSON.stringify(redact(url))}: ${reason}; use ${ACCEPTED}`);
  }
}

/**
 * Opens the state store a URL names: `gs://bucket/prefix` (objects at `<prefix>/<key>`; the prefix may
 * be empty), `file:///dir` (the embedded default) or `memory:` (a new, empty store each time).
 */
export function openStateStore(url: string, options: OpenStateStoreOptions = {}): StateStore {
  if (url === "memory:") return new MemoryStore();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidStateUrlError(url, "it is not a URL");
  }
  if (parsed.username || parsed.password) throw new InvalidStateUrlError(url, "credentials do not belong in the URL");
  if (parsed.search || parsed.hash) throw new InvalidStateUrlError(url, "it has a query or fragment");
  switch (parsed.protocol) {
    case "memory:":
      throw new InvalidStateUrlError(url, "memory: takes nothing after the colon");
    case "file:": {
      if (parsed.host !== "") {
        throw new InvalidStateUrlError(url, `file URLs need three slashes and an absolute path (host "${parsed.host}" given)`);
      }
      return new FileStore(fileURLToPath(parsed), options.file);
    }
    case "gs:": {
      const bucket = parsed.hostname;
      if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(bucket)) throw new InvalidStateUrlError(url, `"${bucket}" is not a bucket name`);
      if (parsed.port) {
        throw new InvalidStateUrlError(url, "a bucket has no port (set the endpoint with the gcs apiEndpoint option or STORAGE_EMULATOR_HOST)");
      }
      try {
        return new GcsStore(bucket, decodeURIComponent(parsed.pathname), options.gcs);
      } catch (error) {
        if (error instanceof InvalidKeyError || error instanceof URIError) throw new InvalidStateUrlError(url, `bad prefix: ${error.message}`);
        throw error;
      }
    }
    default:
      throw new InvalidStateUrlError(url, `the scheme ${parsed.protocol} is not a state store`);
  }
}

/** The URL without any user information, for messages. */
function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1***@");
}
