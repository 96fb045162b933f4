import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

type Protobuf = typeof import("protobufjs");

/**
 * protobufjs-cli (pbjs and pbts) as installed with Troupe: resolved from Troupe's own location, not
 * from the working directory, so `troupe proto` works in any app right after `npm install troupe`
 * (an app's `npx pbjs` would find an unrelated package of that name).
 */
export interface ProtobufCli {
  readonly version: string;
  /** Runs pbjs or pbts with this Node binary; throws with its error output when it fails. */
  run(tool: "pbjs" | "pbts", args: readonly string[], cwd: string): void;
  /** The protobufjs that pbjs itself uses, to check .proto files the way it will read them. */
  protobuf(): Protobuf;
}

export function findProtobufCli(): ProtobufCli {
  const require = createRequire(import.meta.url);
  let manifestPath: string;
  try {
    manifestPath = require.resolve("protobufjs-cli/package.json");
  } catch {
    throw new Error("protobufjs-cli, one of troupe's dependencies, is not installed; reinstall troupe (npm install troupe)");
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { version: string; bin: Record<string, string> };
  const dir = dirname(manifestPath);
  return {
    version: manifest.version,
    run(tool, args, cwd) {
      const bin = manifest.bin[tool];
      if (bin === undefined) throw new Error(`protobufjs-cli ${manifest.version} has no ${tool}`);
      const result = spawnSync(process.execPath, [join(dir, bin), ...args], { cwd, encoding: "utf8" });
      if (result.status !== 0) {
        const output = `${result.stderr}${result.stdout}`.trim() || String(result.error ?? result.signal);
        // pbjs reports a failure as an uncaught exception: show its message, not its stack.
        const message = /^Error: (.*)$/m.exec(output)?.[1] ?? output;
        throw new Error(`${tool} failed: ${message}`);
      }
    },
    protobuf() {
      try {
        return createRequire(manifestPath)("protobufjs") as Protobuf;
      } catch {
        throw new Error("protobufjs is not installed; your app needs it for the generated code: npm install protobufjs");
      }
    },
  };
}
