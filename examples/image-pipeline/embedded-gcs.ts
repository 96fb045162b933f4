/**
 * A private `fake-gcs-server` (the usual GCS emulator) for runs on embedded defaults, so that the
 * pipeline keeps its images and state in a bucket even without a cloud account. It listens on a free
 * loopback port and keeps its objects in a local directory (its filesystem backend), so the sample photos
 * are uploaded once and a run's results can still be read after it ends.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";

export interface EmbeddedGcs {
  /** The API root, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  readonly bucket: string;
  /** Where the server keeps its objects. */
  readonly directory: string;
  /** SIGTERM (SIGKILL after 5 s); resolves once the server has exited. */
  stop(): Promise<void>;
}

const SETPRIV = process.platform === "linux" ? ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p)) : undefined;
const START_TIMEOUT_MS = 10_000;

/** Starts `binary` on a free port with its objects in `directory`, and creates `bucket` if needed. */
export async function startEmbeddedGcs(binary: string, directory: string, bucket: string): Promise<EmbeddedGcs> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const child = await launch(binary, port, directory);
      const endpoint = `http://127.0.0.1:${port}`;
      const stop = (): Promise<void> => stopChild(child);
      try {
        await createBucket(endpoint, bucket);
      } catch (error) {
        await stop();
        throw error;
      }
      return { endpoint, bucket, directory, stop };
    } catch (error) {
      // The port may have been taken between finding it and binding it: try another.
      if (attempt >= 3) throw error;
    }
  }
}

async function launch(binary: string, port: number, directory: string): Promise<ChildProcess> {
  const args = ["-scheme", "http", "-host", "127.0.0.1", "-port", String(port), "-backend", "filesystem", "-filesystem-root", directory, "-log-level", "warn"];
  // With util-linux's setpriv the kernel stops the server when this process dies, however it dies.
  const child = SETPRIV ? spawn(SETPRIV, ["--pdeathsig", "KILL", "--", binary, ...args], { stdio: ["ignore", "ignore", "pipe"] }) : spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  const kill = (): boolean => child.kill("SIGKILL");
  process.once("exit", kill);
  child.once("exit", () => process.off("exit", kill));
  let log = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (log = (log + chunk).slice(-4_096)));
  let failure: string | undefined;
  child.once("error", (error) => (failure = `cannot run ${binary}: ${error.message}`));
  child.once("exit", (code) => (failure ??= `fake-gcs-server exited with code ${code} before answering on port ${port}`));

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (failure) throw new Error(`${failure}\n${log.trim()}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/storage/v1/b`);
      await response.arrayBuffer();
      if (response.ok) return child;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`fake-gcs-server did not answer on port ${port} within ${START_TIMEOUT_MS} ms\n${log.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(killer);
}

async function createBucket(endpoint: string, bucket: string): Promise<void> {
  const response = await fetch(`${endpoint}/storage/v1/b?project=troupe`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: bucket }),
  });
  const body = await response.text();
  if (!response.ok && response.status !== 409) throw new Error(`cannot create bucket ${bucket} on fake-gcs-server: HTTP ${response.status} ${body}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject).listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
