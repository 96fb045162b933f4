#!/usr/bin/env node
// Idempotent setup, run first by `npm test`, `npm run demo` and `npm run bench`. Plain Node with no
// dependencies, because it runs before node_modules exists. Steps:
//   1. node_modules: `npm ci` when missing or older than package-lock.json
//   2. nats-server and fake-gcs-server: find them, else build them with `go install` into .tools/bin;
//      chromium (for the trace page test): find it, else install Debian's package
//   3. the package build (scripts/build.mjs): generated protobuf code, then dist/
//   4. with --test: Node 22 and 24 binaries for the packaging test (.tools/node22, .tools/node24, from
//      the npm package `node`), an OpenTelemetry Collector for the OTLP export test (built with Go),
//      redis-server for the result cache's Redis store and tmux for `troupe top` (Debian packages)
// The resolved server binaries are recorded in .tools/tools.json for the runtime and tests.
//
// Outside CI a missing server binary is only a warning (the tests that need it skip themselves);
// with CI=true it is an error, so CI can never go green by silently skipping integration tests.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS = path.join(ROOT, '.tools');
const TOOLS_BIN = path.join(TOOLS, 'bin');
const LOCK_DIR = path.join(TOOLS, '.lock');
const TOOLS_JSON = path.join(TOOLS, 'tools.json');
const IN_CI = process.env.CI === 'true';

// A `go install` takes a minute or two; a lock older than this belongs to a run that died without
// cleaning up (e.g. killed by a container stop), even if its pid now belongs to another process.
const STALE_LOCK_MS = 10 * 60 * 1000;

// Progress goes to stderr so that commands whose stdout is data (`npm run bench -- --json`) stay clean.
const log = (line) => console.error(`setup: ${line}`);
const rel = (p) => (p.startsWith(ROOT + path.sep) ? path.relative(ROOT, p) : p);

function mtimeOr(p, fallback) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return fallback;
  }
}

function isExecutable(p) {
  try {
    return fs.statSync(p).isFile() && (fs.accessSync(p, fs.constants.X_OK), true);
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.resolve(dir, name);
  }
  return null;
}

// Runs a command without a shell; returns true on exit code 0. `inherit` shows npm/go/apt progress.
function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (result.error) log(`could not run ${cmd}: ${result.error.message}`);
  return result.status === 0;
}

// ---------------------------------------------------------------------------------------------
// 1. node_modules

