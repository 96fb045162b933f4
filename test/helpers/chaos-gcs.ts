import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeGcsServer } from "../../runtime/gcs/fake-gcs-server.js";

/**
 * A fake-gcs-server whose objects survive a stop and start: the chaos suite stops it for seconds
 * mid-job. `startFakeGcs` (fake-gcs.ts) uses the memory backend, which starts empty after a restart,
 * so a restart there would lose every checkpoint, not only cut access. This one uses the filesystem
 * backend in a temporary directory; objects, their generations and `ifGenerationMatch` preconditions
 * hold across restarts (checked with GcsStore against fake-gcs-server v1.55.1).
 */
export interface PersistentFakeGcs {
  readonly endpoint: string;
  readonly bucket: string;
  readonly running: boolean;
  /** SIGTERM (SIGKILL after 5 s); resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory; resolves once its JSON API answers. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/** A missing binary throws (`requireTool`), so under CI=true a missing server is a failure. */
export async function startPersistentFakeGcs(options: { bucket?: string; startTimeoutMs?: number } = {}): Promise<PersistentFakeGcs> {
  const root = await mkdtemp(join(tmpdir(), "troupe-chaos-gcs-"));
  const server = await startFakeGcsServer({ bucket: options.bucket ?? "troupe-chaos", directory: root, startTimeoutMs: options.startTimeoutMs });
  return {
    endpoint: server.endpoint,
    bucket: server.bucket,
    get running() {
      return server.running;
    },
    stop: () => server.stop(),
    start: () => server.start(),
    close: async () => {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
