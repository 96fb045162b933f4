import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PROJECT_ROOT } from "../../runtime/nats/tool-paths.js";

/** An app folder with protobufjs in its own node_modules, and the module pbjs generated there. */
export interface SecondCopyApp {
  /** The generated module's exports (`export const <package> = ...`). */
  readonly generated: Record<string, any>;
  /** The app's copy of `protobufjs/minimal.js`: not the runtime's (its classes are different objects). */
  readonly protobuf: { Writer: unknown; Reader: unknown };
  remove(): void;
}

/**
 * Builds what `npm install ../troupe` or an app with its own protobufjs gives: generated classes bound
 * to a copy of protobufjs that is not the runtime's. The copy is copied, not linked, so Node loads it
 * as a separate module. `proto` is generated with the repository's pbjs under root name `rootName`.
 */
export async function appWithOwnProtobuf(proto: string, rootName: string): Promise<SecondCopyApp> {
  const dir = mkdtempSync(join(tmpdir(), "troupe-second-protobuf-"));
  try {
    for (const pkg of ["protobufjs", "long"]) cpSync(join(PROJECT_ROOT, "node_modules", pkg), join(dir, "node_modules", pkg), { recursive: true, dereference: true });
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "second-copy-app", private: true, type: "module" }));
    writeFileSync(join(dir, "messages.proto"), proto);
    mkdirSync(join(dir, "gen"));
    const pbjs = join(PROJECT_ROOT, "node_modules", "protobufjs-cli", "bin", "pbjs");
    const args = [pbjs, "-t", "static-module", "-w", "es6", "--no-beautify", "-r", rootName, "-o", join(dir, "gen", "messages.js"), "messages.proto"];
    const result = spawnSync(process.execPath, args, { cwd: dir, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`pbjs failed: ${result.stderr || result.stdout}`);
    const generated = (await import(pathToFileURL(join(dir, "gen", "messages.js")).href)) as Record<string, any>;
    const minimal = (await import(pathToFileURL(join(dir, "node_modules", "protobufjs", "minimal.js")).href)) as { default: SecondCopyApp["protobuf"] };
    return { generated, protobuf: minimal.default, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
