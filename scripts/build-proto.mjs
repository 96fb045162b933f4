#!/usr/bin/env node
// Generates static JS + .d.ts from the .proto files with protobufjs-cli (pbjs/pbts).
//
//   proto/troupe/*.proto          -> proto/gen/troupe.js            (root "troupe")
//   proto/examples/X.proto        -> proto/gen/examples/X.js        (root "examples_X")
//   examples/<name>/*.proto       -> examples/<name>/gen/messages.js (root "example_<name>")
//
// Output folders are gitignored and never edited by hand. A set is skipped when its outputs are
// newer than every input, so this is cheap enough to run before every `npm test`.
//
// Usable as a CLI (`node scripts/build-proto.mjs`) or imported: `buildProto(log)` throws on failure.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
const CLI_DIR = path.join(ROOT, 'node_modules', 'protobufjs-cli');

const rel = (p) => path.relative(ROOT, p) || '.';
const mtime = (p) => fs.statSync(p).mtimeMs;

function protoFilesIn(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir)
    .filter((f) => f.endsWith('.proto'))
    .sort()
    .map((f) => path.join(dir, f));
}

// Every set's outputs also depend on this script and on the CLI version (its output format can
// change between releases), and example sets compile the troupe protos they import into their output.
function listSets() {
  const troupeProtos = protoFilesIn(path.join(ROOT, 'proto', 'troupe'));
  const common = [SCRIPT, path.join(CLI_DIR, 'package.json')];
  const sets = [];

  if (troupeProtos.length > 0) {
    sets.push({
      protos: troupeProtos,
      out: path.join(ROOT, 'proto', 'gen', 'troupe.js'),
      rootName: 'troupe',
      includes: ['proto'],
      inputs: [...common, ...troupeProtos],
    });
  }

  for (const file of protoFilesIn(path.join(ROOT, 'proto', 'examples'))) {
    const base = path.basename(file, '.proto');
    sets.push({
      protos: [file],
      out: path.join(ROOT, 'proto', 'gen', 'examples', `${base}.js`),
      rootName: `examples_${base.replace(/[^A-Za-z0-9]/g, '_')}`,
      includes: ['proto'],
      inputs: [...common, ...troupeProtos, file],
    });
  }

  const examplesDir = path.join(ROOT, 'examples');
  if (fs.existsSync(examplesDir)) {
    for (const entry of fs.readdirSync(examplesDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = path.join(examplesDir, entry.name);
      const protos = protoFilesIn(dir);
      if (protos.length === 0) continue;
      sets.push({
        protos,
        out: path.join(dir, 'gen', 'messages.js'),
        rootName: `example_${entry.name.replace(/[^A-Za-z0-9]/g, '_')}`,
        includes: ['proto', path.join('examples', entry.name)],
        inputs: [...common, ...troupeProtos, ...protos],
      });
    }
  }
  return sets;
}

const dtsOf = (js) => js.replace(/\.js$/, '.d.ts');

function isFresh(set) {
  const outs = [set.out, dtsOf(set.out)];
  if (!outs.every((p) => fs.existsSync(p))) return false;
  const oldestOut = Math.min(...outs.map(mtime));
  return set.inputs.every((p) => !fs.existsSync(p) || mtime(p) < oldestOut);
}

// Runs a protobufjs-cli bin script with the current node binary: no shell, no reliance on .bin shims.
function runCli(tool, args) {
  const result = spawnSync(process.execPath, [path.join(CLI_DIR, 'bin', tool), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    const detail = (result.stderr || result.stdout || String(result.error ?? '')).trim();
    throw new Error(`${tool} ${args.join(' ')} failed (exit ${result.status ?? result.signal}):\n${detail}`);
  }
}

function generate(set) {
  const outDir = path.dirname(set.out);
  fs.mkdirSync(outDir, { recursive: true });
  // Generate under temporary names and rename at the end, so a concurrent run (or a reader such as
  // the test runner) never sees a half-written file, and a failed run leaves no fresh-looking output.
  // The temp name must end in ".js": pbts hands it to jsdoc, which ignores other extensions.
  const tmpJs = path.join(outDir, `.${path.basename(set.out, '.js')}.${process.pid}.tmp.js`);
  const tmpDts = dtsOf(tmpJs);
  try {
    runCli('pbjs', [
      '-t', 'static-module', '-w', 'es6', '--no-beautify',
      '-r', set.rootName,
      ...set.includes.flatMap((p) => ['-p', p]),
      '-o', tmpJs,
      ...set.protos.map(rel),
    ]);
    runCli('pbts', ['-o', tmpDts, tmpJs]);
    // .d.ts first: freshness is judged by the older of the two outputs.
    fs.renameSync(tmpDts, dtsOf(set.out));
    fs.renameSync(tmpJs, set.out);
  } finally {
    fs.rmSync(tmpJs, { force: true });
    fs.rmSync(tmpDts, { force: true });
  }
}

// proto/gen/examples is entirely ours: drop outputs whose .proto was deleted or renamed, so stale
// generated types cannot keep compiling.
function removeOrphans(sets) {
  const dir = path.join(ROOT, 'proto', 'gen', 'examples');
  if (!fs.existsSync(dir)) return;
  const wanted = new Set(sets.flatMap((s) => [s.out, dtsOf(s.out)]));
  for (const f of fs.readdirSync(dir)) {
    const p = path.join(dir, f);
    if (/\.(js|d\.ts)$/.test(f) && !wanted.has(p)) fs.rmSync(p, { force: true });
  }
}

export function buildProto(log = (line) => console.error(`proto: ${line}`)) {
  if (!fs.existsSync(path.join(CLI_DIR, 'bin', 'pbjs'))) {
    throw new Error('protobufjs-cli is not installed (node_modules/protobufjs-cli); run `npm ci` first');
  }
  const sets = listSets();
  removeOrphans(sets);
  const stale = sets.filter((s) => !isFresh(s));
  if (stale.length === 0) {
    log(`up to date (${sets.length} set${sets.length === 1 ? '' : 's'})`);
    return;
  }
  for (const set of stale) {
    generate(set);
    log(`generated ${rel(set.out)} + .d.ts from ${set.protos.map(rel).join(', ')}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === SCRIPT) {
  try {
    buildProto();
  } catch (err) {
    console.error(`proto: ${err.message}`);
    process.exit(1);
  }
}
