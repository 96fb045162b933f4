/**
 * The embedded default `StateStore`: objects in a local directory, safe when several processes write
 * the same key at once.
 *
 * Layout under the store's directory:
 *
 *     objects/<encodeURIComponent(key)>/<generation>   one file per generation: 1, 2, 3, ...
 *     tmp/<pid>-<random>                               a generation being written
 *
 * The object's current state is its highest generation file. A write:
 *
 * 1. writes the new bytes to a file in `tmp/` and fsyncs it (a crash here leaves only a temp file);
 * 2. checks that the highest generation is still the expected one (none, for `"absent"`);
 * 3. publishes generation `expected + 1` (1 for `"absent"`) with `link(2)`, which fails with EEXIST when
 *    that name exists: of several writers that read the same generation, exactly one wins, the others
 *    get `GenerationConflictError`. A published file is complete the moment its name appears, so no
 *    reader ever sees a torn object, and a crash at any point leaves either the old or the new
 *    generation current. (`rename(2)` would not do: it silently replaces an existing target.)
 * 4. fsyncs the directory, removes its temp name and deletes superseded generations.
 *
 * Why step 2 and the retention time: deleting old generations frees their names, and a writer holding a
 * stale generation E would then succeed in linking a freed `E + 1` below the current generation. So a
 * generation is deleted only once its successor has existed for `retainSupersededMs` (default 60 s,
 * judged by the successor's ctime, which `link` sets). A writer passes step 2 only while E is the highest
 * generation, that is, before `E + 1` existed; `E + 1` can be freed only `retainSupersededMs` after `E + 2`
 * appeared, later still. So the link in step 3 can hit a freed name only if the writer stalls between
 * steps 2 and 3 (two adjacent system calls) for longer than the retention time. Readers take the
 * highest generation, and retry if it is deleted between listing and opening it (only possible after a
 * stall of the same length).
 *
 * Limits: one machine or a filesystem with POSIX `link` semantics (not NFS without care); keys that
 * differ only in case collide on case-insensitive filesystems; a key encodes to at most 255 bytes.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readdir, readFile, rm, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  GenerationConflictError,
  InvalidKeyError,
  validateExpected,
  validateKey,
  validatePrefix,
  type Expected,
  type StateStore,
  type StoredObject,
} from "./state-store.js";

export interface FileStoreOptions {
  /**
   * How long a superseded generation (and a leftover temp file) is kept before it is deleted. It bounds
   * how long a writer may stall between checking and publishing (see the header); default 60 000 ms.
   * Tests of clean-up may set 0, which is only safe with one writer per key.
   */
  readonly retainSupersededMs?: number;
  /** Fsync new generations and their directory before a write resolves; default true. */
  readonly fsync?: boolean;
  /** Wall-clock milliseconds, compared with file ctimes; default `Date.now`. */
  readonly now?: () => number;
}

export const DEFAULT_RETAIN_SUPERSEDED_MS = 60_000;

/** How often a read retries when the generation it listed was deleted before it could open it. */
const MAX_READ_ATTEMPTS = 100;
const MAX_FILE_NAME_BYTES = 255;

export class FileStore implements StateStore {
  readonly description: string;
  readonly directory: string;
  private readonly objectsDir: string;
  private readonly tmpDir: string;
  private readonly retainSupersededMs: number;
  private readonly fsync: boolean;
  private readonly now: () => number;
  private prepared: Promise<void> | undefined;
  private closed = false;

  constructor(directory: string, options: FileStoreOptions = {}) {
    this.directory = resolve(directory);
    this.description = pathToFileURL(this.directory).href;
    this.objectsDir = join(this.directory, "objects");
    this.tmpDir = join(this.directory, "tmp");
    this.retainSupersededMs = options.retainSupersededMs ?? DEFAULT_RETAIN_SUPERSEDED_MS;
    this.fsync = options.fsync ?? true;
    this.now = options.now ?? Date.now;
  }

  async read(key: string): Promise<StoredObject | undefined> {
    const dir = this.objectDir(key);
    for (let attempt = 1; ; attempt++) {
      const latest = (await generationsIn(dir)).at(-1);
      if (latest === undefined) return undefined;
      try {
        const bytes = await readFile(join(dir, String(latest)));
        return { bytes: new Uint8Array(bytes), generation: String(latest) };
      } catch (error) {
        // Deleted after being superseded between the listing and the open: list again.
        if (errorCode(error) !== "ENOENT" || attempt >= MAX_READ_ATTEMPTS) throw error;
      }
    }
  }

