import { spawn, type ChildProcess } from "node:child_process";
import { within } from "./benchmark.js";

/** Every helper process still running: killed when the driver exits, however it exits. */
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/**
 * Starts `node --import tsx <file> <args>` with an IPC channel (the benchmarks' helper processes: the
 * peer, the build nodes) and resolves once it has posted `{ type: "ready" }`. Its stdout goes to our
 * stderr: our stdout carries only results. On failure the process is stopped and the error thrown.
 */
export async function startIpcChild(
  file: string,
  args: readonly string[],
  options: { label: string; cwd: string; env?: NodeJS.ProcessEnv; execArgv?: readonly string[]; readyWithinMs: number },
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...(options.execArgv ?? []), "--import", "tsx", file, ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", 2, 2, "ipc"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const ready = new Promise<void>((resolve, reject) => {
    child.on("message", (message: { type?: string }) => message.type === "ready" && resolve());
    child.once("error", reject);
    child.once("exit", (code, signal) => reject(new Error(`${options.label} exited before it was ready (${signal ?? `code ${code}`})`)));
  });
  try {
    await within(ready, options.readyWithinMs, () => `starting ${options.label}`);
  } catch (error) {
    await stopIpcChild(child, { type: "exit" });
    throw error;
  }
  return child;
}

/** Asks `child` to exit with `exitMessage`; kills it if it has not within 5 s. Resolves once it is gone. */
export async function stopIpcChild(child: ChildProcess, exitMessage: object): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.connected) child.send(exitMessage);
  const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(killer);
}