function ensureNodeModules() {
  const nodeModules = path.join(ROOT, 'node_modules');
  const lockfile = path.join(ROOT, 'package-lock.json');
  const hasLock = fs.existsSync(lockfile);
  // npm writes node_modules/.package-lock.json at the end of every install, so it is older than
  // package-lock.json exactly when the lockfile changed (git pull, branch switch) since then.
  const stale = !fs.existsSync(nodeModules)
    || (hasLock && mtimeOr(lockfile, 0) > mtimeOr(path.join(nodeModules, '.package-lock.json'), 0));
  if (!stale) {
    log('node_modules ok');
    return;
  }
  const args = hasLock ? ['ci'] : ['install'];
  log(`node_modules missing or older than package-lock.json: running npm ${args[0]}`);
  if (!run('npm', args)) {
    log(`npm ${args[0]} failed; fix the error above and run \`npm run setup\` again`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. server binaries

function goVersion(goBin) {
  const out = spawnSync(goBin, ['env', 'GOVERSION'], { encoding: 'utf8' });
  const match = /^go(\d+)\.(\d+)(?:\.(\d+))?/.exec((out.stdout ?? '').trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : null;
}

function versionAtLeast(parts, min) {
  for (let i = 0; i < 3; i++) {
    if (parts[i] !== min[i]) return parts[i] > min[i];
  }
  return true;
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function readLockPid() {
  try {
    return Number(fs.readFileSync(path.join(LOCK_DIR, 'pid'), 'utf8')) || 0;
  } catch {
    return 0;
  }
}

// mkdir is atomic, so a directory is a portable lock. It stops two setups started together (say
// `npm test` in two terminals) from running `go install` into the same GOBIN at once.
function withLock(fn) {
  fs.mkdirSync(TOOLS, { recursive: true });
  let waiting = false;
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const pid = readLockPid();
    const age = Date.now() - mtimeOr(LOCK_DIR, Date.now());
    // A lock without a pid file may be one that is being created right now; give it a moment.
    if (age > STALE_LOCK_MS || (pid && !processAlive(pid))) {
      log(`removing stale lock ${rel(LOCK_DIR)}${pid ? ` (pid ${pid})` : ''}`);
      fs.rmSync(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (!waiting) log(`waiting for another setup run (pid ${pid || '?'}) holding ${rel(LOCK_DIR)}`);
    waiting = true;
    sleep(1000);
  }
  try {
    fs.writeFileSync(path.join(LOCK_DIR, 'pid'), String(process.pid));
    return fn();
  } finally {
    fs.rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

function goInstall(tool, goBin) {
  return withLock(() => {
    // Another run may have built it while we waited for the lock.
    const target = path.join(TOOLS_BIN, tool.name);
    if (isExecutable(target)) return target;
    if (tool.build) return tool.build(goBin, target);
    log(`${tool.name}: compiling with \`go install ${tool.goPackage}\` into ${rel(TOOLS_BIN)} (takes about a minute)`);
    // go may copy the binary into GOBIN in place, so build into a private folder and rename it into
    // .tools/bin: a run that checks .tools/bin without the lock never sees a half-written binary.
    const gobin = path.join(TOOLS, `.gobin-${process.pid}`);
    fs.mkdirSync(TOOLS_BIN, { recursive: true });
    const started = Date.now();
    try {
      // `go install pkg@version` ignores any go.mod, so GOFLAGS=-mod=mod is not needed. GOPATH and
      // GOMODCACHE stay at their defaults so the module cache is shared with the rest of the machine.
      if (!run(goBin, ['install', tool.goPackage], { env: { ...process.env, GOBIN: gobin } })) return null;
      fs.renameSync(path.join(gobin, tool.name), target);
    } finally {
      fs.rmSync(gobin, { recursive: true, force: true });
    }
    log(`${tool.name}: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return isExecutable(target) ? target : null;
  });
}

// The OpenTelemetry Collector's core distribution is not a Go module of its own: it is built as the
// project builds its distributions, with its builder (ocb) and a manifest of the components to take.
function buildCollector(goBin, target) {
  const manifest = path.join(ROOT, 'scripts', 'otelcol-builder.yaml');
  log(`otelcol-troupe: building an OpenTelemetry Collector (core components, ${rel(manifest)}) with its builder ocb into ${rel(TOOLS_BIN)} (3-5 minutes on 2 cores with empty Go caches)`);
  const work = path.join(TOOLS, `.otelcol-${process.pid}`);
  fs.mkdirSync(TOOLS_BIN, { recursive: true });
  const started = Date.now();
  try {
    const gobin = path.join(work, 'bin');
    const env = { ...process.env, GOBIN: gobin };
    if (!run(goBin, ['install', 'go.opentelemetry.io/collector/cmd/builder@v0.165.0'], { env })) return null;
    // ocb writes its sources and the binary under output_path, relative to where it runs.
    if (!run(path.join(gobin, 'builder'), ['--config', manifest], { cwd: work, env })) return null;
    fs.renameSync(path.join(work, 'out', 'otelcol-troupe'), target);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  log(`otelcol-troupe: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return isExecutable(target) ? target : null;
}

// Last resort for nats-server when Go cannot build it: Debian's package (2.9.10, older but enough).
// Returns the binary, null when apt is not an option here, or false when the install failed.
function aptInstall(tool, whyNoGo) {
  const isRoot = process.getuid?.() === 0;
  const aptGet = onPath('apt-get');
  if (!tool.aptPackage || !isRoot || !aptGet) return null;
  log(`${tool.name}: not found and ${whyNoGo}; installing the Debian package ${tool.aptPackage} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!run(aptGet, ['update'], { env }) || !run(aptGet, ['install', '-y', tool.aptPackage], { env })) return false;
  return onPath(tool.name) ?? ['/usr/bin', '/usr/sbin'].map((d) => path.join(d, tool.name)).find(isExecutable) ?? false;
}

// Returns { path } on success or { problem, fix } when the binary could not be found or built.
function resolveTool(tool) {
  const fromEnv = process.env[tool.envVar];
  if (fromEnv) {
    // An explicit choice is never silently replaced by another binary. A bare name means "on PATH".
    const abs = fromEnv.includes('/') ? path.resolve(ROOT, fromEnv) : onPath(fromEnv);
    if (abs && isExecutable(abs)) return { path: abs };
    return { problem: `${tool.envVar}=${fromEnv} is not an executable file (a bare name is looked up on PATH)`, fix: `fix or unset ${tool.envVar}` };
  }

  const local = path.join(TOOLS_BIN, tool.name);
  if (isExecutable(local)) return { path: local };
  const found = onPath(tool.name);
  if (found) return { path: found };

  if (!tool.goPackage) {
    const fromApt = aptInstall(tool, 'it comes from Debian');
    if (fromApt) return { path: fromApt };
    return { problem: `not found${fromApt === false ? `, and apt-get install ${tool.aptPackage} failed` : ' (apt-get needs root)'}`, fix: `apt-get install ${tool.aptPackage}, or set ${tool.envVar}` };
  }
  const minGo = tool.minGo.join('.');
  const fix = `install Go >= ${minGo} (setup then builds it), or put ${tool.name} on PATH, or set ${tool.envVar}`;
  const goBin = onPath('go');
  const version = goBin && goVersion(goBin);
  if (version && versionAtLeast(version, tool.minGo)) {
    const built = goInstall(tool, goBin);
    // A failed build is reported as is rather than papered over with the older apt package.
    return built ? { path: built } : { problem: `go install ${tool.goPackage} failed (see the output above)`, fix };
  }

  const whyNoGo = goBin
    ? `Go ${version ? version.join('.') : '(unknown version)'} is too old to build it (needs Go >= ${minGo})`
    : 'Go is not installed to build it';
  const fromApt = aptInstall(tool, whyNoGo);
  if (fromApt) return { path: fromApt };
  const aptNote = fromApt === false ? `, and apt-get install ${tool.aptPackage} failed` : '';
  return { problem: `not found, ${whyNoGo}${aptNote}`, fix };
}

// nats-server prints its version; fake-gcs-server has no version flag, but Go binaries record their
// module version, which `go version -m` reads.
function describeVersion(bin) {
  const own = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (own.status === 0 && own.stdout.trim()) return own.stdout.trim().split('\n')[0];
  const goBin = onPath('go');
  if (goBin) {
    const info = spawnSync(goBin, ['version', '-m', bin], { encoding: 'utf8', timeout: 5000 });
    const mod = /^\s*mod\s+(\S+)\s+(\S+)/m.exec(info.stdout ?? '');
    if (mod) return `${mod[1]} ${mod[2]}`;
  }
  return 'version unknown';
}

const TOOL_SPECS = [
  {
    key: 'natsServer',
    name: 'nats-server',
    envVar: 'NATS_SERVER_BIN',
    goPackage: 'github.com/nats-io/nats-server/v2@v2.15.2',
    minGo: [1, 26, 0], // the `go` line of its go.mod
    aptPackage: 'nats-server', // Debian ships 2.9.10: old, but enough for the tests
    skipped: 'tests that need a NATS server (integration and multi-node tests) will be skipped, and `npm run demo` will not work',
  },
  {
    key: 'fakeGcsServer',
    name: 'fake-gcs-server',
    envVar: 'FAKE_GCS_SERVER_BIN',
    goPackage: 'github.com/fsouza/fake-gcs-server@v1.55.1',
    minGo: [1, 25, 8], // the `go` line of its go.mod
    aptPackage: null,
    skipped: 'tests of GCS-backed reducers will be skipped',
  },
  {
    key: 'chromium',
    name: 'chromium',
    envVar: 'CHROMIUM_BIN',
    goPackage: null,
    aptPackage: 'chromium', // for the test of the trace page in a real browser (playwright-core drives it)
    skipped: 'the test of the HTML trace page in headless Chromium will be skipped',
  },
  {
    key: 'otelcol',
    name: 'otelcol-troupe',
    envVar: 'OTELCOL_BIN',
    goPackage: 'go.opentelemetry.io/collector/cmd/builder@v0.165.0', // builds scripts/otelcol-builder.yaml
    build: buildCollector,
    minGo: [1, 26, 0], // the `go` line of the collector's go.mod
    aptPackage: null,
    testOnly: true, // only `npm test` (setup --test) builds it
    skipped: 'the test of OTLP export to a real OpenTelemetry Collector will be skipped',
  },
  {
    key: 'redisServer',
    name: 'redis-server',
    envVar: 'REDIS_SERVER_BIN',
    goPackage: null,
    aptPackage: 'redis-server', // the result cache's Redis store; tests start their own on free ports
    testOnly: true,
    skipped: 'the result cache tests against Redis will be skipped',
  },
  {
    key: 'tmux',
    name: 'tmux',
    envVar: 'TMUX_BIN',
    goPackage: null,
    aptPackage: 'tmux', // drives `troupe top` in a terminal in its test
    testOnly: true,
    skipped: 'the test of `troupe top` in a terminal will be skipped',
  },
];

function ensureTools(forTests) {
  const resolved = {};
  const missing = [];
  for (const tool of TOOL_SPECS) {
    if (tool.testOnly && !forTests) {
      // Not built here; what a test setup recorded stays recorded.
      resolved[tool.key] = readRecorded()[tool.key] ?? null;
      continue;
    }
    const result = resolveTool(tool);
    if (result.path) {
      resolved[tool.key] = result.path;
      log(`${tool.name} ok: ${result.path} (${describeVersion(result.path)})`);
    } else {
      resolved[tool.key] = null;
      missing.push({ tool, ...result });
      log(`${tool.name} MISSING: ${result.problem}`);
    }
  }

  // Rewritten only when it changes, so its mtime tells when the tool choice last changed.
  fs.mkdirSync(TOOLS, { recursive: true });
  const json = JSON.stringify(resolved, null, 2) + '\n';
  if (!fs.existsSync(TOOLS_JSON) || fs.readFileSync(TOOLS_JSON, 'utf8') !== json) {
    const tmp = `${TOOLS_JSON}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, json);
    fs.renameSync(tmp, TOOLS_JSON);
  }
  return missing;
}

function readRecorded() {
  try {
    return JSON.parse(fs.readFileSync(TOOLS_JSON, 'utf8'));
  } catch {
    return {};
  }
}

// ---------------------------------------------------------------------------------------------
// 3. the package build: generated protobuf code, then dist/ (the `troupe` bin runs compiled code)

async function ensureBuild() {
  const { build } = await import('./build.mjs');
  try {
    await build((line) => log(line));
  } catch (err) {
    log(`build failed: ${err.message}`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------
// 4. with --test: Node 22 and 24 binaries for the packaging test, from the npm package `node`
// (package.json `engines` names the majors the suite runs on: this machine's and these)

const OTHER_NODE_MAJORS = [22, 24];
const nodeBin = (major) => path.join(TOOLS, `node${major}`, 'node_modules', 'node', 'bin', 'node');

function nodeMajor(bin) {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return out.status === 0 ? Number(/^v(\d+)/.exec(out.stdout.trim())?.[1]) : undefined;
}

function ensureOtherNodes() {
  const missing = [];
  for (const major of OTHER_NODE_MAJORS) {
    const bin = nodeBin(major);
    if (!isExecutable(bin) || nodeMajor(bin) !== major) {
      const dir = path.dirname(path.dirname(path.dirname(path.dirname(bin))));
      log(`node ${major} (for the packaging test) missing: npm install node@${major} into ${rel(dir)}`);
      fs.mkdirSync(dir, { recursive: true });
      run('npm', ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', `node@${major}`]);
    }
    if (isExecutable(bin) && nodeMajor(bin) === major) log(`node ${major} ok: ${rel(bin)}`);
    else missing.push({ tool: { name: `node ${major}`, skipped: `the packaging test will not run on Node ${major}` }, problem: `npm install node@${major} failed`, fix: 'check access to the npm registry, then run setup again' });
  }
  return missing;
}

// ---------------------------------------------------------------------------------------------

ensureNodeModules();
const missing = ensureTools(process.argv.includes('--test'));
await ensureBuild();
if (process.argv.includes('--test')) missing.push(...ensureOtherNodes());

if (missing.length > 0) {
  for (const { tool, fix } of missing) {
    const prefix = IN_CI ? 'ERROR' : 'WARNING';
    log(`${prefix}: ${tool.name} is missing. To fix: ${fix}.`);
    if (!IN_CI) log(`${prefix}: without it, ${tool.skipped}.`);
  }
  if (IN_CI) {
    log('CI=true: refusing to continue with missing tools, since their tests would be silently skipped');
    process.exit(1);
  }
}
