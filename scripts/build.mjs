#!/usr/bin/env node
// The package build, run by `npm run build`, by setup before tests and the demo, and by `prepack`:
//   1. generated protobuf code (scripts/build-proto.mjs; skipped when up to date)
//   2. tsc -p tsconfig.build.json: the declarations (.d.ts) of runtime/, actors/, examples/ -> dist/
//   3. esbuild: the JavaScript, as ES modules with source maps, one file per entry point (the package's
//      exports, the CLI, each example's topology and thread entry) and shared chunks in dist/chunks/.
//      Bundled because Node 20 spends ~0.6 ms per ES module it loads: the runtime's 70 files made
//      `import("troupe")` cost 1.7x `import("@nats-io/transport-node")` (docs/benchmarks.md,
//      import-time). Packages stay external (imported from node_modules, never copied in); shared
//      chunks keep one copy of every module, so classes are the same object across entry points.
// Throws (exit 1) on any failure; prints one line per step on stderr.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProto } from './build-proto.mjs';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
const DIST = path.join(ROOT, 'dist');

function declarations(log) {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!fs.existsSync(tsc)) throw new Error('typescript is not installed (node_modules/typescript); run `npm ci` first');
  const started = Date.now();
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${(result.stdout + result.stderr).trim()}`);
  // The generated code's own declarations, beside the compiled declarations that import them.
  for (const dir of [path.join(ROOT, 'proto', 'gen'), ...fs.readdirSync(path.join(ROOT, 'examples')).map((name) => path.join(ROOT, 'examples', name, 'gen'))]) {
    copyTree(dir, (name) => name.endsWith('.d.ts'));
  }
  log(`declarations of runtime/, actors/, examples/ in dist/ (tsc, ${Date.now() - started} ms)`);
}

/** Every entry point a process may load: the package's exports, the CLI, the examples' modules. */
function entryPoints() {
  const entries = ['runtime/index.ts', 'runtime/gcs/index.ts', 'runtime/tracing/index.ts', 'runtime/metrics/index.ts', 'runtime/testkit/index.ts', 'runtime/cache/index.ts', 'runtime/cli/main.ts'];
  for (const name of fs.readdirSync(path.join(ROOT, 'examples'))) {
    for (const file of ['topology.ts', 'main.ts', 'face-thread-entry.ts']) {
      if (fs.existsSync(path.join(ROOT, 'examples', name, file))) entries.push(`examples/${name}/${file}`);
    }
  }
  return entries;
}

async function bundle(log) {
  const started = Date.now();
  const esbuild = await import('esbuild');
  // Stale chunks from an earlier build would be shipped; the entry files are overwritten anyway.
  fs.rmSync(path.join(DIST, 'chunks'), { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: entryPoints(),
    outdir: 'dist',
    outbase: '.',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    sourcesContent: true,
    // Class names show in messages (an unregistered message's class) and in user code.
    keepNames: true,
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'warning',
    metafile: true,
  });
  const outputs = Object.keys(result.metafile.outputs).filter((file) => file.endsWith('.js'));
  log(`bundled ${entryPoints().length} entry points into dist/ (${outputs.length} files with chunks, esbuild, ${Date.now() - started} ms)`);
}

/** Copies the files under `from` that `wanted(name)` accepts to the same place under dist/. */
function copyTree(from, wanted) {
  if (!fs.existsSync(from)) return;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    if (entry.isDirectory()) copyTree(source, wanted);
    else if (wanted(entry.name) && !entry.name.startsWith('.')) {
      const target = path.join(DIST, path.relative(ROOT, source));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(source, target);
    }
  }
}

export async function build(log = (line) => console.error(`build: ${line}`)) {
  buildProto((line) => log(`proto ${line}`));
  declarations(log);
  await bundle(log);
}

if (process.argv[1] && path.resolve(process.argv[1]) === SCRIPT) {
  try {
    await build();
  } catch (err) {
    console.error(`build: ${err.message}`);
    process.exit(1);
  }
}
