import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { nowMs } from "./stats.js";

/** Linux's clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on every common kernel). */
const TICKS_PER_SECOND = 100;

/** CPU milliseconds (user + system) process `pid` has used so far, from /proc (10 ms resolution). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** Resident set size of process `pid` in MB (MiB), from /proc/<pid>/status. */
export function rssMbOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) / 1024;
}

export interface Probed {
  readonly child: ChildProcess;
  /** Milliseconds from spawn to the awaited line. */
  readonly readyMs: number;
  /** The awaited line. */
  readonly line: string;
  /** Kills the process (SIGTERM, then SIGKILL after `graceMs`) and resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface ProbeOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The stdout line that means ready. */
  readonly ready: (line: string) => boolean;
  readonly timeoutMs?: number;
}

/**
 * Spawns `node args...` and resolves when its stdout shows the ready line, with the time since the
 * spawn. Rejects, with the process's last output, when it exits or times out first.
 */
export function spawnUntilReady(args: readonly string[], options: ProbeOptions): Promise<Probed> {
  const started = nowMs();
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  };
  createInterface({ input: child.stderr }).on("line", keep);
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(killer);
    }
  };
  return new Promise<Probed>((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`node ${args.join(" ")} ${why}:\n${tail.join("\n")}`));
    };
    const timer = setTimeout(() => fail(`was not ready within ${timeoutMs} ms`), timeoutMs);
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (!options.ready(line)) return keep(line);
      clearTimeout(timer);
      resolve({ child, readyMs: nowMs() - started, line, stop });
    });
    void exited.then(() => fail(`exited (${child.exitCode ?? child.signalCode}) before it was ready`));
  });
}

/** True for the `{"event":"ready",...}` line of `troupe node` and of the bare client. */
export const readyEvent = (line: string): boolean => line.startsWith('{"event":"ready"');

/** When process `pid` started, in ms since boot, from /proc (10 ms resolution): to see when each child of a parent was spawned. */
export function startedMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]) * 1000) / TICKS_PER_SECOND;
}
