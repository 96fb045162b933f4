import { existsSync, readFileSync } from "node:fs";
import type { Root } from "protobufjs";

type Protobuf = typeof import("protobufjs");

/** A problem in the .proto files, as `file:line: what` when the place is known. */
export class ProtoFileError extends Error {
  override readonly name = "ProtoFileError";
}

/**
 * Loads the .proto files as pbjs will (same resolution of imports: beside the importing file, then
 * each include folder) and throws a ProtoFileError that names the file and line of the first problem:
 * a syntax error, an import that is not found, a type that does not exist. pbjs alone reports a
 * syntax error with a line but no file, and a missing import with neither.
 */
export function checkProtoFiles(protobuf: Protobuf, files: readonly string[], includes: readonly string[]): void {
  const root = new protobuf.Root();
  const notFound = new Map<string, { origin: string; target: string }>();
  root.resolvePath = (origin: string, target: string): string => {
    const resolved = resolveImport(protobuf, origin, target, includes);
    if (!existsSync(resolved)) notFound.set(resolved, { origin, target });
    return resolved;
  };
  const parse = protobuf.parse as typeof protobuf.parse & { filename: string | null };
  parse.filename = null;
  try {
    root.loadSync([...files]);
  } catch (error) {
    // Set while a file is parsed and left set when its tokenizer fails, so it names that file.
    const parsing = parse.filename;
    throw new ProtoFileError(describe(error, parsing, notFound, includes, root));
  } finally {
    parse.filename = null;
  }
}

// The same search as pbjs's own resolvePath (protobufjs-cli 2.x), so the check and pbjs agree.
function resolveImport(protobuf: Protobuf, origin: string, target: string, includes: readonly string[]): string {
  const path = protobuf.util.path;
  let resolved = path.resolve(path.normalize(origin), path.normalize(target), true);
  const wellKnown = resolved.lastIndexOf("google/protobuf/");
  if (wellKnown > -1 && resolved.substring(wellKnown) in protobuf.common) resolved = resolved.substring(wellKnown);
  if (existsSync(resolved)) return resolved;
  for (const include of includes) {
    const candidate = path.resolve(`${include}/`, target);
    if (existsSync(candidate)) return candidate;
  }
  return resolved;
}

function describe(error: unknown, parsing: string | null, notFound: ReadonlyMap<string, { origin: string; target: string }>, includes: readonly string[], root: Root): string {
  const message = error instanceof Error ? error.message : String(error);
  const missing = (error as { code?: unknown; path?: unknown }).code === "ENOENT" ? String((error as { path?: unknown }).path) : undefined;
  if (missing !== undefined) {
    const from = notFound.get(missing);
    if (from === undefined || from.origin === "") return `cannot read ${missing}: no such file`;
    const line = lineOf(from.origin, (text) => text.includes(`"${from.target}"`) || text.includes(`'${from.target}'`));
    return `${at(from.origin, line)}: import "${from.target}" not found (looked beside the file and in ${includes.join(", ")}; add a folder with -I)`;
  }
  // Syntax errors end with "(line N)" or "(file, line N)".
  const syntax = /^([\s\S]*?) \((?:(.+), )?line (\d+)\)$/.exec(message);
  if (syntax) return `${at(syntax[2] ?? parsing ?? "?", Number(syntax[3]))}: ${syntax[1]}`;
  if (parsing !== null) return `${parsing}: ${message}`;
  // Resolution errors ("no such Type or Enum 'X' in Type .a.B", "no such type: X") name no file.
  const name = /'([^']+)'/.exec(message)?.[1] ?? /no such type: (\S+)/.exec(message)?.[1];
  if (name !== undefined) {
    const word = new RegExp(`(^|[^\\w.])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`);
    for (const file of root.files) {
      const line = lineOf(file, (text) => word.test(text.replace(/\/\/.*$/, "")));
      if (line !== undefined) return `${at(file, line)}: ${message}`;
    }
  }
  return message;
}

function at(file: string, line: number | undefined): string {
  return line === undefined ? file : `${file}:${line}`;
}

/** The 1-based number of the first line of `file` that matches, if the file can be read. */
function lineOf(file: string, matches: (line: string) => boolean): number | undefined {
  try {
    const index = readFileSync(file, "utf8").split("\n").findIndex(matches);
    return index === -1 ? undefined : index + 1;
  } catch {
    return undefined;
  }
}
