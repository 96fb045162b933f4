// redis-server for the result cache's Redis tests (test/helpers/redis.ts starts one per test file on a
// free loopback port). Called by scripts/setup.mjs with --test only: `npm run demo` does not need it.
// Plain Node with no dependencies, like setup.mjs. Idempotent: finds the binary (REDIS_SERVER_BIN,
// PATH, /usr/bin, /usr/sbin), else installs Debian's `redis-server` with apt-get when running as root.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const NAME = 'redis-server';
const ENV_VAR = 'REDIS_SERVER_BIN';
const SKIPPED = 'the result cache tests against Redis will be skipped';

function isExecutable(p) {
  try {
    return fs.statSync(p).isFile() && (fs.accessSync(p, fs.constants.X_OK), true);
  } catch {
    return false;
  }
}

function findRedisServer() {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin', '/usr/sbin'];
  return dirs.map((dir) => path.join(dir, NAME)).find(isExecutable) ?? null;
}

function version(bin) {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000 });
  return /v=(\S+)/.exec(out.stdout ?? '')?.[1] ?? 'version unknown';
}

// `-qq`, non-interactive: apt's progress would bury setup's own lines; its errors still show.
function aptGet(args, log) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const result = spawnSync('apt-get', ['-qq', ...args], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (result.error) log(`could not run apt-get: ${result.error.message}`);
  return result.status === 0;
}

/**
 * Makes sure redis-server is there. Returns what is missing, in setup.mjs's shape (`{ tool: { name,
 * skipped }, problem, fix }`): an empty list when it is installed (or was installed just now).
 */
export function ensureRedisServer(log = (line) => console.error(`setup: ${line}`)) {
  const fromEnv = process.env[ENV_VAR];
  if (fromEnv) {
    if (isExecutable(fromEnv)) {
      log(`${NAME} ok: ${fromEnv} (${version(fromEnv)}, from ${ENV_VAR})`);
      return [];
    }
    return [{ tool: { name: NAME, skipped: SKIPPED }, problem: `${ENV_VAR}=${fromEnv} is not an executable file`, fix: `fix or unset ${ENV_VAR}` }];
  }
  const found = findRedisServer();
  if (found) {
    log(`${NAME} ok: ${found} (${version(found)})`);
    return [];
  }
  const fix = `apt-get install redis-server (as root), or put ${NAME} on PATH, or set ${ENV_VAR}`;
  if (process.getuid?.() !== 0 || !isExecutable('/usr/bin/apt-get')) {
    log(`${NAME} MISSING: not found, and installing it needs apt-get as root`);
    return [{ tool: { name: NAME, skipped: SKIPPED }, problem: 'not found', fix }];
  }
  log(`${NAME} (for the result cache's Redis tests) not found: installing the Debian package redis-server with apt-get (update, then install; a minute or so)`);
  const started = Date.now();
  if (!aptGet(['update'], log) || !aptGet(['install', '-y', '--no-install-recommends', 'redis-server'], log)) {
    log(`${NAME} MISSING: apt-get install redis-server failed (see above)`);
    return [{ tool: { name: NAME, skipped: SKIPPED }, problem: 'apt-get install redis-server failed', fix }];
  }
  // The package may start a system-wide server on port 6379; the tests never use it (they start
  // their own on free ports), so it is left as the package configured it.
  const installed = findRedisServer();
  if (!installed) return [{ tool: { name: NAME, skipped: SKIPPED }, problem: 'installed, but not found on PATH, /usr/bin or /usr/sbin', fix }];
  log(`${NAME} ok: ${installed} (${version(installed)}, installed in ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return [];
}
