#!/usr/bin/env node
// The `troupe` command: the compiled CLI in dist/, shipped in the package (in a checkout, built by
// `npm run build`, which setup runs before tests and the demo).
//
// TROUPE_CLI_FROM_SOURCE=1 (set by this repository's test runs) runs the TypeScript sources through
// tsx instead, in a checkout only: tests hand their nodes topology modules written against the
// sources, and one process must not mix the compiled runtime with the source one (two copies of
// every class). The packaging test covers the compiled CLI.
import { existsSync } from "node:fs";
import module from "node:module";
import { fileURLToPath } from "node:url";

const source = new URL("../runtime/cli/main.ts", import.meta.url);
const compiled = new URL("../dist/runtime/cli/main.js", import.meta.url);
if (process.env.TROUPE_CLI_FROM_SOURCE === "1" && existsSync(fileURLToPath(source))) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else if (existsSync(fileURLToPath(compiled))) {
  // Node 22.1 on keeps the code it compiled for these modules on disk (in the OS temp directory), so
  // later processes skip compiling them: the 16 workers of `troupe run --nodes 16` start on cached code.
  // NODE_DISABLE_COMPILE_CACHE=1 turns it off; Node 20 has no such cache.
  module.enableCompileCache?.();
  await import(compiled.href);
} else {
  console.error(`troupe: ${fileURLToPath(compiled)} is missing. In a checkout of Troupe, run \`npm run build\` first; an installed package ships it.`);
  process.exit(1);
}
