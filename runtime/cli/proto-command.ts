import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative, resolve } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";
import { parseOptions, UsageError } from "./parse-options.js";
import { checkProtoFiles, ProtoFileError } from "./proto-check.js";
import { findProtobufCli } from "./protobuf-cli.js";
import { VERBS } from "./usage.js";

/** Troupe's own contracts: `import "troupe/address.proto";` resolves here. */
const TROUPE_PROTO = join(PACKAGE_ROOT, "proto");

/**
 * `troupe proto <file.proto...> --out DIR [--name NAME] [--root NAME] [-I DIR...]`: generates
 * DIR/NAME.js (an ES module of static protobufjs classes) and DIR/NAME.d.ts with pbjs and pbts.
 * Each output gets a protobufjs root of its own, so two generated modules never share one.
 */
export function protoCommand(args: string[]): number {
  const parsed = parseOptions(VERBS.proto, args);
  if (parsed === undefined) return 0;
  const { values, positionals: files } = parsed;
  if (values.out === undefined) throw new UsageError("--out DIR is required: the folder to write the generated code to", VERBS.proto);
  if (!/^[A-Za-z0-9_.-]+$/.test(values.name)) throw new UsageError(`--name must be a file name without a folder; got ${values.name}`, VERBS.proto);
  if (values.root !== undefined && !/^[A-Za-z0-9_$]+$/.test(values.root)) throw new UsageError(`--root must be letters, digits, '_' or '$'; got ${values.root}`, VERBS.proto);

  for (const file of files) {
    if (!existsSync(file)) return fail(`cannot read ${file}: no such file`);
    if (!statSync(file).isFile()) return fail(`cannot read ${file}: not a file`);
  }
  const userIncludes = values.path ?? [];
  for (const dir of userIncludes) if (!existsSync(dir)) return fail(`include folder ${dir} (-I) does not exist`);
  const includes = [...userIncludes, TROUPE_PROTO];

  const cli = findProtobufCli();
  try {
    checkProtoFiles(cli.protobuf(), files, includes);
  } catch (error) {
    if (error instanceof ProtoFileError) return fail(error.message);
    throw error;
  }

  const outDir = resolve(values.out);
  const out = join(outDir, `${values.name}.js`);
  const dts = join(outDir, `${values.name}.d.ts`);
  const rootName = values.root ?? defaultRootName(outDir, values.name);
  mkdirSync(outDir, { recursive: true });
  // Written under temporary names and renamed at the end, so a reader (a watching tsc, a test run)
  // never sees half a file and a failure leaves the previous output alone. pbts hands the file to
  // jsdoc, which ignores names that do not end in ".js".
  const tmpJs = join(outDir, `.${values.name}.${process.pid}.tmp.js`);
  const tmpDts = tmpJs.replace(/\.js$/, ".d.ts");
  try {
    cli.run("pbjs", ["-t", "static-module", "-w", "es6", "--no-beautify", "-r", rootName, ...includes.flatMap((dir) => ["-p", dir]), "-o", tmpJs, ...files], process.cwd());
    cli.run("pbts", ["-o", tmpDts, tmpJs], process.cwd());
    renameSync(tmpDts, dts);
    renameSync(tmpJs, out);
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  } finally {
    rmSync(tmpJs, { force: true });
    rmSync(tmpDts, { force: true });
  }
  console.log(`troupe proto: wrote ${shown(out)} and ${shown(dts)} (protobufjs root "${rootName}") from ${files.join(", ")}`);
  if (!resolvesProtobuf(outDir)) {
    console.error(`troupe proto: note: the generated code imports protobufjs, which is not installed where ${shown(out)} can find it: npm install protobufjs`);
  }
  return 0;
}

function fail(message: string): number {
  console.error(`troupe proto: ${message}`);
  return 1;
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}

/**
 * `<package name>_<output folder in the package>_<name>`, as one identifier: different for every
 * output of every package, so generated modules never register their types in the same root.
 */
export function defaultRootName(outDir: string, name: string): string {
  const packageDir = findPackageDir(outDir);
  const packageName = packageDir === undefined ? undefined : readPackageName(packageDir);
  const base = packageDir ?? process.cwd();
  const parts = [packageName ?? basename(base), relative(base, outDir), name];
  return parts.join("_").replace(/[^A-Za-z0-9_]+/g, "_").replace(/_+/g, "_").replace(/^_|_$/g, "") || "messages";
}

function findPackageDir(start: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function readPackageName(dir: string): string | undefined {
  try {
    const name = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown }).name;
    return typeof name === "string" ? name : undefined;
  } catch {
    return undefined;
  }
}

function resolvesProtobuf(outDir: string): boolean {
  try {
    createRequire(join(outDir, "index.js")).resolve("protobufjs/minimal.js");
    return true;
  } catch {
    return false;
  }
}
