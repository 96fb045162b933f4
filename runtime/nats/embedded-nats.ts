import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "./tool-paths.js";

export interface EmbeddedNatsOptions {
  /** Path to nats-server. Default: found by `findTool`. */
  readonly binary?: string;
  /** Extra command-line arguments (cluster routes, auth config, ...). */
  readonly args?: readonly string[];
  /** Client port; default 0, a free one chosen by the server. */
  readonly port?: number;
  readonly startTimeoutMs?: number;
  /**
   * Run JetStream (`-js`), storing in a temporary directory removed when the server stops: a result
   * cache's KV bucket then needs no other server. Default true.
   */
  readonly jetstream?: boolean;
}

export interface EmbeddedNats {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and resolves once it has exited. */
  stop(): Promise<void>;
  /** Resolves when the process exits, however that happens. */
  readonly exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();
/** JetStream store directories of running servers, removed when each exits (or this process does). */
const storeDirs = new Map<ChildProcess, string>();
const SETPRIV = process.platform === "linux" ? ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p)) : undefined;
let exitHookInstalled = false;

/**
 * Starts a private `nats-server` on a free loopback port and waits until it accepts clients. The
 * process is killed when this one exits, so a node never leaves an orphan server behind.
 */
export async function startEmbeddedNats(options: EmbeddedNatsOptions = {}): Promise<EmbeddedNats> {
  const binary = options.binary ?? requireTool("nats-server");
  const port = options.port ?? 0;
  const storeDir = options.jetstream === false ? undefined : mkdtempSync(join(tmpdir(), "troupe-nats-js-"));
  const args = ["-a", "127.0.0.1", "-p", port === 0 ? "-1" : String(port), ...(storeDir ? ["-js", "-sd", storeDir] : []), ...(options.args ?? [])];
  // With util-linux's setpriv the kernel kills the server if this process dies, even by SIGKILL.
  const child = SETPRIV
    ? spawn(SETPRIV, ["--pdeathsig", "KILL", "--", binary, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    : spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  installExitHook();
  running.add(child);
  if (storeDir) storeDirs.set(child, storeDir);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => {
    running.delete(child);
    removeStoreDir(child);
    resolve(code);
  }));

  let started = false;
  const listeningPort = await new Promise<number>((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => fail(new Error(`nats-server did not start within ${options.startTimeoutMs ?? 10_000} ms`)), options.startTimeoutMs ?? 10_000);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      removeStoreDir(child);
      reject(new Error(`${error.message}\n${log.trim()}`));
    };
    child.once("error", (error) => fail(new Error(`cannot run ${binary}: ${error.message}`)));
    void exited.then((code) => {
      if (!started) fail(new Error(`nats-server exited with code ${code} before accepting clients`));
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (started) return;
      if (log.length < 64 * 1024) log += chunk;
      const match = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (match && /Server is ready/.test(log)) {
        started = true;
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
  });
  // Keep draining stderr so a chatty server never blocks on a full pipe.
  child.stderr.resume();

  return {
    url: `nats://127.0.0.1:${listeningPort}`,
    port: listeningPort,
    pid: child.pid!,
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
    for (const child of [...storeDirs.keys()]) removeStoreDir(child);
  });
}

function removeStoreDir(child: ChildProcess): void {
  const dir = storeDirs.get(child);
  storeDirs.delete(child);
  if (dir) rmSync(dir, { recursive: true, force: true });
}
