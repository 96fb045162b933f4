#!/usr/bin/env node
// The `troupe` command: the compiled CLI in dist/, shipped in the package (in a checkout, built by
// `npm run build`, which setup runs before tests and the demo).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/runtime/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error(`troupe: ${fileURLToPath(main)} is missing. In a checkout of Troupe, run \`npm run build\` first; an installed package ships it.`);
  process.exit(1);
}
await import(main.href);
