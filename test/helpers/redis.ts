import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findTool, requireTool } from "../../runtime/nats/tool-paths.js";
import { freePort } from "./nats-with-config.js";

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** SIGTERM (SIGKILL after 5 s); resolves once it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/**
 * Starts a real redis-server on a free loopback port with nothing persisted (`--save '' --appendonly
 * no`, working directory a temporary one), for one test file. Without the binary the file's tests are
 * skipped, except under CI=true, where a missing server is a failure (`requireTool` throws).
 */
export async function redisServerFor(context: Mocha.Context): Promise<RedisServer> {
  if (!findTool("redis-server") && process.env.CI !== "true") {
    console.warn("skipping: redis-server not found: run `npm test` (its setup installs it as root) or `apt-get install redis-server`");
    context.skip();
  }
  return startRedisServer();
}

/** Starts redis-server as `redisServerFor` does, failing when the binary is missing (benchmarks use it). */
export async function startRedisServer(): Promise<RedisServer> {
  const binary = requireTool("redis-server");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "troupe-redis-"));
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = await launch(binary, port, dir);
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGTERM");
    const killer = setTimeout(() => running.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
  };
  await start();
  process.once("exit", () => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true }); // for a start again
    },
  };
}

function launch(binary: string, port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => fail(new Error("redis-server did not start within 10 s")), 10_000);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${error.message}\n${log.trim()}`));
    };
    child.once("error", (error) => fail(error));
    child.once("exit", (code) => fail(new Error(`redis-server exited with code ${code} before it was ready`)));
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (log.length < 64 * 1024) log += chunk;
      if (/Ready to accept connections/.test(log)) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.stdout.removeAllListeners("data");
        child.stdout.resume();
        child.stderr.resume();
        resolve(child);
      }
    });
    child.stderr.resume();
  });
}
