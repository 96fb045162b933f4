import { findTool } from "../../runtime/nats/tool-paths.js";
import { startEmbeddedNats, type EmbeddedNats } from "../../runtime/index.js";

/**
 * Starts a real nats-server (with JetStream, its store in a temporary directory) for one test file on a
 * free loopback port. Without the binary the file's
 * tests are skipped, except under CI=true, where a missing server is a failure.
 */
export async function natsServerFor(context: Mocha.Context): Promise<EmbeddedNats> {
  if (!findTool("nats-server")) {
    const message = "nats-server not found: run `npm run setup` or put it on PATH";
    if (process.env.CI === "true") throw new Error(message);
    console.warn(`skipping: ${message}`);
    context.skip();
  }
  return startEmbeddedNats();
}

/** True when no process with this pid exists any more. */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}
