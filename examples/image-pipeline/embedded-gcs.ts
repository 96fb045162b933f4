/**
 * A private `fake-gcs-server` (the usual GCS emulator) for runs on embedded defaults, so that the
 * pipeline keeps its images and state in a bucket even without a cloud account. It listens on a free
 * loopback port and keeps its objects in a local directory (its filesystem backend), so the sample photos
 * are uploaded once and a run's results can still be read after it ends.
 */
import { startFakeGcsServer } from "../../runtime/gcs/index.js";

export interface EmbeddedGcs {
  /** The API root, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  readonly bucket: string;
  /** Where the server keeps its objects. */
  readonly directory: string;
  /** SIGTERM (SIGKILL after 5 s); resolves once the server has exited. */
  stop(): Promise<void>;
}

/** Starts `binary` on a free port with its objects in `directory`, and creates `bucket` if needed. */
export async function startEmbeddedGcs(binary: string, directory: string, bucket: string): Promise<EmbeddedGcs> {
  const server = await startFakeGcsServer({ binary, bucket, directory });
  return { endpoint: server.endpoint, bucket, directory, stop: () => server.stop() };
}
