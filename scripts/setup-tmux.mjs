// tmux for the test of `troupe top` (test/integration/top.test.ts drives it in a tmux pane, on a tmux
// server of its own). Called by scripts/setup.mjs with --test only: `npm run demo` does not need it.
// Plain Node with no dependencies, like setup.mjs. Idempotent: finds the binary (TMUX_BIN, PATH,
// /usr/bin), else installs Debian's `tmux` with apt-get when running as root.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const NAME = 'tmux';
const ENV_VAR = 'TMUX_BIN';
const SKIPPED = 'the test of `troupe top` in a terminal will be skipped';

function isExecutable(p) {
  try {
    return fs.statSync(p).isFile() && (fs.accessSync(p, fs.constants.X_OK), true);
  } catch {
    return false;
  }
}

function findTmux() {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin'];
  return dirs.map((dir) => path.join(dir, NAME)).find(isExecutable) ?? null;
}

function version(bin) {
  const out = spawnSync(bin, ['-V'], { encoding: 'utf8', timeout: 5000 });
  return (out.stdout ?? '').trim() || 'version unknown';
}

// `-qq`, non-interactive: apt's progress would bury setup's own lines; its errors still show.
function aptGet(args, log) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const result = spawnSync('apt-get', ['-qq', ...args], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (result.error) log(`could not run apt-get: ${result.error.message}`);
  return result.status === 0;
}

/**
 * Makes sure tmux is there. Returns what is missing, in setup.mjs's shape (`{ tool: { name, skipped },
 * problem, fix }`): an empty list when it is installed (or was installed just now).
 */
export function ensureTmux(log = (line) => console.error(`setup: ${line}`)) {
  const fromEnv = process.env[ENV_VAR];
  if (fromEnv) {
    if (isExecutable(fromEnv)) {
      log(`${NAME} ok: ${fromEnv} (${version(fromEnv)}, from ${ENV_VAR})`);
      return [];
    }
    return [{ tool: { name: NAME, skipped: SKIPPED }, problem: `${ENV_VAR}=${fromEnv} is not an executable file`, fix: `fix or unset ${ENV_VAR}` }];
  }
  const found = findTmux();
  if (found) {
    log(`${NAME} ok: ${found} (${version(found)})`);
    return [];
  }
  const fix = `apt-get install tmux (as root), or put ${NAME} on PATH, or set ${ENV_VAR}`;
  if (process.getuid?.() !== 0 || !isExecutable('/usr/bin/apt-get')) {
    log(`${NAME} MISSING: not found, and installing it needs apt-get as root`);
    return [{ tool: { name: NAME, skipped: SKIPPED }, problem: 'not found', fix }];
  }
  log(`${NAME} (for the test of \`troupe top\`) not found: installing the Debian package tmux with apt-get (update, then install)`);
  const started = Date.now();
  if (!aptGet(['update'], log) || !aptGet(['install', '-y', '--no-install-recommends', 'tmux'], log)) {
    log(`${NAME} MISSING: apt-get install tmux failed (see above)`);
    return [{ tool: { name: NAME, skipped: SKIPPED }, problem: 'apt-get install tmux failed', fix }];
  }
  const installed = findTmux();
  if (!installed) return [{ tool: { name: NAME, skipped: SKIPPED }, problem: 'installed, but not found on PATH or /usr/bin', fix }];
  log(`${NAME} ok: ${installed} (${version(installed)}, installed in ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return [];
}