  async write(key: string, bytes: Uint8Array, expected: Expected): Promise<string> {
    const dir = this.objectDir(key);
    validateExpected(expected);
    const target = expected === "absent" ? 1n : BigInt(expected.generation) + 1n;
    await this.prepare();
    const temp = await this.writeTemp(bytes);
    try {
      const created = await mkdir(dir, { recursive: true });
      if (created !== undefined && this.fsync) await syncDirectory(this.objectsDir);
      const latest = (await generationsIn(dir)).at(-1);
      const holds = expected === "absent" ? latest === undefined : latest !== undefined && String(latest) === expected.generation;
      if (!holds) throw new GenerationConflictError(key, expected);
      try {
        await link(temp, join(dir, String(target)));
      } catch (error) {
        if (errorCode(error) === "EEXIST") throw new GenerationConflictError(key, expected);
        throw error;
      }
      if (this.fsync) await syncDirectory(dir);
    } finally {
      await rm(temp, { force: true });
    }
    await this.deleteSuperseded(dir);
    return String(target);
  }

  async list(prefix = ""): Promise<string[]> {
    this.checkOpen();
    validatePrefix(prefix);
    let names: string[];
    try {
      names = await readdir(this.objectsDir);
    } catch (error) {
      if (errorCode(error) === "ENOENT") return [];
      throw error;
    }
    const keys: string[] = [];
    for (const name of names) {
      const key = decodeName(name);
      // A key directory without generations is a create that lost its race or crashed: no object.
      if (key !== undefined && key.startsWith(prefix) && (await generationsIn(join(this.objectsDir, name))).length > 0) keys.push(key);
    }
    return keys.sort();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private objectDir(key: string): string {
    this.checkOpen();
    validateKey(key);
    const name = encodeURIComponent(key);
    const length = Buffer.byteLength(name);
    if (length > MAX_FILE_NAME_BYTES) {
      throw new InvalidKeyError(key, `the file store encodes it as a ${length}-byte file name, more than ${MAX_FILE_NAME_BYTES}`);
    }
    return join(this.objectsDir, name);
  }

  /** Creates the directories and, once per store, deletes temp files left by writers that crashed. */
  private prepare(): Promise<void> {
    this.prepared ??= (async () => {
      await mkdir(this.objectsDir, { recursive: true });
      await mkdir(this.tmpDir, { recursive: true });
      await this.deleteStaleTemps();
    })().catch((error: unknown) => {
      this.prepared = undefined; // try again on the next write
      throw error;
    });
    return this.prepared;
  }

  private async writeTemp(bytes: Uint8Array): Promise<string> {
    const path = join(this.tmpDir, `${process.pid}-${randomBytes(8).toString("hex")}`);
    const handle = await open(path, "wx");
    try {
      await handle.writeFile(bytes);
      if (this.fsync) await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(path, { force: true });
      throw error;
    }
    await handle.close();
    return path;
  }

  /**
   * Deletes every generation whose successor has existed for `retainSupersededMs`, oldest first; the
   * highest generation always stays. Best effort: what fails now is deleted by a later write.
   */
  private async deleteSuperseded(dir: string): Promise<void> {
    try {
      const generations = await generationsIn(dir);
      for (let i = 0; i + 1 < generations.length; i++) {
        // A successor deleted meanwhile was itself superseded long enough ago, so it is old too.
        const successor = await stat(join(dir, String(generations[i + 1]))).catch(() => undefined);
        // Successors are linked in order, so once one is too young, all later ones are too.
        if (successor && this.retainSupersededMs > 0 && this.now() - successor.ctimeMs < this.retainSupersededMs) break;
        await unlink(join(dir, String(generations[i]))).catch(ignoreMissing);
      }
    } catch {
      // Clean-up never fails a write that has already been published.
    }
  }

  private async deleteStaleTemps(): Promise<void> {
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const path = join(this.tmpDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && (this.retainSupersededMs <= 0 || this.now() - info.ctimeMs >= this.retainSupersededMs)) await unlink(path).catch(ignoreMissing);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.description}: state store is closed`);
  }
}

/** The generations present in a key's directory, ascending; none when the directory does not exist. */
async function generationsIn(dir: string): Promise<bigint[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return [];
    throw error;
  }
  return names
    .filter((name) => /^[1-9][0-9]*$/.test(name))
    .map((name) => BigInt(name))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch (error) {
    // Some platforms (Windows) cannot fsync a directory; the data itself was synced before publishing.
    if (!["EINVAL", "EPERM", "EISDIR", "EBADF"].includes(errorCode(error) ?? "")) throw error;
  } finally {
    await handle.close();
  }
}

function decodeName(name: string): string | undefined {
  try {
    return decodeURIComponent(name);
  } catch {
    return undefined;
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function ignoreMissing(error: unknown): void {
  if (errorCode(error) !== "ENOENT") throw error;
}
