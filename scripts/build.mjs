#!/usr/bin/env node
// The package build, run by `npm run build`, by setup before tests and the demo, and by `prepack`:
//   1. generated protobuf code (scripts/build-proto.mjs; skipped when up to date)
//   2. tsc -p tsconfig.build.json: runtime/, actors/, examples/ -> dist/ (incremental)
//   3. the generated .js/.d.ts copied beside the compiled code that imports them (tsc does not copy
//      .js files), so dist/ is self-contained: dist/proto/gen, dist/examples/<name>/gen
// Throws (exit 1) on any failure; prints one line per step on stderr.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProto } from './build-proto.mjs';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
const DIST = path.join(ROOT, 'dist');

function compile(log) {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!fs.existsSync(tsc)) throw new Error('typescript is not installed (node_modules/typescript); run `npm ci` first');
  const started = Date.now();
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${(result.stdout + result.stderr).trim()}`);
  log(`compiled runtime/, actors/, examples/ into dist/ (${Date.now() - started} ms)`);
}

/** Copies every generated .js/.d.ts under `from` to the same place under dist/, when changed. */
function copyGenerated(from, log) {
  let copied = 0;
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const source = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(source);
      else if (/\.(js|d\.ts)$/.test(entry.name) && !entry.name.startsWith('.')) {
        const target = path.join(DIST, path.relative(ROOT, source));
        const stale = !fs.existsSync(target) || fs.statSync(target).mtimeMs < fs.statSync(source).mtimeMs;
        if (stale) {
          fs.mkdirSync(path.dirname(target), { recursive: true });
          fs.copyFileSync(source, target);
          copied++;
        }
      }
    }
  };
  walk(from);
  return copied;
}

export function build(log = (line) => console.error(`build: ${line}`)) {
  buildProto((line) => log(`proto ${line}`));
  compile(log);
  let copied = copyGenerated(path.join(ROOT, 'proto', 'gen'), log);
  for (const example of fs.readdirSync(path.join(ROOT, 'examples'))) copied += copyGenerated(path.join(ROOT, 'examples', example, 'gen'), log);
  log(copied === 0 ? 'generated code in dist/ up to date' : `copied ${copied} generated file${copied === 1 ? '' : 's'} into dist/`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === SCRIPT) {
  try {
    build();
  } catch (err) {
    console.error(`build: ${err.message}`);
    process.exit(1);
  }
}
